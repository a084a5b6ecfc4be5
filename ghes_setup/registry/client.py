"""A small OCI distribution client on httpx: token auth, streaming push and pull, retries.

The client is a facade over parts that each do one thing (distribution-spec v1.1; token auth
per the CNCF distribution token spec):
- `session.RegistrySession`: one request with auth and retries (`GET /v2/` ping included);
- `token_auth.TokenAuth`: the token realm, the token cache and Basic credentials;
- `upload.BlobUploader`: blob pushes (monolithic or chunked, resumed after an interruption)
  and manifest pushes;
- `download.BlobDownloader`: manifest and blob pulls (hashed while reading, resumed with
  `Range`) and tag lists;
- here: manifest delete (405 -> a result, not a crash).

Errors: no connection -> `errors.Unreachable`; refused credentials -> `AuthenticationFailed`;
everything else that means "the registry does not work" -> `registry.errors.*`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ghes_setup.registry.auth import Token
from ghes_setup.registry.download import BlobDownloader, BlobPull, PulledManifest, Sink
from ghes_setup.registry.errors import AccessDenied, InsufficientScope
from ghes_setup.registry.oci import MANIFEST_ACCEPT, BlobSource, Descriptor
from ghes_setup.registry.retry import RetryPolicy
from ghes_setup.registry.session import ClientStats, Ping, RegistrySession
from ghes_setup.registry.token_auth import CLASSIC_PAT_HINT, Credentials
from ghes_setup.registry.upload import BlobPush, BlobUploader, ProgressFn, upload_url_with_digest
from ghes_setup.registry.wire import error_body, repository_scope, short_digest

__all__ = [
    "CLASSIC_PAT_HINT",
    "BlobPull",
    "BlobPush",
    "ClientStats",
    "Credentials",
    "DeleteResult",
    "Ping",
    "PulledManifest",
    "RegistryClient",
    "upload_url_with_digest",
]


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: bool
    status: int
    reason: str


class RegistryClient:
    """One registry (`containers.HOSTNAME[:port]`), one set of credentials."""

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
        self._s = RegistrySession(
            http,
            registry,
            credentials=credentials,
            retry=retry,
            scheme=scheme,
            clock=clock,
            sleep=sleep,
            on_event=on_event,
        )
        self._up = BlobUploader(self._s)
        self._down = BlobDownloader(self._s)

    @property
    def registry(self) -> str:
        return self._s.registry

    @property
    def stats(self) -> ClientStats:
        """What happened on the wire, for the smoke test's details."""
        return self._s.stats

    def set_credentials(self, credentials: Credentials | None) -> None:
        """Use these credentials from now on (cached tokens of other credentials are dropped)."""
        self._s.set_credentials(credentials)

    def ping(self) -> Ping:
        """`GET /v2/`: 200 (open registry) or 401 with a challenge are both a working registry."""
        return self._s.ping()

    def login(self, repository: str, actions: tuple[str, ...] = ("pull", "push")) -> Token | None:
        """Get (and cache) a token for `actions` on `repository`; None for an open registry."""
        return self._s.login(repository, actions)

    def blob_size(self, repository: str, digest: str) -> int | None:
        """The size of a blob the repository has, or None when it has not got it."""
        return self._up.blob_size(repository, digest)

    def push_blob(
        self,
        repository: str,
        blob: BlobSource,
        *,
        chunk_size: int | None = None,
        progress: ProgressFn | None = None,
    ) -> BlobPush:
        """Upload a blob unless the repository has it; monolithic, or chunked by `chunk_size`."""
        return self._up.push(repository, blob, chunk_size=chunk_size, progress=progress)

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest by tag or digest; returns its digest, checked against the server's."""
        return self._up.push_manifest(repository, reference, body, media_type)

    def get_manifest(
        self, repository: str, reference: str, *, accept: tuple[str, ...] = MANIFEST_ACCEPT
    ) -> PulledManifest:
        """GET a manifest by tag or digest; its sha256 must match what we asked for / were told."""
        return self._down.get_manifest(repository, reference, accept=accept)

    def pull_blob(
        self,
        repository: str,
        descriptor: Descriptor,
        sink: Sink | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> BlobPull:
        """Stream a blob into `sink`, verifying its sha256 and size while reading."""
        return self._down.pull_blob(repository, descriptor, sink, progress=progress)

    def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of the repository, following `Link: <...>; rel="next"` pages."""
        return self._down.list_tags(repository, page_size=page_size)

    def delete_manifest(self, repository: str, digest: str) -> DeleteResult:
        """DELETE a manifest by digest. A registry that does not allow it gives a result."""
        op = f"DELETE manifest {repository}@{short_digest(digest)}"
        try:
            response = self._s.send(
                "DELETE",
                self._s.url(f"/v2/{repository}/manifests/{digest}"),
                scope=repository_scope(repository, "delete"),
                retry=self._s.new_retry(),
                op=op,
            )
        except InsufficientScope as exc:
            return DeleteResult(False, 401, f"the token may not delete: {exc.message}")
        except AccessDenied as exc:
            return DeleteResult(False, 403, exc.message)
        status = response.status_code
        if status in (200, 202, 204):
            return DeleteResult(True, status, "deleted")
        codes, message = error_body(response)
        text = ", ".join(codes) or message or response.reason_phrase
        if status == 405 or "UNSUPPORTED" in codes:
            return DeleteResult(False, status, f"the registry does not allow deletes ({text})")
        if status == 404:
            return DeleteResult(False, status, f"not found ({text})")
        return DeleteResult(False, status, f"HTTP {status} ({text})")
