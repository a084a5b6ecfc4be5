"""Blob and manifest uploads (distribution-spec v1.1 push), with resume after an interruption.

- Blob push: `HEAD` first (an existing blob is skipped), `POST` an upload, then one monolithic
  `PUT <location>&digest=` or `PATCH`es with `Content-Range` and a closing `PUT`. The closing
  URL keeps the Location's own query (`_state`): replacing it loses the upload session
  (see `upload_url_with_digest`). Bodies stream from a `BlobSource` with an explicit
  Content-Length; nothing holds a blob.
- Interrupted uploads (connection error, 5xx, 404 on a lost session, 416): ask the server for
  the upload's status (`GET <location>` -> `Range: 0-N`) and resume at N+1 where it answers;
  otherwise cancel it and start a new upload. distribution answers a stale `_state` with 404
  BLOB_UPLOAD_INVALID (checked against 2.8.2), so after a half-written chunk it is a restart.
- Manifests: push with the OCI (default) or Docker schema 2 media type; the returned
  `Docker-Content-Digest` must be the sha256 of the exact bytes sent.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import httpx

from ghes_setup.errors import Unreachable
from ghes_setup.registry.errors import DigestMismatch, RegistryHTTPError, UploadFailed
from ghes_setup.registry.oci import MANIFEST_ACCEPT, BlobSource, Descriptor, sha256_digest
from ghes_setup.registry.retry import RETRYABLE_STATUS, RetryState, parse_retry_after
from ghes_setup.registry.session import RegistrySession, answered_by
from ghes_setup.registry.wire import ProgressFn, error_body, repository_scope, short_digest

_LOST_UPLOAD_CODES: Final = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})
_BAD_CONTENT_CODES: Final = frozenset({"DIGEST_INVALID", "SIZE_INVALID"})
_RANGE = re.compile(r"^\s*(?:bytes[= ])?(\d+)-(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class BlobPush:
    descriptor: Descriptor
    skipped: bool
    seconds: float
    bytes_sent: int
    retries: int = 0


class _Interrupted(Exception):
    """An upload request failed in a way a retry may fix (internal to push_blob)."""

    def __init__(
        self,
        reason: str,
        *,
        location: str | None,
        offset: int,
        retry_after: float | None = None,
        lost: bool = False,
        closing: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.location = location
        self.offset = offset
        self.retry_after = retry_after
        self.lost = lost  # the server no longer knows the upload: start a new one
        self.closing = closing  # it was the closing PUT: the blob may have been committed


class BlobUploader:
    """Pushes blobs and manifests through a `RegistrySession`."""

    def __init__(self, session: RegistrySession) -> None:
        self._s = session

    def blob_size(self, repository: str, digest: str) -> int | None:
        """The size of a blob the repository has, or None when it has not got it."""
        response = self._s.send(
            "HEAD",
            self._s.url(f"/v2/{repository}/blobs/{digest}"),
            scope=repository_scope(repository, "pull"),
            retry=self._s.new_retry(),
            op=f"HEAD blob {short_digest(digest)}",
            follow_redirects=True,
        )
        if response.status_code == 200:
            length = response.headers.get("content-length")
            return int(length) if length and length.isdigit() else -1
        if response.status_code == 404:
            return None
        raise self._s.error(response, f"HEAD blob {short_digest(digest)} in {repository}")

    def push(
        self,
        repository: str,
        blob: BlobSource,
        *,
        chunk_size: int | None = None,
        progress: ProgressFn | None = None,
    ) -> BlobPush:
        """Upload a blob unless the repository has it; monolithic, or chunked by `chunk_size`."""
        desc = blob.descriptor
        started = self._s.clock()
        if self.blob_size(repository, desc.digest) is not None:
            if progress:
                progress(desc.size)
            return BlobPush(desc, skipped=True, seconds=self._s.clock() - started, bytes_sent=0)
        state = self._s.new_retry()
        location: str | None = None
        offset = 0
        counter = _Counter(progress)

        def pushed() -> BlobPush:
            return BlobPush(
                desc,
                skipped=False,
                seconds=self._s.clock() - started,
                bytes_sent=counter.total,
                retries=state.failures,
            )

        while True:
            try:
                if location is None:
                    location, offset = self._start_upload(repository, state), 0
                if chunk_size or offset > 0:
                    step = chunk_size or (desc.size - offset)
                    location, offset = self._patch(
                        repository, location, blob, offset, step, counter
                    )
                    self._close(repository, location, desc, None, counter)
                else:
                    self._close(repository, location, desc, blob, counter)
                return pushed()
            except _Interrupted as exc:
                delay = state.next_delay(exc.reason, exc.retry_after)
                if delay is None:
                    raise UploadFailed(
                        f"upload of blob {short_digest(desc.digest)} to {repository} failed after "
                        f"{state.failures} attempt(s): {exc.reason}",
                        hint="check the registry's storage and the proxy in front of it "
                        "(ghe-check-blob-connection); a proxy that limits request bodies "
                        "needs --chunk-size",
                    ) from None
                self._s.event(f"{exc.reason}; retrying in {delay:.1f} s")
                self._s.stats.retries += 1
                self._s.sleep(delay)
                if exc.closing and self._committed(repository, desc):
                    return pushed()
                location, offset = self._recover(repository, exc)
                counter.rewind(offset)

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest by tag or digest; returns its digest, checked against the server's."""
        expected = sha256_digest(body)
        response = self._s.send(
            "PUT",
            self._s.url(f"/v2/{repository}/manifests/{reference}"),
            scope=repository_scope(repository, "pull", "push"),
            headers={"Content-Type": media_type},
            body=lambda: body,
            retry=self._s.new_retry(),
            op=f"PUT manifest {repository}:{reference}",
        )
        if response.status_code not in (200, 201):
            raise self._s.error(response, f"PUT manifest {repository}:{reference}")
        announced = response.headers.get("docker-content-digest")
        if announced is None:
            # No header to compare: ask for the manifest under the digest we computed.
            head = self._s.send(
                "HEAD",
                self._s.url(f"/v2/{repository}/manifests/{expected}"),
                scope=repository_scope(repository, "pull"),
                headers={"Accept": ", ".join(MANIFEST_ACCEPT)},
                retry=self._s.new_retry(),
                op="HEAD manifest",
            )
            if head.status_code != 200:
                raise DigestMismatch(
                    f"the registry accepted manifest {repository}:{reference} but has nothing "
                    f"under its digest {expected}",
                    digest=expected,
                )
        elif announced != expected:
            raise DigestMismatch(
                f"the registry stored manifest {repository}:{reference} as {announced}, but the "
                f"bytes sent hash to {expected}",
                digest=expected,
                actual=announced,
                hint="something between us and the registry rewrote the manifest",
            )
        return expected

    def _start_upload(self, repository: str, state: RetryState) -> str:
        op = f"POST upload to {repository}"
        response = self._s.send(
            "POST",
            self._s.url(f"/v2/{repository}/blobs/uploads/"),
            scope=repository_scope(repository, "pull", "push"),
            headers={"Content-Length": "0"},
            retry=state,
            op=op,
        )
        if response.status_code != 202:
            raise self._s.error(response, op)
        location = response.headers.get("location")
        if not location:
            raise RegistryHTTPError(f"{op}: 202 without a Location header", status=202)
        # A relative Location resolves against the URL it answered (RFC 7231 §7.1.2, which the
        # distribution-spec cites for <blob-push-location>), not against the registry's root.
        return str(self._s.target(location, op, base=answered_by(response)))

    def _patch(
        self,
        repository: str,
        location: str,
        blob: BlobSource,
        offset: int,
        chunk_size: int,
        counter: _Counter,
    ) -> tuple[str, int]:
        size = blob.descriptor.size
        while offset < size:
            end = min(offset + chunk_size, size)
            start = offset
            op = f"PATCH {short_digest(blob.descriptor.digest)} bytes {start}-{end - 1}"
            counter.rewind(start)
            try:
                response = self._s.send(
                    "PATCH",
                    httpx.URL(location),
                    scope=repository_scope(repository, "pull", "push"),
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(end - start),
                        "Content-Range": f"{start}-{end - 1}",
                    },
                    body=functools.partial(counter.wrap_range, blob, start, end),
                    retry=None,
                    op=op,
                )
            except Unreachable as exc:
                raise _Interrupted(exc.message, location=location, offset=start) from None
            status = response.status_code
            if status == 202:
                named = response.headers.get("location") or location
                location = str(self._s.target(named, op, base=answered_by(response)))
                confirmed = _range_end(response.headers.get("range"))
                if confirmed is not None and confirmed != end - 1:
                    raise _Interrupted(
                        f"{op}: the registry confirmed bytes 0-{confirmed}",
                        location=location,
                        offset=end,
                    )
                offset = end
                continue
            self._raise_interrupted(response, op, location, start, closing=False)
        return location, offset

    def _close(
        self,
        repository: str,
        location: str,
        desc: Descriptor,
        blob: BlobSource | None,
        counter: _Counter,
    ) -> None:
        url = upload_url_with_digest(location, desc.digest)
        op = f"PUT {short_digest(desc.digest)}" + (" (monolithic)" if blob is not None else "")
        headers = {"Content-Type": "application/octet-stream"}
        if blob is not None:
            headers["Content-Length"] = str(desc.size)
            counter.rewind(0)
        else:
            headers["Content-Length"] = "0"
        try:
            response = self._s.send(
                "PUT",
                httpx.URL(url),
                scope=repository_scope(repository, "pull", "push"),
                headers=headers,
                body=(lambda: counter.wrap(blob.chunks())) if blob is not None else None,
                retry=None,
                op=op,
            )
        except Unreachable as exc:
            raise _Interrupted(exc.message, location=location, offset=0, closing=True) from None
        if response.status_code in (201, 204):
            announced = response.headers.get("docker-content-digest")
            if announced and announced != desc.digest:
                raise DigestMismatch(
                    f"the registry stored blob {desc.digest} as {announced}",
                    digest=desc.digest,
                    actual=announced,
                )
            return
        self._raise_interrupted(response, op, location, 0, closing=True)

    def _raise_interrupted(
        self, response: httpx.Response, op: str, location: str, offset: int, *, closing: bool
    ) -> None:
        status = response.status_code
        codes, _ = error_body(response)
        text = f"{op}: HTTP {status}" + (f" {', '.join(codes)}" if codes else "")
        if status in RETRYABLE_STATUS:
            raise _Interrupted(
                text,
                location=location,
                offset=offset,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                closing=closing,
            )
        if status == 404 and (not codes or set(codes) & _LOST_UPLOAD_CODES):
            raise _Interrupted(text, location=None, offset=0, lost=True)
        if status == 416:
            raise _Interrupted(text, location=location, offset=offset)
        if status == 400 and set(codes) & _BAD_CONTENT_CODES:
            # What arrived is not what we sent (a resumed upload that went wrong): start over.
            raise _Interrupted(text, location=None, offset=0, lost=True)
        raise self._s.error(response, op)

    def _committed(self, repository: str, desc: Descriptor) -> bool:
        """After a failed closing PUT: maybe the registry committed the blob anyway."""
        try:
            return self.blob_size(repository, desc.digest) is not None
        except (Unreachable, RegistryHTTPError):
            return False

    def _recover(self, repository: str, exc: _Interrupted) -> tuple[str | None, int]:
        """Where to go on after an interruption: (location, offset) or (None, 0) to restart."""
        if exc.lost or exc.location is None:
            self._s.stats.uploads_restarted += 1
            self._s.event("upload session lost; starting a new upload")
            return None, 0
        try:
            response = self._s.send(
                "GET",
                httpx.URL(exc.location),
                scope=repository_scope(repository, "pull", "push"),
                retry=None,
                op="GET upload status",
            )
        except (Unreachable, RegistryHTTPError):
            self._s.stats.uploads_restarted += 1
            return None, 0
        end = _range_end(response.headers.get("range"))
        if response.status_code in (200, 202, 204) and end is not None:
            named = response.headers.get("location") or exc.location
            location = str(self._s.target(named, "upload status", base=answered_by(response)))
            if end == 0 and exc.offset == 0:
                # "0-0" means empty here: nothing of ours was confirmed yet.
                self._s.stats.uploads_resumed += 1
                self._s.event("upload status: nothing received yet; resuming at byte 0")
                return location, 0
            if end > 0:
                self._s.stats.uploads_resumed += 1
                self._s.event(f"upload status: {end + 1} bytes received; resuming there")
                return location, end + 1
        self._cancel(repository, exc.location)
        self._s.stats.uploads_restarted += 1
        self._s.event("upload cannot be resumed; starting a new upload")
        return None, 0

    def _cancel(self, repository: str, location: str) -> None:
        # Best effort: an abandoned upload is garbage-collected by the registry anyway.
        with contextlib.suppress(Exception):
            self._s.send(
                "DELETE",
                httpx.URL(location),
                scope=repository_scope(repository, "pull", "push"),
                retry=None,
                op="cancel upload",
            )


