"""The front door's HTTP answers, recorded as they are (the one httpx user of `capture`).

Only GETs without side effects: `/status`, the registry's `/v2/` (its `WWW-Authenticate`
challenge: realm and service), the REST API root (`X-GitHub-Enterprise-Version`) and, with the
PAT, `GET /api/v3/user` for `X-OAuth-Scopes` (scope names only; docs "Scopes for OAuth apps").
No header that could carry a credential is recorded: only the ones named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ghes_setup import facts
from ghes_setup.capture.parsers import parse_scopes
from ghes_setup.errors import Unreachable
from ghes_setup.httpclient import describe, make_client
from ghes_setup.net import AddressResolver
from ghes_setup.registry.auth import parse_www_authenticate
from ghes_setup.secrets import Secret, scrub

_KEPT_HEADERS = (
    "www-authenticate",
    "docker-distribution-api-version",
    "x-github-enterprise-version",
)


@dataclass(frozen=True, slots=True)
class FrontDoor:
    hostname: str
    https_port: int
    resolver: AddressResolver | None
    ca_file: Path | None
    timeout: float = 10.0

    def url(self, host: str, path: str) -> str:
        return f"https://{facts.https_authority(host, self.https_port)}{path}"


def _get(door: FrontDoor, url: str, token: Secret | None = None) -> httpx.Response:
    headers = {"Authorization": f"token {token.reveal()}"} if token is not None else {}
    try:
        with make_client(resolver=door.resolver, ca_file=door.ca_file, timeout=door.timeout) as c:
            return c.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise Unreachable(f"GET {url}: {scrub(describe(exc))}") from None


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}


def status_page(door: FrontDoor) -> dict[str, Any]:
    response = _get(door, door.url(door.hostname, "/status"))
    return {"http_status": response.status_code}


def registry_ping(door: FrontDoor) -> dict[str, Any]:
    host = f"{facts.CONTAINER_REGISTRY_LABEL}.{door.hostname}"
    response = _get(door, door.url(host, "/v2/"))
    headers = _headers(response)
    challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
    first = challenges[0] if challenges else None
    return {
        "http_status": response.status_code,
        "headers": headers,
        "scheme": first.scheme if first else None,
        "realm": first.realm if first else None,
        "service": first.service if first else None,
    }


def rest_root(door: FrontDoor) -> dict[str, Any]:
    response = _get(door, door.url(door.hostname, facts.REST_API_PREFIX + "/"))
    return {
        "http_status": response.status_code,
        "enterprise_version": response.headers.get("x-github-enterprise-version"),
    }


def token_scopes(door: FrontDoor, token: Secret) -> dict[str, Any]:
    response = _get(door, door.url(door.hostname, facts.REST_API_PREFIX + "/user"), token)
    return {
        "http_status": response.status_code,
        "enterprise_version": response.headers.get("x-github-enterprise-version"),
        "scopes": parse_scopes(response.headers.get(facts.OAUTH_SCOPES_HEADER)),
    }
