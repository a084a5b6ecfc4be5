"""The few GHES REST API calls the smoke test needs: the token's scopes, package versions.

- `whoami()`: `GET /api/v3/user` -> login, and the classic PAT's scopes from `X-OAuth-Scopes`.
  No header means the token is not a classic PAT (fine-grained, app): Packages refuses those.
- Package versions of a container image: find the version whose name is our manifest digest,
  delete it; if GitHub refuses to delete a package's last version, delete the package, but only
  when that version is the package's only one. The token owner's own package goes through
  `/user/packages/container/{name}/...` (documented for the authenticated user); an
  organization's through `/orgs/{org}/...`; `/users/{username}/...` (documented for a user's
  public packages only) is tried last, for another user's namespace.

Every path and header name comes from `ghes_setup.facts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import httpx

from ghes_setup import facts
from ghes_setup.errors import ApplianceResponseError, AuthenticationFailed
from ghes_setup.httpclient import describe
from ghes_setup.registry.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after
from ghes_setup.registry.wire import unreachable, untrusted
from ghes_setup.secrets import Secret

_MAX_PAGES: Final = 20
_PER_PAGE: Final = 100


@dataclass(frozen=True, slots=True)
class TokenInfo:
    login: str
    scopes: frozenset[str] | None  # None: no X-OAuth-Scopes header (not a classic PAT)
    ghes_version: str | None = None

    def allows(self, scope: str) -> bool | None:
        """Whether the token has `scope` (or a scope implying it); None when unknown."""
        if self.scopes is None:
            return None
        if scope in self.scopes:
            return True
        implies: dict[str, tuple[str, ...]] = facts.SCOPE_IMPLIES.value  # type: ignore[assignment]
        return any(scope in implies.get(have, ()) for have in self.scopes)

    def describe_scopes(self) -> str:
        if self.scopes is None:
            return "unknown (no X-OAuth-Scopes header)"
        return ", ".join(sorted(self.scopes)) or "none"


@dataclass(frozen=True, slots=True)
class VersionLookup:
    owner_kind: str | None  # "user" (the token's own), "orgs" or "users" where it was found
    version_id: int | None
    only_version: bool = False  # ours is the package's one and only version
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RestDelete:
    deleted: bool
    status: int
    message: str


class RestApi:
    """`https://HOSTNAME[:port]/api/v3` with one token."""

    def __init__(
        self,
        http: httpx.Client,
        web_host: str,
        token: Secret,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self.web_host = web_host
        self.base = f"https://{web_host}{facts.REST_API_PREFIX}"
        self._token = token
        self._policy = retry or RetryPolicy()
        self._sleep = sleep

    @property
    def token_page(self) -> str:
        return f"https://{self.web_host}{facts.NEW_PACKAGES_TOKEN_PATH}"

    def whoami(self) -> TokenInfo:
        url = f"{self.base}/user"
        response = self._request("GET", url)
        if response.status_code == 401:
            raise AuthenticationFailed(
                f"{url} refused the token (HTTP 401{_message(response)})",
                hint=f"create a classic personal access token with write:packages at "
                f"{self.token_page}",
            )
        if response.status_code != 200:
            raise ApplianceResponseError(
                f"{url} answered HTTP {response.status_code}{_message(response)}",
                hint="the REST API must answer at https://HOSTNAME/api/v3",
            )
        try:
            doc = response.json()
        except ValueError:
            doc = None
        login = doc.get("login") if isinstance(doc, dict) else None
        if not isinstance(login, str) or not login:
            raise ApplianceResponseError(f"{url}: the answer has no login")
        header = response.headers.get(facts.OAUTH_SCOPES_HEADER)
        scopes = None
        if header is not None:
            scopes = frozenset(s.strip() for s in header.split(",") if s.strip())
        return TokenInfo(login, scopes, response.headers.get("x-github-enterprise-version"))

    def find_container_version(
        self, owner: str, image: str, digest: str, *, login: str | None
    ) -> VersionLookup:
        """The id of the package version named `digest`: the token owner's own package
        under /user/, anyone else's under orgs/ then users/."""
        own = bool(login) and owner.lower() == (login or "").lower()
        kinds = ["user"] if own else ["orgs", "users"]
        reasons: list[str] = []
        for kind in kinds:
            path = _versions_path(kind, owner, image)
            for page in range(1, _MAX_PAGES + 1):
                # /users/{username}/... documents no paging parameters: one page, as given.
                paged = kind != "users"
                params = {"per_page": _PER_PAGE, "page": page} if paged else None
                response = self._request("GET", f"{self.base}{path}", params=params)
                where = "user" if kind == "user" else f"{kind}/{owner}"
                if response.status_code == 404:
                    reasons.append(f"{where}: no such package (404)")
                    break
                if response.status_code != 200:
                    reasons.append(f"{where}: HTTP {response.status_code}{_message(response)}")
                    return VersionLookup(None, None, reason="; ".join(reasons))
                try:
                    versions = response.json()
                except ValueError:
                    versions = None
                if not isinstance(versions, list):
                    return VersionLookup(kind, None, reason="the version list is not a JSON list")
                for version in versions:
                    if isinstance(version, dict) and version.get("name") == digest:
                        version_id = version.get("id")
                        if isinstance(version_id, int):
                            only = page == 1 and len(versions) == 1
                            return VersionLookup(kind, version_id, only_version=only)
                if len(versions) < _PER_PAGE or not paged:
                    reasons.append(f"{where}: no version named {digest}")
                    return VersionLookup(kind, None, reason="; ".join(reasons))
        return VersionLookup(None, None, reason="; ".join(reasons))

    def delete_container_version(
        self, owner_kind: str, owner: str, image: str, version_id: int
    ) -> RestDelete:
        return self._delete(f"{self.base}{_versions_path(owner_kind, owner, image)}/{version_id}")

    def delete_container_package(self, owner_kind: str, owner: str, image: str) -> RestDelete:
        if owner_kind == "user":
            path = facts.OWN_PACKAGE_PATH.format(name=quote(image, safe=""))
        else:
            path = facts.PACKAGE_PATH.format(
                owner_kind=owner_kind, owner=quote(owner, safe=""), name=quote(image, safe="")
            )
        return self._delete(f"{self.base}{path}")

    def _delete(self, url: str) -> RestDelete:
        response = self._request("DELETE", url)
        status = response.status_code
        return RestDelete(status in (200, 202, 204), status, _message(response).lstrip(": "))

    def _request(
        self, method: str, url: str, *, params: dict[str, int] | None = None
    ) -> httpx.Response:
        state = self._policy.start()
        headers = {
            "Authorization": f"token {self._token.reveal()}",
            "Accept": "application/vnd.github+json",
        }
        while True:
            try:
                response = self._http.request(method, url, headers=headers, params=params)
            except httpx.TransportError as exc:
                delay = None if untrusted(exc) else state.next_delay(describe(exc))
                if delay is not None:
                    self._sleep(delay)
                    continue
                text = f"{method} {url}: {describe(exc)}"
                raise unreachable(text, exc, name="HOSTNAME") from None
            if response.status_code in RETRYABLE_STATUS:
                delay = state.next_delay(
                    f"HTTP {response.status_code}",
                    parse_retry_after(response.headers.get("retry-after")),
                )
                if delay is not None:
                    self._sleep(delay)
                    continue
            return response


def _versions_path(owner_kind: str, owner: str, image: str) -> str:
    """The versions path of a container package: /user/... for the token owner's own."""
    if owner_kind == "user":
        return facts.OWN_PACKAGE_VERSIONS_PATH.format(name=quote(image, safe=""))
    return facts.PACKAGE_VERSIONS_PATH.format(
        owner_kind=owner_kind, owner=quote(owner, safe=""), name=quote(image, safe="")
    )


def _message(response: httpx.Response) -> str:
    """`: <message>` from a GitHub REST error body, or ''."""
    try:
        doc = response.json()
    except ValueError:
        return ""
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return f": {doc['message'][:300]}"
    return ""
