"""`ManageApiSession`: HTTP to the Manage GHES API (`/manage/v1`, port 8443), with its habits.

`manage_api.ManageApiTransport` says what to ask; this module sends it. Facts it rests on
(the REST docs page "Manage GHES" and its OpenAPI description, vendored in
tests/contract/descriptions/): HTTP Basic `api_key:<root site admin password>`; port 8443
with TLS, or 8080 without (docs "Network ports").

Habits:
- the client comes from `httpclient.make_client`, on the first request: TLS always verified
  (`--ca-file` adds a CA), names resolved through the run's resolver while SNI and the
  certificate keep the real name;
- idempotent calls (GET, PUT settings) are retried with exponential backoff on connection
  errors and 502/503/504 (Retry-After honoured, capped); a non-idempotent call whose fate is
  unknown raises `Ambiguous` for the caller to look up, never retried blindly;
- 401/403 -> `AuthenticationFailed` (exit 4) with a hint; certificate failures ->
  `TlsNotTrusted`; answers we cannot read -> `ApplianceResponseError`. No message ever carries
  the password (`secrets.scrub` is the last line of defence).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ghes_setup import facts
from ghes_setup.appliance.transport import TlsNotTrusted
from ghes_setup.errors import (
    ApplianceResponseError,
    AuthenticationFailed,
    Unreachable,
    UnsupportedVersion,
)
from ghes_setup.net import AddressResolver
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.secrets import Secret, scrub

if TYPE_CHECKING:
    import httpx

API_USER: Final = "api_key"  # manage-ghes.md: Basic auth user for the root site admin password
RETRY_STATUSES: Final = frozenset({502, 503, 504})
MAX_RETRY_AFTER_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class ApiOptions:
    host: str
    port: int = facts.MANAGE_API_PORT
    ca_file: Path | None = None
    timeout: float = 10.0
    # "https" on 8443, "http" on 8080 (docs "Network ports": the Management Console without
    # TLS). Plain HTTP carries the admin password in clear: `selector` refuses it unless the
    # site allows it explicitly.
    scheme: str = "https"
    retries: int = 4  # extra attempts for idempotent calls
    backoff_s: float = 0.25  # first wait; doubles each time
    max_backoff_s: float = 4.0

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/manage/v1"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class Ambiguous(Exception):
    """A non-idempotent request may or may not have reached the appliance."""


class ManageApiSession:
    """Requests to one appliance's Manage API. Thread-safe (httpx clients are)."""

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
        # Built on the first request: loading the trust store is tens of milliseconds that a
        # run's SSH read-ahead (selector.RoutedTransport) need not wait for. A bad --ca-file is
        # still refused before anything is sent.
        self._resolver = resolver
        self._client = client
        self._client_lock = threading.Lock()
        self._closed = False
        self._auth: httpx.BasicAuth | None = None
        self.progress = progress or NullProgress()
        self._sleep = sleep
        self.requests = 0  # requests sent (for tests)
        self.retried = 0  # retries made (for tests and progress)

    def close(self) -> None:
        with self._client_lock:
            self._closed = True
            if self._client is not None:
                self._client.close()

    def _http(self) -> tuple[httpx.Client, httpx.BasicAuth]:
        """The client and the credentials, made on first use: httpx loads with them, so a run
        that starts with SSH's handshakes (selector.RoutedTransport) need not wait for it."""
        import httpx

        from ghes_setup.httpclient import make_client

        with self._client_lock:
            if self._closed:
                raise RuntimeError("Manage API transport used after close()")
            if self._auth is None:
                self._auth = httpx.BasicAuth(API_USER, self._password.reveal())
            if self._client is None:
                self._client = make_client(
                    resolver=self._resolver,
                    ca_file=self.options.ca_file,
                    timeout=self.options.timeout,
                    base_url=self.options.base_url,
                )
            return self._client, self._auth

    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries (idempotent calls only). Returns any non-retryable response;
        raises `Unreachable` after the last attempt, `Ambiguous` for a non-idempotent call
        whose fate is unknown, `AuthenticationFailed` on 401/403."""
        import httpx

        from ghes_setup.httpclient import describe

        attempts = 1 + self.options.retries
        operation = f"{method} {self.options.base_url}{path}"
        client, auth = self._http()
        for attempt in range(1, attempts + 1):
            try:
                self.requests += 1
                response = client.request(method, path, json=json, params=params, auth=auth)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing was sent: safe to try again, even for a POST. Not a certificate that
                # did not verify: asking again gets the same certificate.
                if attempt < attempts and "CERTIFICATE_VERIFY_FAILED" not in str(exc):
                    self.wait(attempt, None, f"cannot connect ({describe(exc)})")
                    continue
                raise self._unreachable(operation, exc) from None
            except httpx.TransportError as exc:  # sent; its fate is unknown
                if not idempotent:
                    raise Ambiguous(scrub(describe(exc))) from None
                if attempt < attempts:
                    self.wait(attempt, None, describe(exc))
                    continue
                raise self._unreachable(operation, exc) from None
            if response.status_code in RETRY_STATUSES:
                if not idempotent:
                    raise Ambiguous(f"HTTP {response.status_code}")
                if attempt < attempts:
                    self.wait(attempt, response, f"HTTP {response.status_code}")
                    continue
                raise ApplianceResponseError(
                    f"{operation}: HTTP {response.status_code} after {attempts} attempts",
                    hint="the Manage API is unavailable; check the appliance (ghe-service-list)",
                )
            self._check_auth(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def wait(self, attempt: int, response: httpx.Response | None, reason: str) -> None:
        """Back off before attempt `attempt + 1` (Retry-After honoured, capped), saying why."""
        delay = min(self.options.backoff_s * 2 ** (attempt - 1), self.options.max_backoff_s)
        if response is not None:
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                delay = min(float(retry_after), MAX_RETRY_AFTER_S)
        self.retried += 1
        self.progress.log(f"Manage API: {scrub(reason)}; retrying in {delay:.2g} s")
        self._sleep(delay)

    def _unreachable(self, operation: str, exc: httpx.HTTPError) -> Unreachable:
        from ghes_setup.httpclient import describe

        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text and ("expired" in text or "not yet valid" in text):
            # An out-of-date certificate is not fixed by another CA file (issue 13, item 7).
            return TlsNotTrusted(
                f"{operation}: the appliance's certificate is out of date: {scrub(describe(exc))}",
                hint="install a renewed certificate on the appliance (check one first with "
                "`ghes-setup tls check`); its validity dates, not the CA, are the problem",
            )
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return TlsNotTrusted(
                f"{operation}: {scrub(describe(exc))}",
                hint="pass the CA that signed the appliance's certificate with --ca-file "
                "(site: [connection] ca_file)",
            )
        if "[SSL" in text or "SSL:" in text:
            return TlsNotTrusted(
                f"{operation}: TLS handshake failed: {scrub(describe(exc))}",
                hint=f"is port {self.options.port} the Management Console with TLS (8443)? "
                "Port 8080 is plain HTTP ([connection] api_scheme)",
            )
        hint = (
            f"check the address, that TCP {self.options.port} is open, and --resolve/--nameserver"
        )
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
                f"{message(response)}",
                hint="too many failed logins lock the Management Console; unlock it with "
                "ghe-reactivate-admin-login in the admin shell",
            )

    def json(self, response: httpx.Response, what: str) -> Any:
        """The JSON body of a 2xx answer; 404 is `UnsupportedVersion`, other errors and a body
        that is not JSON are `ApplianceResponseError` naming `what`."""
        if response.status_code == 404:
            raise UnsupportedVersion(
                f"the Manage API at {self.options.where} has no {what} "
                f"(HTTP 404 for {response.request.url.path}); GHES before "
                f"{facts.MANAGE_API_SINCE}?",
                hint="the Manage API needs GHES 3.12 or later; use --transport ssh",
            )
        if response.status_code >= 400:
            raise ApplianceResponseError(
                f"Manage API {what}: HTTP {response.status_code}: {message(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise ApplianceResponseError(
                f"Manage API {what}: the answer is not JSON (HTTP {response.status_code})",
                hint="is port 8443 really the Management Console?",
            ) from None


def message(response: httpx.Response) -> str:
    """What an error answer says, in one scrubbed line (its `message`, `error` or body)."""
    try:
        data = response.json()
    except ValueError:
        return scrub(response.text.strip()[:200]) or response.reason_phrase
    if isinstance(data, dict):
        for key in ("message", "error", "errors"):
            if data.get(key):
                return scrub(str(data[key]))[:300]
    return scrub(str(data))[:200]
