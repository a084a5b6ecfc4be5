"""Manifest and blob pulls, and tag lists (distribution-spec v1.1 pull).

- Manifests: pull by tag or digest with an Accept list; the body's sha256 must match the
  digest asked for / announced.
- Blob pull: streamed to a sink, hashed (and sized) while reading; a mismatch names the blob.
  A connection lost mid-blob resumes with `Range: bytes=N-` (the hash state is kept).
- Tag list, following `Link: rel="next"`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ghes_setup.errors import Unreachable
from ghes_setup.httpclient import describe
from ghes_setup.registry.errors import DigestMismatch, RegistryHTTPError
from ghes_setup.registry.oci import (
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    Descriptor,
    DigestVerifier,
    is_digest,
    sha256_digest,
)
from ghes_setup.registry.session import RegistrySession
from ghes_setup.registry.wire import ProgressFn, iter_body, repository_scope, short_digest

Sink = Callable[[bytes], object]


@dataclass(frozen=True, slots=True)
class BlobPull:
    descriptor: Descriptor
    seconds: float
    resumed: int = 0


@dataclass(frozen=True, slots=True)
class PulledManifest:
    body: bytes
    media_type: str
    digest: str


class BlobDownloader:
    """Pulls manifests, blobs and tag lists through a `RegistrySession`."""

    def __init__(self, session: RegistrySession) -> None:
        self._s = session

    def get_manifest(
        self,
        repository: str,
        reference: str,
        *,
        accept: tuple[str, ...] = MANIFEST_ACCEPT,
    ) -> PulledManifest:
        """GET a manifest by tag or digest; its sha256 must match what we asked for / were told."""
        op = (
            f"GET manifest {repository}:{reference}"
            if not is_digest(reference)
            else (f"GET manifest {repository}@{short_digest(reference)}")
        )
        with self._s.stream(
            "GET",
            self._s.url(f"/v2/{repository}/manifests/{reference}"),
            scope=repository_scope(repository, "pull"),
            headers={"Accept": ", ".join(accept)},
            op=op,
        ) as response:
            if response.status_code != 200:
                response.read()
                raise self._s.error(response, op)
            chunks: list[bytes] = []
            size = 0
            for chunk in iter_body(response, op):
                size += len(chunk)
                if size > MAX_MANIFEST_BYTES:
                    raise RegistryHTTPError(
                        f"{op}: manifest larger than {MAX_MANIFEST_BYTES} bytes", status=200
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
            announced = response.headers.get("docker-content-digest")
        digest = sha256_digest(body)
        if is_digest(reference) and digest != reference:
            raise DigestMismatch(
                f"{op}: the manifest served hashes to {digest}", digest=reference, actual=digest
            )
        if announced and announced != digest:
            raise DigestMismatch(
                f"{op}: Docker-Content-Digest says {announced} but the body hashes to {digest}",
                digest=announced,
                actual=digest,
            )
        return PulledManifest(body, media_type, digest)

    def pull_blob(
        self,
        repository: str,
        descriptor: Descriptor,
        sink: Sink | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> BlobPull:
        """Stream a blob into `sink`, verifying its sha256 and size while reading."""
        verifier = DigestVerifier(descriptor)
        op = f"GET blob {short_digest(descriptor.digest)}"
        url = self._s.url(f"/v2/{repository}/blobs/{descriptor.digest}")
        state = self._s.new_retry()
        started = self._s.clock()
        resumed = 0
        while True:
            offset = verifier.size
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with self._s.stream(
                    "GET",
                    url,
                    scope=repository_scope(repository, "pull"),
                    headers=headers,
                    op=op,
                    retry=state,
                    follow_redirects=True,
                ) as response:
                    self._check_pull_start(response, op, offset)
                    for chunk in response.iter_bytes():
                        verifier.update(chunk)
                        if verifier.too_long:
                            raise DigestMismatch(
                                f"blob {descriptor.digest} in {repository}: more than the "
                                f"{descriptor.size} bytes its descriptor says",
                                digest=descriptor.digest,
                            )
                        if sink is not None:
                            sink(chunk)
                        if progress is not None:
                            progress(verifier.size)
                break
            except httpx.TransportError as exc:
                delay = state.next_delay(f"{op}: {describe(exc)}")
                if delay is None:
                    raise Unreachable(f"{op} from {self._s.registry}: {describe(exc)}") from None
                self._s.event(f"{op}: connection lost at byte {verifier.size}; resuming")
                self._s.stats.retries += 1
                self._s.stats.pulls_resumed += 1
                resumed += 1
                self._s.sleep(delay)
        problem = verifier.problem()
        if problem is not None:
            raise DigestMismatch(
                f"blob {descriptor.digest} pulled from {repository} does not match its digest: "
                f"{problem}",
                digest=descriptor.digest,
                actual=verifier.digest,
                hint="the registry's storage holds corrupted data for this blob; "
                "check the storage bucket (ghe-check-blob-connection)",
            )
        return BlobPull(descriptor, self._s.clock() - started, resumed)

    def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of the repository, following `Link: <...>; rel="next"` pages."""
        url: httpx.URL | None = self._s.url(f"/v2/{repository}/tags/list")
        if page_size and url is not None:
            url = url.copy_merge_params({"n": str(page_size)})
        tags: list[str] = []
        visited: set[str] = set()
        for _ in range(1000):  # a bound on the pages of a registry that never stops linking
            if url is None or str(url) in visited:  # a page linking back: the list is done
                break
            visited.add(str(url))
            response = self._s.send(
                "GET",
                url,
                scope=repository_scope(repository, "pull"),
                retry=self._s.new_retry(),
                op=f"GET tags of {repository}",
            )
            if response.status_code != 200:
                raise self._s.error(response, f"GET tags of {repository}")
            try:
                doc = response.json()
            except ValueError:
                raise RegistryHTTPError(
                    f"tags of {repository}: the answer is not JSON", status=200
                ) from None
            page = doc.get("tags") if isinstance(doc, dict) else None
            tags.extend(t for t in page or [] if isinstance(t, str))
            link = _next_link(response.headers.get("link"))
            op = f"GET tags of {repository}"
            url = None if link is None else self._s.target(link, op, base=url)
        return tags

    def _check_pull_start(self, response: httpx.Response, op: str, offset: int) -> None:
        status = response.status_code
        if offset == 0 and status == 200:
            return
        if offset and status == 206:
            start = _content_range_start(response.headers.get("content-range"))
            if start == offset:
                return
        response.read()
        if offset and status == 200:
            raise RegistryHTTPError(
                f"{op}: the registry cannot resume a download (no Range support)", status=200
            )
        raise self._s.error(response, op)


def _content_range_start(value: str | None) -> int | None:
    m = re.match(r"^\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*$", value or "")
    return int(m.group(1)) if m else None


def _next_link(header: str | None) -> str | None:
    """The target of `Link: <...>; rel="next"`, as written (resolved by `RegistrySession.target`
    against the page's URL)."""
    if not header:
        return None
    for part in header.split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)$", part)
        if m and re.search(r'rel="?next"?', m.group(2)):
            return m.group(1)
    return None
