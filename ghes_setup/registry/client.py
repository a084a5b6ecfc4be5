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

from dataclasses import dataclass
from typing import Unpack

import httpx

from ghes_setup.registry.download import BlobDownloader, BlobPull, PulledManifest
from ghes_setup.registry.errors import AccessDenied, InsufficientScope
from ghes_setup.registry.session import ClientStats, Ping, RegistrySession, SessionOptions
from ghes_setup.registry.token_auth import CLASSIC_PAT_HINT, Credentials
from ghes_setup.registry.upload import BlobPush, BlobUploader, upload_url_with_digest
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
    """One registry (`containers.HOSTNAME[:port]`), one set of credentials.

    The operations are the parts' own methods (their docstrings say what each does):
    `ping`, `login`, `set_credentials` of the session; `blob_size`, `push_blob` and
    `push_manifest` of the uploader; `get_manifest`, `pull_blob` and `list_tags` of the
    downloader. Only `delete_manifest` is the client's own.
    """

    def __init__(
        self, http: httpx.Client, registry: str, **options: Unpack[SessionOptions]
    ) -> None:
        self._s = RegistrySession(http, registry, **options)
        uploader = BlobUploader(self._s)
        downloader = BlobDownloader(self._s)
        self.ping = self._s.ping
        self.login = self._s.login
        self.set_credentials = self._s.set_credentials
        self.blob_size = uploader.blob_size
        self.push_blob = uploader.push
        self.push_manifest = uploader.push_manifest
        self.get_manifest = downloader.get_manifest
        self.pull_blob = downloader.pull_blob
        self.list_tags = downloader.list_tags

    @property
    def registry(self) -> str:
        return self._s.registry

    @property
    def stats(self) -> ClientStats:
        """What happened on the wire, for the smoke test's details."""
        return self._s.stats

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