class _Counter:
    """Counts the bytes an upload body has handed to the connection, for progress."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self._progress = progress
        self.base = 0
        self.total = 0

    def rewind(self, offset: int) -> None:
        self.base = offset
        self.total = offset

    def wrap_range(self, blob: BlobSource, start: int, end: int) -> Iterator[bytes]:
        return self.wrap(blob.chunks(start, end))

    def wrap(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        self.total = self.base
        for chunk in chunks:
            yield chunk
            self.total += len(chunk)
            if self._progress is not None:
                self._progress(self.total)


def upload_url_with_digest(location: str, digest: str) -> str:
    """The closing PUT URL: the Location as given (its `_state` query kept) plus `digest=`.

    Never `params={"digest": d}` on a URL with a query: httpx replaces the query, `_state` is
    lost, and the registry answers 404 BLOB_UPLOAD_UNKNOWN (docs/registry.md, "Uploads").
    """
    url = httpx.URL(location)
    extra = b"digest=" + digest.replace(":", "%3A").encode("ascii")
    query = url.query + b"&" + extra if url.query else extra
    return str(url.copy_with(query=query))


def _range_end(value: str | None) -> int | None:
    """`Range: 0-1023` -> 1023 (the last byte the server has)."""
    if not value:
        return None
    m = _RANGE.match(value)
    return int(m.group(2)) if m else None
