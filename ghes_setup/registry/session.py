"""The wire under the registry client: one request with auth and retries, and its statistics.

Errors: no connection -> `errors.Unreachable`; refused credentials -> `AuthenticationFailed`;
everything else that means "the registry does not work" -> `registry.errors.*`.

Credentials (a Bearer token, or Basic user:PAT) go to the registry's own origin only: the same
scheme, host and port as its base URL. The registry may name other URLs (an upload Location,
a tags `Link`, a blob redirect to its storage); those get the request without Authorization
(distribution-spec: clients MUST NOT forward Authorization headers across host boundaries),
their 401/403 is that host's failure rather than a challenge to answer, and a URL that drops
from https to plain http is refused (`UnsafeTarget`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypedDict

import httpx

from ghes_setup.httpclient import describe
from ghes_setup.registry.auth import (
    Challenge,
    Scope,
    ScopeSet,
    Token,
    TokenCache,
    parse_www_authenticate,
)
from ghes_setup.registry.errors import (
    AccessDenied,
    OtherHostError,
    RegistryHTTPError,
    UnsafeTarget,
)
from ghes_setup.registry.retry import (
    RETRYABLE_STATUS,
    RetryPolicy,
    RetryState,
    parse_retry_after,
)
from ghes_setup.registry.token_auth import Credentials, TokenAuth
from ghes_setup.registry.wire import error_body, unreachable, untrusted, without_query

_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the default port filled in: what "same origin" compares."""
    return url.scheme, url.host.rstrip("."), url.port or _DEFAULT_PORTS.get(url.scheme)


def answered_by(response: httpx.Response) -> httpx.URL:
    """The URL that gave `response` (after redirects), with its name rather than the address
    `PinnedTransport` dialled (it rewrites the request's host and keeps the name as SNI)."""
    url = response.request.url
    name = response.request.extensions.get("sni_hostname")
    return url.copy_with(host=name) if isinstance(name, str) else url


@dataclass(frozen=True, slots=True)
class Ping:
    status: int
    challenges: tuple[Challenge, ...]
    api_version: str | None

    @property
    def bearer(self) -> Challenge | None:
        return next((c for c in self.challenges if c.scheme == "bearer"), None)


@dataclass
class ClientStats:
    """What happened on the wire, for the smoke test's details."""

    requests: int = 0
    retries: int = 0
    token_requests: int = 0
    auth_retries: int = 0
    uploads_resumed: int = 0
    uploads_restarted: int = 0
    pulls_resumed: int = 0
    events: list[str] = field(default_factory=list)


class SessionOptions(TypedDict, total=False):
    """`RegistrySession`'s keyword options, for the facades that pass them through."""

    credentials: Credentials | None
    retry: RetryPolicy | None
    scheme: str
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    on_event: Callable[[str], None] | None


