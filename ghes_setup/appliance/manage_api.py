"""`ManageApiTransport`: the Manage GHES API (`/manage/v1` on port 8443) over httpx.

Facts it rests on (the REST docs page "Manage GHES" and its OpenAPI description, vendored in
tests/contract/descriptions/): HTTP Basic `api_key:<root site admin password>`; port 8443
with TLS, or 8080 without (docs "Network ports"); settings are one top-level JSON document
(`GET/PUT /config/settings`). The PUT description says fields left out "will be unmodified or
populated from the default values", so an object we touch (`github_ssl`) is always sent WHOLE,
its untouched fields copied from a fresh GET: a partial object could reset a sibling (the
certificate's key) to its default. `POST /config/apply {"run_id"}` answers 200 `{run_id}`;
the description lists no 409 or 404, so "a run is already going" is read from
`GET /config/apply` (`running`) before starting, and "unknown run" is its documented 400.
`GET /config/apply?run_id=` reports `{running, successful, nodes[]}`: a run succeeded only when
every node says so. `GET /config/apply/events` answers per node, each node with its own
`last_request_id` cursor: one cursor is kept per node. `GET /config/nodes` gives the topology
(SingleNode, Ha, Cluster) and which node is a replica. The field names come from
`facts.SETTINGS` (`api_field`), never from here.

Requests go through `manage_session.ManageApiSession` (TLS always verified, retries with
backoff for idempotent calls only, 401/403 as `AuthenticationFailed`). `POST config/apply` is
never retried blindly: after an ambiguous failure the run id is looked up first, and only a
run the appliance does not know is started again. A 4xx on PUT -> `SettingsRejected`; answers
we cannot read -> `ApplianceResponseError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ghes_setup import facts
from ghes_setup.appliance.manage_session import Ambiguous, ApiOptions, ManageApiSession, message
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
    RefusedTarget,
)
from ghes_setup.facts import GhesVersion
from ghes_setup.secrets import scrub


class ManageApiTransport(TransportBase):
    """`ApplianceTransport` over the Manage API. Thread-safe (httpx clients are)."""

    def __init__(self, session: ManageApiSession) -> None:
        self.session = session
        self._events_supported = True
        self.last_run_id: str | None = None

    @property
    def options(self) -> ApiOptions:
        return self.session.options

    @property
    def name(self) -> str:
        return "api"

    def supports(self, setting: str) -> bool:
        return spec(setting).api_field is not None

    def close(self) -> None:
        self.session.close()

    # ------------------------------------------------------------------ identify
    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        versions = self.session.json(self.session.request("GET", "/version"), "version endpoint")
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
        topology, is_replica, primary = "SingleNode", False, None
        response = self.session.request("GET", "/config/nodes")
        if response.status_code != 404:
            nodes = self.session.json(response, "nodes endpoint")
            try:
                topology = str(nodes.get("topology") or topology)
                entries = [n for n in nodes.get("nodes") or [] if isinstance(n, dict)]
                # The node we talk to: named like the site's host or like /version's answer.
                mine = (
                    [n for n in entries if n.get("hostname") == self.options.host]
                    or [n for n in entries if n.get("hostname") == node_host]
                    or entries[:1]
                )
                is_replica = bool(mine and mine[0].get("replica"))
                primaries = [str(n["hostname"]) for n in entries if not n.get("replica")]
                primary = primaries[0] if len(primaries) == 1 and is_replica else None
            except (AttributeError, KeyError):
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
            primary=primary,
        )

    def maintenance(self) -> bool | None:
        """Maintenance mode on any node (`GET /manage/v1/maintenance`); None if unreadable."""
        response = self.session.request("GET", "/maintenance")
        if response.status_code != 200:
            return None
        try:
            return _maintenance_state(response.json())
        except ValueError:
            return None

    def get_document(self, path: str) -> tuple[int, Any]:
        """A read-only `GET /manage/v1{path}`: its status and JSON body (None when not JSON).
        For `ghes-setup capture`, which records answers as they are; retried like every GET,
        401/403 raise `AuthenticationFailed`."""
        response = self.session.request("GET", path)
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    # ------------------------------------------------------------------ settings
    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        wanted = list(names) if names is not None else [s.name for s in facts.SETTINGS]
        if names is None:
            wanted = [n for n in wanted if self.supports(n)]
        self._require_fields(wanted)
        document = self._settings_document()
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
        current: dict[str, Any] | None = None
        for name, value in changes.items():
            path = spec(name).api_field
            assert path is not None
            *parents, leaf = path.split(".")
            if parents and current is None:
                # PUT "populates from the default values" what it is not given: an object
                # goes whole, its other fields as the appliance has them now.
                current = self._settings_document()
            node = body
            seen: Any = current
            for part in parents:
                seen = seen.get(part) if isinstance(seen, dict) else None
                if part not in node:
                    node[part] = dict(seen) if isinstance(seen, dict) else {}
                node = node[part]
            node[leaf] = encode_api(name, value)
        response = self.session.request("PUT", "/config/settings", json=body)
        if response.status_code in (200, 201, 202, 204):
            return
        if response.status_code in (400, 409, 422):
            raise SettingsRejected(
                f"the Manage API refused the settings (HTTP {response.status_code}): "
                f"{message(response)}; nothing was changed",
                hint="fix the value in the site file and run the command again",
            )
        self.session.json(response, "settings endpoint")  # raises with the status
        raise ApplianceResponseError(f"PUT /manage/v1/config/settings: HTTP {response.status_code}")

    def _settings_document(self) -> dict[str, Any]:
        response = self.session.request("GET", "/config/settings")
        document = self.session.json(response, "settings endpoint")
        if not isinstance(document, dict):
            raise ApplianceResponseError("GET /manage/v1/config/settings: not a JSON object")
        return document

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
        # The description lists 200, 400 and 401 for POST config/apply, nothing for "busy":
        # whether a run is going is the documented `running` of GET config/apply, asked first.
        busy = self._apply_document(None)
        if busy is not None and _running(busy):
            going = ", ".join(sorted({str(n["run_id"]) for n in _nodes(busy) if n.get("run_id")}))
            raise RefusedTarget(
                f"a configuration run is already in progress on {self.options.where}"
                + (f" (run {going})" if going else ""),
                hint="wait for it to finish (ghes-setup config show), then run again",
            )
        for _ in range(1 + self.options.retries):
            try:
                response = self.session.request(
                    "POST", "/config/apply", json={"run_id": run_id}, idempotent=False
                )
            except Ambiguous as exc:
                # Never start twice: ask whether the first attempt got through.
                self.session.progress.log(
                    f"Manage API: POST config/apply ambiguous ({exc}); checking"
                )
                status = self.apply_status(run_id)
                if status.known:
                    self.last_run_id = run_id
                    return ApplyRun(run_id, self.name)
                self.session.wait(1, None, "the configuration run did not start")
                continue
            if response.status_code == 400:
                raise ApplianceResponseError(
                    f"the Manage API refused to start configuration run {run_id} (HTTP 400): "
                    f"{message(response)}",
                    hint="check the appliance (ghes-setup config show) and run again",
                )
            data = self.session.json(response, "config apply endpoint")
            started = data.get("run_id") if isinstance(data, dict) else None
            self.last_run_id = str(started or run_id)
            return ApplyRun(self.last_run_id, self.name)
        raise ApplianceResponseError(
            f"POST /manage/v1/config/apply at {self.options.where} did not start a run after "
            f"{1 + self.options.retries} attempts",
            hint="check the appliance's Manage API (ghe-service-list) and try again",
        )

    def _apply_document(self, run_id: str | None) -> dict[str, Any] | None:
        """GET config/apply; None when the appliance does not know `run_id` (its 400)."""
        params = {"run_id": run_id} if run_id else None
        response = self.session.request("GET", "/config/apply", params=params)
        # "Bad request" is the documented answer for a run id the appliance does not know.
        # A 404 is not in the description; an appliance that sends one means the same.
        if run_id and response.status_code in (400, 404):
            return None
        data = self.session.json(response, "config apply endpoint")
        if not isinstance(data, dict) or "running" not in data or "successful" not in data:
            raise ApplianceResponseError(
                f"GET /manage/v1/config/apply at {self.options.where}: expected running, "
                "successful and nodes"
            )
        return data

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        rid = run_id or self.last_run_id
        data = self._apply_document(rid)
        if data is None:
            return ApplyStatus(rid, running=False, successful=False, known=False)
        nodes = _nodes(data)
        running = _running(data)
        # A run has succeeded only when every node says so (HA and cluster run it per node).
        successful = bool(data["successful"]) and all(bool(n.get("successful")) for n in nodes)
        ids = {str(n["run_id"]) for n in nodes if n.get("run_id")}
        known = (rid in ids) if rid and ids else bool(nodes) or running
        detail = None
        if not running and not successful:
            failed = [str(n.get("hostname") or "?") for n in nodes if not n.get("successful")]
            if failed:
                detail = f"failed on node {', '.join(failed)}" if len(nodes) > 1 else None
        return ApplyStatus(
            rid or next(iter(sorted(ids)), None), running, successful, known=known, detail=detail
        )

    def apply_events(self, since: str | None = None) -> EventBatch:
        """Events after `since`, a cursor that holds one `last_request_id` per node.

        The description's `last_request_id` is "the unique ID of the last response from a
        host": one request per node that has a cursor, keeping that node's answer only; nodes
        without a cursor yet come from one request without it. No node's events are skipped
        or repeated."""
        if not self._events_supported:
            return EventBatch((), since)
        cursors = _decode_cursors(since)
        answers: list[dict[str, Any]] = []
        if not cursors or any(not c for c in cursors.values()):
            # Nodes without a cursor yet (and nodes not seen before): read from the start.
            for entry in self._events_nodes(None):
                name = str(entry.get("node") or "")
                if not cursors.get(name):
                    answers.append(entry)
        for node, last in cursors.items():
            if not last:
                continue
            # "" is a bare cursor of one unnamed node: its answer is all there is.
            answers += [
                e for e in self._events_nodes(last) if node in ("", str(e.get("node") or ""))
            ]
        events: list[ApplyEvent] = []
        after = dict(cursors)
        many = len({str(e.get("node") or "") for e in answers} | set(cursors)) > 1
        try:
            for entry in answers:
                name = str(entry.get("node") or "")
                # A node with no cursor yet stays known ("") so that it is asked from the start.
                after[name] = str(entry.get("last_request_id") or "") or after.get(name, "")
                prefix = f"{name}: " if many and name else ""
                for event in entry.get("events") or []:
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
        return EventBatch(tuple(events), _encode_cursors(after) or since)

    def _events_nodes(self, last: str | None) -> list[dict[str, Any]]:
        params = {"last_request_id": last} if last else None
        response = self.session.request("GET", "/config/apply/events", params=params)
        if response.status_code == 404:
            self._events_supported = False  # introduction version UNVERIFIED
            return []
        data = self.session.json(response, "config apply events endpoint")
        nodes = data.get("nodes") if isinstance(data, dict) else None
        if not isinstance(nodes, list):
            raise ApplianceResponseError("GET /manage/v1/config/apply/events: unexpected answer")
        return [n for n in nodes if isinstance(n, dict)]


def _maintenance_state(data: object) -> bool | None:
    """`GET /manage/v1/maintenance`: an array of nodes, each `status` on | off | scheduled."""
    if not isinstance(data, list):
        return None
    states = [str(n.get("status")) for n in data if isinstance(n, dict)]
    if not states:
        return None
    return any(s == "on" for s in states)


def _nodes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    nodes = data.get("nodes") or []
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


def _running(data: Mapping[str, Any]) -> bool:
    return bool(data.get("running")) or any(bool(n.get("running")) for n in _nodes(data))


def _encode_cursors(cursors: Mapping[str, str]) -> str | None:
    """Per-node cursors as one opaque string (JSON), the form `EventBatch.cursor` carries."""
    return json.dumps(dict(sorted(cursors.items())), separators=(",", ":")) if cursors else None


def _decode_cursors(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {"": text}  # a bare last_request_id (one node, name not known)
    if not isinstance(data, dict):
        return {"": text}
    return {str(k): str(v) for k, v in data.items()}
