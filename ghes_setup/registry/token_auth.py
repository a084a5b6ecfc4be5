"""Registry auth: the Bearer token realm, the token cache and Basic credentials.

A token comes from the realm with Basic user:PAT (`?service=&scope=`) and is cached by its
normalised scope set (`auth.TokenCache`); a 401 `insufficient_scope` is answered ONCE by asking
for the wider scope (ours plus the challenge's), then it is an `InsufficientScope` error
(CNCF distribution token spec). A registry that answers with a Basic challenge gets the
credentials on every request instead.

The realm gets the PAT, so it must be https and on the appliance: the registry's own host,
HOSTNAME or a name under HOSTNAME (`check_realm`). GHES's realm is not documented
(`facts.REGISTRY_REALM_GUESS`, presumably https://containers.HOSTNAME/token; the lab's is);
a challenge naming any other host is refused rather than answered with the PAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import httpx

from ghes_setup import facts
from ghes_setup.errors import AuthenticationFailed, Unreachable
from ghes_setup.httpclient import describe
from ghes_setup.registry.auth import (
    ScopeSet,
    Token,
    TokenCache,
    TokenResponseError,
    parse_token_response,
    parse_www_authenticate,
)
from ghes_setup.registry.errors import (
    AccessDenied,
    InsufficientScope,
    RegistryHTTPError,
    UnsafeTarget,
)
from ghes_setup.registry.retry import RETRYABLE_STATUS
from ghes_setup.registry.wire import basic_header, error_body, without_query
from ghes_setup.secrets import Secret

if TYPE_CHECKING:
    from ghes_setup.registry.session import RegistrySession

CLASSIC_PAT_HINT: Final = (
    "use a classic personal access token with read:packages and write:packages; "
    "GitHub Packages does not accept fine-grained tokens"
)


def appliance_hostname(registry_host: str) -> str:
    """HOSTNAME of a registry at `containers.HOSTNAME` (how `RegistrySession` is addressed).

    A registry named otherwise (tests, a bare address) is its own HOSTNAME: then only it and
    the names under it count as the appliance, never its parent domain.
    """
    host = registry_host.rstrip(".")
    label = facts.CONTAINER_REGISTRY_LABEL + "."
    return host.removeprefix(label) if host.startswith(label) else host


def check_realm(realm: httpx.URL, registry_host: str) -> None:
    """Refuse a token realm the PAT must not go to: not https, or not on the appliance (the
    registry's host, HOSTNAME, or a name under HOSTNAME)."""
    shown = without_query(realm)
    if realm.scheme != "https":
        raise UnsafeTarget(
            f"the registry's token realm {shown} is not https; the credentials are not sent "
            "in clear text",
            hint="the registry's /v2/ challenge (WWW-Authenticate) must name an https realm; "
            "check what answers containers.HOSTNAME (a proxy in front of the appliance?)",
        )
    host = realm.host.rstrip(".")
    registry = registry_host.rstrip(".")
    hostname = appliance_hostname(registry)
    if host not in (registry, hostname) and not host.endswith("." + hostname):
        raise UnsafeTarget(
            f"the registry's token realm {shown} is not on the appliance ({registry} or "
            f"{hostname}); the credentials are not sent to {host}",
            hint="check what answers containers.HOSTNAME: GHES's token service is on the "
            "appliance, so a realm elsewhere is a proxy or another registry in front of it",
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: Secret


class TokenAuth:
    """What the registry told us about its auth, and the tokens we hold for it."""

    def __init__(self, session: RegistrySession, credentials: Credentials | None) -> None:
        self._s = session
        self.credentials = credentials
        self.tokens = TokenCache()
        self.realm: str | None = None
        self.service: str | None = None
        self.basic = False

    def header(self) -> str:
        """The Basic Authorization header of the credentials (callers check they exist)."""
        assert self.credentials is not None
        return basic_header(self.credentials.username, self.credentials.password)

    def token_for(self, scope: ScopeSet | None) -> Token | None:
        if scope is None or self.realm is None:
            return None
        return self.tokens.find(scope, self._s.clock()) or self.fetch_token(scope)

    def answer_challenge(
        self, response: httpx.Response, scope: ScopeSet | None, used: Token | None, op: str
    ) -> None:
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        if bearer is not None and bearer.realm is not None:
            self.realm, self.service = bearer.realm, bearer.service
            if used is not None:
                self.tokens.discard(used)
            wanted = (scope or ScopeSet()) | ScopeSet.parse(bearer.scope)
            if bearer.error == "insufficient_scope" and used is not None:
                self._s.event(f"{op}: insufficient_scope; asking for {wanted}")
            self.fetch_token(wanted)
            return
        if any(c.scheme == "basic" for c in challenges):
            if self.credentials is None:
                raise AuthenticationFailed(
                    f"{op}: the registry wants credentials and none were given",
                    hint=CLASSIC_PAT_HINT,
                )
            self.basic = True
            return
        raise RegistryHTTPError(
            f"{op}: 401 without a Bearer or Basic challenge "
            f"(WWW-Authenticate: {response.headers.get('www-authenticate', 'missing')!r})",
            status=401,
        )

    def auth_error(self, response: httpx.Response, scope: ScopeSet | None, op: str) -> Exception:
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        codes, message = error_body(response)
        if (bearer is not None and bearer.error == "insufficient_scope") or "DENIED" in codes:
            wanted = (scope or ScopeSet()) | ScopeSet.parse(bearer.scope if bearer else None)
            return InsufficientScope(
                f"{op}: the registry token does not grant {wanted}"
                + (f" ({message})" if message else ""),
                scope=str(wanted),
                hint=CLASSIC_PAT_HINT,
            )
        return AuthenticationFailed(
            f"{op}: the registry refused the credentials of "
            f"{self.credentials.username if self.credentials else 'an anonymous client'}"
            + (f" ({message})" if message else ""),
            hint=CLASSIC_PAT_HINT,
        )

    def fetch_token(self, wanted: ScopeSet) -> Token:
        if self.realm is None:  # pragma: no cover - callers check
            raise RegistryHTTPError("no token realm known", status=401)
        params: dict[str, str | list[str]] = {}
        if self.service:
            params["service"] = self.service
        if wanted:
            params["scope"] = wanted.strings()
        if self.credentials is not None:
            params["account"] = self.credentials.username
        # copy_merge_params keeps a query the realm URL already has; replacing it is the trap of
        # docs/registry.md ("Uploads: streaming, `_state`, ...").
        url = httpx.URL(self.realm).copy_merge_params(params)
        check_realm(url, self._s.base.host)
        host = url.host
        state = self._s.new_retry()
        while True:
            request = self._s.http.build_request("GET", url, headers={"Accept": "application/json"})
            if self.credentials is not None:
                request.headers["Authorization"] = self.header()
            self._s.stats.requests += 1
            try:
                response = self._s.http.send(request)
            except httpx.TransportError as exc:
                delay = state.next_delay(describe(exc))
                if delay is None:
                    raise Unreachable(
                        f"token service {host}: {describe(exc)}",
                        hint="the registry's token realm must be reachable from here",
                    ) from None
                self._s.stats.retries += 1
                self._s.sleep(delay)
                continue
            if response.status_code in RETRYABLE_STATUS:
                delay = state.next_delay(f"token service: HTTP {response.status_code}")
                if delay is not None:
                    self._s.stats.retries += 1
                    self._s.sleep(delay)
                    continue
            break
        self._s.stats.token_requests += 1
        status = response.status_code
        codes, message = error_body(response)
        detail = f" ({message})" if message else ""
        who = self.credentials.username if self.credentials else "anonymous"
        if status == 401:
            raise AuthenticationFailed(
                f"the registry's token service at {host} refused the token of {who}{detail}",
                hint=CLASSIC_PAT_HINT,
            )
        if status == 403:
            raise AccessDenied(
                f"the registry's token service at {host} denied {wanted} to {who}{detail}",
                hint=CLASSIC_PAT_HINT,
            )
        if status != 200:
            raise RegistryHTTPError(
                f"the registry's token service at {host} answered HTTP {status}{detail}",
                status=status,
                codes=codes,
            )
        try:
            token = parse_token_response(response.content, wanted, self._s.clock())
        except TokenResponseError as exc:
            raise RegistryHTTPError(f"token service at {host}: {exc}", status=200) from None
        self.tokens.put(token)
        return token