class RegistrySession:
    """One registry (`containers.HOSTNAME[:port]`) on the wire: its URL, auth, retries, stats.

    `send` is one request with auth (`TokenAuth`) and retries with backoff on connection
    errors and 5xx, bounded by count and total time (`RetryPolicy`).
    """

    def __init__(
        self,
        http: httpx.Client,
        registry: str,
        *,
        credentials: Credentials | None = None,
        retry: RetryPolicy | None = None,
        scheme: str = "https",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.http = http
        self.registry = registry
        self.base = httpx.URL(f"{scheme}://{registry}")
        self.policy = retry or RetryPolicy()
        self.clock = clock
        self.sleep = sleep
        self._on_event = on_event
        self.auth = TokenAuth(self, credentials)
        self.stats = ClientStats()

    def new_retry(self) -> RetryState:
        """A fresh retry budget for one operation."""
        return self.policy.start(clock=self.clock)

    def set_credentials(self, credentials: Credentials | None) -> None:
        """Use these credentials from now on (cached tokens of other credentials are dropped)."""
        self.auth.credentials = credentials
        self.auth.tokens = TokenCache()

    def ping(self) -> Ping:
        """`GET /v2/`: 200 (open registry) or 401 with a challenge are both a working registry."""
        state = self.new_retry()
        response = self.send(
            "GET", self.url("/v2/"), scope=None, retry=state, op="GET /v2/", authenticate=False
        )
        challenges = tuple(parse_www_authenticate(response.headers.get_list("www-authenticate")))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if response.status_code == 401 and bearer is not None and bearer.realm:
            self.auth.realm, self.auth.service = bearer.realm, bearer.service
        elif response.status_code == 401 and any(c.scheme == "basic" for c in challenges):
            self.auth.basic = True
        return Ping(
            response.status_code,
            challenges,
            response.headers.get("docker-distribution-api-version"),
        )

    def login(self, repository: str, actions: tuple[str, ...] = ("pull", "push")) -> Token | None:
        """Get (and cache) a token for `actions` on `repository`; None for an open registry."""
        if self.auth.realm is None and not self.auth.basic:
            self.ping()
        if self.auth.realm is None:
            return None
        wanted = ScopeSet.of([Scope.repository(repository, actions)])
        return self.auth.tokens.find(wanted, self.clock()) or self.auth.fetch_token(wanted)

    def url(self, path: str) -> httpx.URL:
        return self.base.join(path)

    def same_origin(self, url: httpx.URL) -> bool:
        """Whether `url` is on the registry's own origin, the only one that gets credentials."""
        return origin(url) == origin(self.base)

    def target(self, location: str, op: str, *, base: httpx.URL | None = None) -> httpx.URL:
        """A URL the registry named (upload Location, tags Link), resolved against `base` (the
        registry's root by default) and refused when it drops from https to plain http."""
        url = (base or self.base).join(location)
        self._refuse_downgrade(url, op)
        return url

    def _refuse_downgrade(self, url: httpx.URL, op: str) -> None:
        # Plain http would put the upload's bytes and `_state`, or the tag list, on the wire in
        # clear text and let anyone on the path answer for the registry.
        if self.base.scheme == "https" and url.scheme != "https":
            raise UnsafeTarget(
                f"{op}: the registry named {without_query(url)}, plain http from an https "
                "registry; not followed",
                hint="the registry (or the proxy in front of it) must name https URLs in its "
                "Location and Link headers; check that it knows it is served over https "
                "(X-Forwarded-Proto)",
            )

    @contextmanager
    def stream(
        self,
        method: str,
        url: httpx.URL,
        *,
        scope: ScopeSet | None,
        op: str,
        headers: dict[str, str] | None = None,
        retry: RetryState | None = None,
        follow_redirects: bool = False,
    ) -> Iterator[httpx.Response]:
        response = self.send(
            method,
            url,
            scope=scope,
            headers=headers,
            retry=retry or self.new_retry(),
            op=op,
            stream=True,
            follow_redirects=follow_redirects,
        )
        try:
            yield response
        finally:
            response.close()

    def send(
        self,
        method: str,
        url: httpx.URL,
        *,
        scope: ScopeSet | None,
        op: str,
        retry: RetryState | None,
        headers: dict[str, str] | None = None,
        body: Callable[[], bytes | Iterator[bytes]] | None = None,
        stream: bool = False,
        follow_redirects: bool = False,
        authenticate: bool = True,
    ) -> httpx.Response:
        """One request with auth and retries. A streamed response must be closed by the caller.

        `retry=None`: no retries here (uploads recover at a higher level); a connection error
        is raised as `Unreachable` at once.
        """
        self._refuse_downgrade(url, op)
        # Credentials only for the registry's own origin: a Location or Link the registry
        # names may be another host (distribution-spec: MUST NOT forward Authorization).
        credentials = authenticate and self.same_origin(url)
        auth_retried = False
        while True:
            token = self.auth.token_for(scope) if credentials else None
            request_headers = dict(headers or {})
            if token is not None:
                request_headers["Authorization"] = f"Bearer {token.value.reveal()}"
            elif credentials and self.auth.basic and self.auth.credentials is not None:
                request_headers["Authorization"] = self.auth.header()
            request = self.http.build_request(
                method, url, headers=request_headers, content=body() if body else None
            )
            self.stats.requests += 1
            try:
                response = self.http.send(request, stream=stream, follow_redirects=follow_redirects)
            except httpx.TransportError as exc:
                reason = f"{op}: {describe(exc)}"
                delay = None if retry is None or untrusted(exc) else retry.next_delay(reason)
                if delay is not None:
                    self.event(f"{reason}; retrying in {delay:.1f} s")
                    self.stats.retries += 1
                    self.sleep(delay)
                    continue
                text = f"{reason} ({self.registry})"
                raise unreachable(text, exc, name="containers.HOSTNAME") from None
            status = response.status_code
            if status in (401, 403) and not self.same_origin(answered_by(response)):
                # Storage, a CDN or another host the registry sent us to: its challenge is not
                # the registry's (answering it would send the PAT there), and its 403 is not a
                # package permission.
                if stream:
                    response.read()
                response.close()
                raise self.error(response, op)
            if status == 401 and authenticate:
                if stream:
                    response.read()
                if not auth_retried:
                    auth_retried = True
                    self.stats.auth_retries += 1
                    self.auth.answer_challenge(response, scope, token, op)
                    continue
                raise self.auth.auth_error(response, scope, op)
            if status in RETRYABLE_STATUS and retry is not None:
                if stream:
                    response.read()
                delay = retry.next_delay(
                    f"{op}: HTTP {status}", parse_retry_after(response.headers.get("retry-after"))
                )
                if delay is not None:
                    response.close()
                    self.event(f"{op}: HTTP {status}; retrying in {delay:.1f} s")
                    self.stats.retries += 1
                    self.sleep(delay)
                    continue
            return response

    def error(self, response: httpx.Response, op: str) -> Exception:
        codes, message = error_body(response)
        status = response.status_code
        where = answered_by(response)
        if not self.same_origin(where):
            return self._other_host_error(response, op, where, codes, message)
        text = f"{op}: HTTP {status}"
        if codes:
            text += f" {', '.join(codes)}"
        if message:
            text += f": {message}"
        if status == 403 or "DENIED" in codes:
            return AccessDenied(
                text,
                hint="the token is valid but may not do this; "
                "check the package's access settings and the org's policies",
            )
        return RegistryHTTPError(text, status=status, codes=codes)

    def _other_host_error(
        self,
        response: httpx.Response,
        op: str,
        where: httpx.URL,
        codes: tuple[str, ...],
        message: str,
    ) -> OtherHostError:
        host = where.netloc.decode("ascii", "replace")
        detail = (f" {', '.join(codes)}" if codes else "") + (f": {message}" if message else "")
        if response.history:
            text = (
                f"{op}: {host}, where the registry redirected the request (its blob storage or "
                f"a CDN), answered HTTP {response.status_code}{detail}"
            )
            hint = (
                f"check the registry's blob storage at {host}: its signed URLs (clock skew, "
                "expiry), its access policy and the proxy to it (ghe-check-blob-connection); "
                f"registry credentials are sent only to {self.registry}"
            )
        else:
            text = (
                f"{op}: {host}, which the registry named for this request, answered HTTP "
                f"{response.status_code}{detail}"
            )
            hint = (
                f"registry credentials are sent only to {self.registry}; the registry's "
                "Location and Link headers should name it (check its external URL settings)"
            )
        return OtherHostError(text, host=host, status=response.status_code, codes=codes, hint=hint)

    def event(self, message: str) -> None:
        self.stats.events.append(message)
        if self._on_event is not None:
            self._on_event(message)
