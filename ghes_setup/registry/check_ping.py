"""registry-ping: `https://containers.HOSTNAME/v2/` answers as a registry.

The OCI distribution spec's base endpoint: a registry with token auth answers 401 with
`WWW-Authenticate: Bearer realm="...",service="..."`; an open one answers 200. The realm and
service GHES uses are not documented (docs/reference/ghes-facts.md §5.3, UNVERIFIED): they are read
from the header and shown in the details, never assumed.

One request, no retries (cron runs it again; `registry start` polls it). Verdicts:

- 401 + Bearer challenge with a realm, or 200: pass.
- 404: fail (Packages off, container ecosystem disabled, or isolation off).
- 503: maintenance mode, not a registry failure, when the appliance says it is in maintenance
  (GHES answers web and API requests with 503 then: "Enabling and scheduling maintenance
  mode"), or when its state cannot be read: warn, saying so. A 503 while the appliance says it
  is NOT in maintenance: fail, like any other 5xx.
- other 5xx: fail (the registry service is not running, or not yet).
- any other status, or a 401 without a Bearer realm: fail (something else answers there).
- TLS: certificate not trusted or not valid for the name, or a TLS alert such as
  unrecognized_name: fail (no `*.HOSTNAME` in the certificate, or a private CA without
  --ca-file, or the appliance does not serve that name).
- the name does not resolve: fail (no `*.HOSTNAME` DNS record).
- no connection (refused, timeout): error (the appliance is down or unreachable).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from ghes_setup import facts
from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError, Unreachable
from ghes_setup.httpclient import describe, make_client
from ghes_setup.net import AddressResolver

if TYPE_CHECKING:
    from ghes_setup.config.site import Site
from ghes_setup.registry.auth import parse_www_authenticate

CHECK_ID: Final = "registry-ping"
AREA: Final = "registry"

Kind = Literal["http", "tls", "dns", "unreachable"]
HttpFactory = Callable[["PingRequest"], httpx.Client]

_OFF_REMEDY: Final = (
    "the Container registry needs GitHub Packages with the container ecosystem enabled and "
    "subdomain isolation on, applied: ghes-setup registry start --site SITE"
)
_DOWN_REMEDY: Final = (
    "the registry service is not answering (starting after a config apply, or failed): wait, "
    "check ghe-config.log and `ghes-setup packages status`, or run ghes-setup registry start"
)
_TLS_REMEDY: Final = (
    "containers.HOSTNAME is served only with subdomain isolation on and a certificate covering "
    "*.HOSTNAME, applied: ghes-setup registry start (or tls check, then config apply); for a "
    "private CA pass --ca-file"
)
_MAINTENANCE_REMEDY: Final = (
    "expected while the appliance is in maintenance mode; when the work is done, turn it off "
    "(Management Console, or ghe-maintenance -u in the admin shell)"
)
_MAYBE_MAINTENANCE_REMEDY: Final = (
    "GHES answers 503 in maintenance mode: check with ghe-maintenance -q (admin shell) or the "
    "Management Console; if it is not in maintenance, the registry is failing: " + _DOWN_REMEDY
)
_DNS_REMEDY: Final = (
    "add a wildcard DNS record *.HOSTNAME (or containers.HOSTNAME) pointing at the appliance: "
    "ghes-setup dns check"
)


@dataclass(frozen=True, slots=True)
class PingRequest:
    """Where the registry is and how to reach it."""

    hostname: str
    https_port: int = facts.HTTPS_PORT
    ca_file: Path | None = None
    resolver: AddressResolver | None = field(default=None, compare=False)
    timeout: float = 10.0
    # Tests hand in a client on httpx.MockTransport; None: `default_http`.
    http_factory: HttpFactory | None = field(default=None, compare=False, repr=False)
    # Asked only when /v2/ answers 503: is the appliance in maintenance mode? (None: unknown.)
    maintenance: Callable[[], bool | None] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_site(
        cls,
        site: Site,
        resolver: AddressResolver | None,
        timeout: float,
        http_factory: HttpFactory | None = None,
        maintenance: Callable[[], bool | None] | None = None,
    ) -> PingRequest:
        """The registry of `site`: its hostname, HTTPS port and CA file."""
        c = site.connection
        return cls(
            site.hostname, c.https_port, c.ca_file, resolver, timeout, http_factory, maintenance
        )

    @property
    def registry_host(self) -> str:
        host = f"{facts.CONTAINER_REGISTRY_LABEL}.{self.hostname}"
        return facts.https_authority(host, self.https_port)

    @property
    def url(self) -> str:
        return f"https://{self.registry_host}/v2/"


@dataclass(frozen=True, slots=True)
class PingAnswer:
    """What `GET /v2/` got: an HTTP answer, or why there was none."""

    kind: Kind
    reason: str
    status: int | None = None
    scheme: str | None = None  # of the first challenge, lower case
    realm: str | None = None
    service: str | None = None
    api_version: str | None = None
    error_codes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        if self.kind != "http":
            return False
        return self.status == 200 or (
            self.status == 401 and self.scheme == "bearer" and bool(self.realm)
        )

    def short(self) -> str:
        """One phrase for messages: `401 Bearer challenge (realm ...)`, `404 UNAVAILABLE`..."""
        if self.kind != "http":
            return self.reason
        text = f"HTTP {self.status}"
        if self.status == 401 and self.scheme:
            text += f" {self.scheme.capitalize()} challenge"
        if self.error_codes:
            text += f" {', '.join(self.error_codes)}"
        return text


def default_http(request: PingRequest) -> httpx.Client:
    return make_client(resolver=request.resolver, ca_file=request.ca_file, timeout=request.timeout)


def ping(request: PingRequest, http_factory: HttpFactory | None = None) -> PingAnswer:
    """`GET https://containers.HOSTNAME/v2/` once, without credentials. Never raises for
    network trouble (that is the answer); `MaterialError` for an unreadable --ca-file."""
    start = time.perf_counter()
    try:
        with (http_factory or request.http_factory or default_http)(request) as http:
            response = http.get(request.url)
    except Unreachable as exc:  # the resolver: the name does not resolve
        return PingAnswer("dns", exc.message, seconds=time.perf_counter() - start)
    except httpx.TransportError as exc:
        tls = _tls_reason(exc)
        kind: Kind = "tls" if tls else "unreachable"
        return PingAnswer(kind, tls or describe(exc), seconds=time.perf_counter() - start)
    challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
    first = challenges[0] if challenges else None
    bearer = next((c for c in challenges if c.scheme == "bearer"), None)
    chosen = bearer or first
    return PingAnswer(
        "http",
        f"HTTP {response.status_code}",
        status=response.status_code,
        scheme=chosen.scheme if chosen else None,
        realm=chosen.realm if chosen else None,
        service=chosen.service if chosen else None,
        api_version=response.headers.get("docker-distribution-api-version"),
        error_codes=_error_codes(response),
        seconds=time.perf_counter() - start,
    )


def _tls_reason(exc: httpx.TransportError) -> str | None:
    """The TLS problem behind a transport error, if that is what it was."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {current.verify_message or current.reason}"
        if isinstance(current, ssl.SSLError):
            reason = str(current.reason or current)
            if "UNRECOGNIZED_NAME" in reason.upper():
                return "the appliance does not serve this name (TLS alert unrecognized_name)"
            return f"TLS handshake failed: {reason}"
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "TLSV1_ALERT" in text:
        return f"TLS handshake failed: {describe(exc)}"
    return None


