"""Small helpers every part of the registry client shares: scopes, digests, OCI error bodies."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx

from ghes_setup.errors import Unreachable
from ghes_setup.httpclient import describe
from ghes_setup.registry.auth import Scope, ScopeSet
from ghes_setup.registry.oci import json_object
from ghes_setup.secrets import Secret

# A blob transfer's progress callback: called with the bytes of the blob moved so far.
ProgressFn = Callable[[int], None]


def basic_header(username: str, password: Secret) -> str:
    pair = f"{username}:{password.reveal()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def repository_scope(repository: str, *actions: str) -> ScopeSet:
    return ScopeSet.of([Scope.repository(repository, actions)])


def without_query(url: httpx.URL) -> str:
    """`url` for a message: an upload's `_state` or a signed query stays out of it."""
    return str(url.copy_with(query=None, fragment=None))


def short_digest(digest: str) -> str:
    return digest[:19] if digest.startswith("sha256:") else digest


def error_body(response: httpx.Response) -> tuple[tuple[str, ...], str]:
    """OCI error codes and the first message of `{"errors": [{"code", "message"}]}`."""
    try:
        raw = response.content[:65536]
    except httpx.ResponseNotRead:
        return (), ""
    try:
        doc = json_object(raw, "the error body")
    except ValueError:
        return (), ""
    errors = doc.get("errors")
    codes: list[str] = []
    message = ""
    if isinstance(errors, list):
        for err in errors:
            if isinstance(err, dict):
                if isinstance(err.get("code"), str):
                    codes.append(err["code"])
                if not message and isinstance(err.get("message"), str):
                    message = err["message"]
    elif isinstance(doc.get("message"), str):  # GitHub REST style
        message = doc["message"]
    elif isinstance(doc.get("details"), str):  # the token service's style
        message = doc["details"]
    return tuple(codes), message[:300]


def untrusted(exc: httpx.TransportError) -> bool:
    """The server's certificate failed verification: a retry cannot fix that, the CA can."""
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def unreachable(text: str, exc: httpx.TransportError, *, name: str) -> Unreachable:
    """`Unreachable` for a transport error: the CA hint when TLS failed, else "is `name` up"."""
    hint = f"check that {name} resolves and the appliance is up"
    if untrusted(exc):
        hint = "pass the appliance's CA with --ca-file (site: [connection] ca_file)"
    return Unreachable(text, hint=hint)


def iter_body(response: httpx.Response, op: str) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes()
    except httpx.TransportError as exc:
        raise Unreachable(f"{op}: {describe(exc)}") from None
