"""`ManageApiTransport`: the Manage GHES API (`/manage/v1` on port 8443) over httpx.

Facts it rests on (docs/reference/ghes-facts.md §3, manage-ghes.md): HTTP Basic `api_key:<root site
admin password>`; settings are one top-level JSON document (`GET/PUT /config/settings`, PUT takes
only the fields to change and does not apply); `POST /config/apply {"run_id"}` starts a run,
`GET /config/apply?run_id=` reports `{running, successful, nodes}`, `GET /config/apply/events`
streams its events; `GET /version` says what the appliance is. The field names come from
`facts.SETTINGS` (`api_field`), never from here.

Habits:
- the client comes from `httpclient.make_client`: TLS always verified (`--ca-file` adds a CA),
  names resolved through the run's resolver while SNI and the certificate keep the real name;
- idempotent calls (GET, PUT settings) are retried with exponential backoff on connection
  errors and 502/503/504 (Retry-After honoured, capped); `POST config/apply` is never retried
  blindly: after an ambiguous failure the run id is looked up first, and only a run the
  appliance does not know is started again;
- 401/403 -> `AuthenticationFailed` (exit 4) with a hint; a 4xx on PUT -> `SettingsRejected`;
  answers we cannot read -> `ApplianceResponseError`. No message ever carries the password
  (`secrets.scrub` is the last line of defence).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from ghes_setup import facts
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplyEvent,
    ApplyRun,
    ApplyStatus,
    EventBatch,
    Settings,
    SettingsRejected,
    SettingValue,
    TransportBase,
    check_run_id,
    decode_api,
    encode_api,
    spec,
)
from ghes_setup.errors import (
    ApplianceResponseError,
    AuthenticationFailed,
    RefusedTarget,
    Unreachable,
    UnsupportedVersion,
)
from ghes_setup.facts import GhesVersion
from ghes_setup.httpclient import describe, make_client
from ghes_setup.net import AddressResolver
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.secrets import Secret, scrub

API_USER: Final = "api_key"  # manage-ghes.md: Basic auth user for the root site admin password
RETRY_STATUSES: Final = frozenset({502, 503, 504})
MAX_RETRY_AFTER_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class ApiOptions:
    host: str
    port: int = facts.MANAGE_API_PORT
    ca_file: Path | None = None
    timeout: float = 10.0
    retries: int = 4  # extra attempts for idempotent calls
    backoff_s: float = 0.25  # first wait; doubles each time
    max_backoff_s: float = 4.0

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}/manage/v1"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class _Ambiguous(Exception):
    """A non-idempotent request may or may not have reached the appliance (internal)."""


class ManageApiTransport(TransportBase):
    """`ApplianceTransport` over the Manage API. Thread-safe (httpx clients are)."""

    def __init__(
        self,
        options: ApiOptions,
        password: Secret,
        *,
        resolver: AddressResolver | None = None,
        client: httpx.Client | None = None,
        progress: ProgressSink | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self._password = password
        self._client = client or make_client(
            resolver=resolver,
            ca_file=options.ca_file,
            timeout=options.timeout,
            base_url=options.base_url,
        )
        self._auth = httpx.BasicAuth(API_USER, password.reveal())
        self._progress = progress or NullProgress()
        self._sleep = sleep
        self._events_supported = True
        self.requests = 0  # requests sent (for tests)
        self.retried = 0  # retries made (for tests and progress)
        self.last_run_id: str | None = None

    @property
    def name(self) -> str:
        return "api"

    def supports(self, setting: str) -> bool:
        return spec(setting).api_field is not None

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ HTTP plumbing
    def _send(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        self.requests += 1
        return self._client.request(method, path, json=json, params=params, auth=self._auth)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries (idempotent calls only). Returns any non-retryable response;
        raises `Unreachable` after the last attempt, `_Ambiguous` for a non-idempotent call
        whose fate is unknown, `AuthenticationFailed` on 401/403."""
        attempts = 1 + self.options.retries
        operation = f"{method} {self.options.base_url}{path}"
        for attempt in range(1, attempts + 1):
            try:
                response = self._send(method, path, json=json, params=params)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing was sent: safe to try again, even for a POST.
                if attempt < attempts:
                    self._wait(attempt, None, f"cannot connect ({describe(exc)})")
                    continue
                raise self._unreachable(operation, exc) from None
            except httpx.TransportError as exc:  # sent; its fate is unknown
                if not idempotent:
                    raise _Ambiguous(describe(exc)) from None
                if attempt < attempts:
                    self._wait(attempt, None, describe(exc))
                    continue
                raise self._unreachable(operation, exc) from None
            if response.status_code in RETRY_STATUSES:
                if not idempotent:
                    raise _Ambiguous(f"HTTP {response.status_code}")
                if attempt < attempts:
                    self._wait(attempt, response, f"HTTP {response.status_code}")
                    continue
                raise ApplianceResponseError(
                    f"{operation}: HTTP {response.status_code} after {attempts} attempts",
                    hint="the Manage API is unavailable; check the appliance (ghe-service-list)",
                )
            self._check_auth(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, response: httpx.Response | None, reason: str) -> None:
        delay = min(self.options.backoff_s * 2 ** (attempt - 1), self.options.max_backoff_s)
        if response is not None:
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                delay = min(float(retry_after), MAX_RETRY_AFTER_S)
        self.retried += 1
        self._progress.log(f"Manage API: {scrub(reason)}; retrying in {delay:.2g} s")
        self._sleep(delay)

    def _unreachable(self, operation: str, exc: httpx.HTTPError) -> Unreachable:
        hint = "check the address, that TCP 8443 is open, and --resolve/--nameserver"
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            hint = "pass the appliance's CA with --ca-file (site: [connection] ca_file)"
        return Unreachable(f"{operation}: {scrub(describe(exc))}", hint=hint)

    def _check_auth(self, response: httpx.Response) -> None:
        if response.status_code == 401:
            raise AuthenticationFailed(
                f"the Manage API at {self.options.where} refused the admin password "
                f"(HTTP 401, password from {self._password.source})",
                hint="set GHES_SETUP_ADMIN_PASSWORD (or --password-file/--password-stdin) to "
                "the root site administrator password",
            )
        if response.status_code == 403:
            raise AuthenticationFailed(
                f"the Manage API at {self.options.where} denied access (HTTP 403): "
                f"{_message(response)}",
                hint="too many failed logins lock the Management Console; unlock it with "
                "ghe-reactivate-admin-login in the admin shell",
            )

    def _json(self, response: httpx.Response, what: str) -> Any:
        if response.status_code == 404:
            raise UnsupportedVersion(
                f"the Manage API at {self.options.where} has no {what} "
                f"(HTTP 404 for {response.request.url.path}); GHES before "
                f"{facts.MANAGE_API_SINCE}?",
                hint="the Manage API needs GHES 3.12 or later; use --transport ssh",
            )
        if response.status_code >= 400:
            raise ApplianceResponseError(
                f"Manage API {what}: HTTP {response.status_code}: {_message(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise ApplianceResponseError(
                f"Manage API {what}: the answer is not JSON (HTTP {response.status_code})",
                hint="is port 8443 really the Management Console?",
            ) from None

    # ------------------------------------------------------------------ identify
    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        versions = self._json(self._request("GET", "/version"), "version endpoint")
        try:
            first = versions[0]
            node_host = first.get("hostname")
            raw = first["version"]
            version = GhesVersion.parse(str(raw["version"]))
        except (KeyError, IndexError, TypeError, ValueError):
            raise ApplianceResponseError(
                f"GET /manage/v1/version at {self.options.where}: unexpected answer "
                f"{scrub(str(versions))[:120]}"
            ) from None
        topology, is_replica = "SingleNode", False
        response = self._request("GET", "/config/nodes")
        if response.status_code != 404:
            nodes = self._json(response, "nodes endpoint")
            try:
                topology = str(nodes.get("topology") or topology)
                entries = nodes.get("nodes") or []
                mine = [n for n in entries if n.get("hostname") == node_host] or entries[:1]
                is_replica = bool(mine and mine[0].get("replica"))
            except AttributeError:
                raise ApplianceResponseError(
                    f"GET /manage/v1/config/nodes at {self.options.where}: unexpected answer"
                ) from None
        return ApplianceInfo(
            version=version,
            via=self.name,
            hostname=None,
            platform=raw.get("platform"),
            build=raw.get("build_id"),
            is_replica=is_replica,
            topology=topology,
        )

    # ------------------------------------------------------------------ settings
    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        wanted = list(names) if names is not None else [s.name for s in facts.SETTINGS]
        if names is None:
            wanted = [n for n in wanted if self.supports(n)]
        self._require_fields(wanted)
        document = self._json(self._request("GET", "/config/settings"), "settings endpoint")
        if not isinstance(document, dict):
            raise ApplianceResponseError("GET /manage/v1/config/settings: not a JSON object")
        values: dict[str, SettingValue] = {}
        for name in wanted:
            path = spec(name).api_field
            assert path is not None
            node: Any = document
            for part in path.split("."):
                if not isinstance(node, dict) or part not in node:
                    raise ApplianceResponseError(
                        f"GET /manage/v1/config/settings at {self.options.where} has no field "
                        f"{path}",
                        hint="the appliance's settings schema differs from the documented one",
                    )
                node = node[part]
            values[name] = decode_api(name, node)
        return Settings(values)

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        if not changes:
            return
        self._require_fields(list(changes))
        body: dict[str, Any] = {}
        for name, value in changes.items():
            path = spec(name).api_field
            assert path is not None
            *parents, leaf = path.split(".")
            node = body
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = encode_api(name, value)
        response = self._request("PUT", "/config/settings", json=body)
        if response.status_code in (200, 201, 202, 204):
            return
        if response.status_code in (400, 409, 422):
            raise SettingsRejected(
                f"the Manage API refused the settings (HTTP {response.status_code}): "
                f"{_message(response)}; nothing was changed",
                hint="fix the value in the site file and run the command again",
            )
        self._json(response, "settings endpoint")  # raises with the status
        raise ApplianceResponseError(f"PUT /manage/v1/config/settings: HTTP {response.status_code}")

    def _require_fields(self, names: list[str]) -> None:
        missing = [n for n in names if not self.supports(n)]
        if missing:
            raise SettingsRejected(
                f"the Manage API has no field for {', '.join(missing)}",
                hint="use --transport ssh or auto with an SSH key (ghe-config sets these)",
            )

    # ------------------------------------------------------------------ config apply
    def start_apply(self, run_id: str) -> ApplyRun:
        check_run_id(run_id)
        for _ in range(1 + self.options.retries):
            try:
                response = self._request(
                    "POST", "/config/apply", json={"run_id": run_id}, idempotent=False
                )
            except _Ambiguous as exc:
                # Never start twice: ask whether the first attempt got through.
                self._progress.log(f"Manage API: POST config/apply ambiguous ({exc}); checking")
                status = self.apply_status(run_id)
                if status.known:
                    self.last_run_id = run_id
                    return ApplyRun(run_id, self.name)
                self._wait(1, None, "the configuration run did not start")
                continue
            if response.status_code == 409:
                raise RefusedTarget(
                    f"a configuration run is already in progress on {self.options.where} "
                    f"({_message(response)})",
                    hint="wait for it to finish (ghes-setup config show), then run again",
                )
            data = self._json(response, "config apply endpoint")
            started = data.get("run_id") if isinstance(data, dict) else None
            self.last_run_id = str(started or run_id)
            return ApplyRun(self.last_run_id, self.name)
        raise ApplianceResponseError(
            f"POST /manage/v1/config/apply at {self.options.where} did not start a run after "
            f"{1 + self.options.retries} attempts",
            hint="check the appliance's Manage API (ghe-service-list) and try again",
        )

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        rid = run_id or self.last_run_id
        params = {"run_id": rid} if rid else None
        response = self._request("GET", "/config/apply", params=params)
        if response.status_code == 404 and rid:
            return ApplyStatus(rid, running=False, successful=False, known=False)
        data = self._json(response, "config apply endpoint")
        try:
            nodes = data.get("nodes") or []
            running = bool(data["running"])
            successful = bool(data["successful"])
        except (AttributeError, KeyError, TypeError):
            raise ApplianceResponseError(
                f"GET /manage/v1/config/apply at {self.options.where}: expected running, "
                "successful and nodes"
            ) from None
        ids = {str(n.get("run_id")) for n in nodes if isinstance(n, dict) and n.get("run_id")}
        known = (rid in ids) if rid and ids else bool(nodes) or running
        return ApplyStatus(rid or next(iter(ids), None), running, successful, known=known)

    def apply_events(self, since: str | None = None) -> EventBatch:
        if not self._events_supported:
            return EventBatch((), since)
        params = {"last_request_id": since} if since else None
        response = self._request("GET", "/config/apply/events", params=params)
        if response.status_code == 404:
            # introduction version UNVERIFIED (docs/reference/ghes-facts.md §3.3)
            self._events_supported = False
            return EventBatch((), since)
        data = self._json(response, "config apply events endpoint")
        events: list[ApplyEvent] = []
        cursor = since
        try:
            nodes = data.get("nodes") or []
            for node in nodes:
                cursor = str(node.get("last_request_id") or cursor or "") or None
                prefix = f"{node.get('node')}: " if len(nodes) > 1 and node.get("node") else ""
                for event in node.get("events") or []:
                    run = event.get("config_run_id")
                    if run and self.last_run_id and run != self.last_run_id:
                        continue
                    events.append(
                        ApplyEvent(
                            body=prefix + scrub(str(event.get("body", ""))),
                            severity=str(event.get("severity_text") or "INFO"),
                            timestamp=event.get("timestamp"),
                        )
                    )
        except AttributeError:
            raise ApplianceResponseError(
                "GET /manage/v1/config/apply/events: unexpected answer"
            ) from None
        return EventBatch(tuple(events), cursor)


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return scrub(response.text.strip()[:200]) or response.reason_phrase
    if isinstance(data, dict):
        for key in ("message", "error", "errors"):
            if data.get(key):
                return scrub(str(data[key]))[:300]
    return scrub(str(data))[:200]