def _error_codes(response: httpx.Response) -> tuple[str, ...]:
    try:
        body = response.json()
    except ValueError:
        return ()
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ()
    return tuple(str(e["code"]) for e in errors if isinstance(e, dict) and "code" in e)


def judge(request: PingRequest, answer: PingAnswer) -> Outcome:
    """The registry-ping verdict for one answer (see the module docstring)."""
    details: dict[str, Any] = {"url": request.url, "answer": answer.short()}
    metrics = {"response_seconds": round(answer.seconds, 4)}
    if answer.kind == "http":
        details.update(
            status=answer.status,
            scheme=answer.scheme,
            realm=answer.realm,
            service=answer.service,
            api_version=answer.api_version,
        )
    where = request.registry_host
    if answer.ok and answer.status == 200:
        return Outcome.passed(
            f"{where}/v2/ answers 200 (no authentication asked)", details=details, metrics=metrics
        )
    if answer.ok:
        return Outcome.passed(
            f"{where}/v2/ answers with a Bearer challenge (realm {answer.realm}, "
            f"service {answer.service or '-'})",
            details=details,
            metrics=metrics,
        )
    if answer.kind == "unreachable":
        return Outcome.errored(
            f"no connection to {where}: {answer.reason}",
            "check that the appliance is up and reachable on its HTTPS port",
            details=details,
        )
    if answer.kind == "dns":
        return Outcome.failed(
            f"{where} does not resolve: {answer.reason}", _DNS_REMEDY, details=details
        )
    if answer.kind == "tls":
        return Outcome.failed(f"{where}: {answer.reason}", _TLS_REMEDY, details=details)
    status = answer.status or 0
    if status == 503:
        maintenance = _maintenance(request)
        details["maintenance"] = maintenance
        if maintenance is True:
            return Outcome.warned(
                f"the appliance is in maintenance mode: {where}/v2/ answers "
                f"{answer.short()}, as GHES does in maintenance",
                _MAINTENANCE_REMEDY,
                details=details,
                metrics=metrics,
            )
        if maintenance is None:
            return Outcome.warned(
                f"{where}/v2/ answers {answer.short()} (Service Unavailable): maintenance "
                "mode? (its state could not be read)",
                _MAYBE_MAINTENANCE_REMEDY,
                details=details,
                metrics=metrics,
            )
    if status == 404:
        remedy = _OFF_REMEDY
    elif status >= 500:
        remedy = _DOWN_REMEDY
    else:
        remedy = "something other than the Container registry answers there: " + _OFF_REMEDY
    return Outcome.failed(
        f"{where}/v2/ answers {answer.short()}, not a registry challenge",
        remedy,
        details=details,
        metrics=metrics,
    )


def _maintenance(request: PingRequest) -> bool | None:
    if request.maintenance is None:
        return None
    try:
        return request.maintenance()
    except GhesSetupError:  # a probe that fails is "unknown", never a crash
        return None


@check(CHECK_ID, area=AREA)
def registry_ping(request: PingRequest) -> Outcome:
    """containers.HOSTNAME/v2/ answers with a Bearer challenge (or 200)."""
    return judge(request, ping(request))
