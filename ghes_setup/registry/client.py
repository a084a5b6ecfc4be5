"""A small OCI distribution client on httpx: token auth, streaming push and pull, retries.

What it does (distribution-spec v1.1; token auth per the CNCF distribution token spec):
- `ping()`: `GET /v2/`; a 401 with a Bearer challenge tells us the token realm and service.
- Auth: a token from the realm with Basic user:PAT (`?service=&scope=`), cached by the
  normalised scope set (`auth.TokenCache`); a 401 `insufficient_scope` is answered ONCE by asking
  for the wider scope (ours plus the challenge's), then it is an `InsufficientScope` error.
- Blob push: `HEAD` first (an existing blob is skipped), `POST` an upload, then one monolithic
  `PUT <location>&digest=` or `PATCH`es with `Content-Range` and a closing `PUT`. The closing
  URL keeps the Location's own query (`_state`): replacing it is the trap in
  docs/reference/lab-design.md §1. Bodies stream from a `BlobSource` with an explicit
  Content-Length; nothing holds a blob.
- Interrupted uploads (connection error, 5xx, 404 on a lost session, 416): ask the server for
  the upload's status (`GET <location>` -> `Range: 0-N`) and resume at N+1 where it answers;
  otherwise cancel it and start a new upload. distribution answers a stale `_state` with 404
  BLOB_UPLOAD_INVALID (checked against 2.8.2), so after a half-written chunk it is a restart.
- Manifests: push with the OCI (default) or Docker schema 2 media type; the returned
  `Docker-Content-Digest` must be the sha256 of the exact bytes sent. Pull by tag or digest
  with an Accept list; the body's sha256 must match the digest asked for / announced.
- Blob pull: streamed to a sink, hashed (and sized) while reading; a mismatch names the blob.
  A connection lost mid-blob resumes with `Range: bytes=N-` (the hash state is kept).
- Tag list (following `Link: rel="next"`), manifest delete (405 -> a result, not a crash).
- Retries with backoff on connection errors and 5xx, bounded by count and total time.

Errors: no connection -> `errors.Unreachable`; refused credentials -> `AuthenticationFailed`;
everything else that means "the registry does not work" -> `registry.errors.*`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

import httpx

from ghes_setup.errors import AuthenticationFailed, Unreachable
from ghes_setup.httpclient import describe
from ghes_setup.registry.auth import (
    Challenge,
    Scope,
    ScopeSet,
    Token,
    TokenCache,
    TokenResponseError,
    parse_token_response,
    parse_www_authenticate,
)
from ghes_setup.registry.errors import (
    AccessDenied,
    DigestMismatch,
    InsufficientScope,
    RegistryHTTPError,
    UploadFailed,
)
from ghes_setup.registry.oci import (
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    BlobSource,
    Descriptor,
    DigestVerifier,
    is_digest,
    sha256_digest,
)
from ghes_setup.registry.retry import (
    RETRYABLE_STATUS,
    RetryPolicy,
    RetryState,
    parse_retry_after,
)
from ghes_setup.secrets import Secret

ProgressFn = Callable[[int], None]
Sink = Callable[[bytes], object]

CLASSIC_PAT_HINT: Final = (
    "use a classic personal access token with read:packages and write:packages; "
    "GitHub Packages does not accept fine-grained tokens"
)
_LOST_UPLOAD_CODES: Final = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})
_BAD_CONTENT_CODES: Final = frozenset({"DIGEST_INVALID", "SIZE_INVALID"})
_RANGE = re.compile(r"^\s*(?:bytes[= ])?(\d+)-(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: Secret


@dataclass(frozen=True, slots=True)
class Ping:
    status: int
    challenges: tuple[Challenge, ...]
    api_version: str | None

    @property
    def bearer(self) -> Challenge | None:
        return next((c for c in self.challenges if c.scheme == "bearer"), None)


@dataclass(frozen=True, slots=True)
class BlobPush:
    descriptor: Descriptor
    skipped: bool
    seconds: float
    bytes_sent: int
    retries: int = 0


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


@dataclass(frozen=True, slots=True)
class DeleteResult:
    deleted: bool
    status: int
    reason: str


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
        self._http = http
        self.registry = registry
        self._base = httpx.URL(f"{scheme}://{registry}")
        self._credentials = credentials
        self._policy = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._on_event = on_event
        self._tokens = TokenCache()
        self._realm: str | None = None
        self._service: str | None = None
        self._basic = False
        self.stats = ClientStats()

    # ------------------------------------------------------------------ public API

    def set_credentials(self, credentials: Credentials | None) -> None:
        """Use these credentials from now on (cached tokens of other credentials are dropped)."""
        self._credentials = credentials
        self._tokens = TokenCache()

    def ping(self) -> Ping:
        """`GET /v2/`: 200 (open registry) or 401 with a challenge are both a working registry."""
        state = self._policy.start(clock=self._clock)
        response = self._send(
            "GET", self._url("/v2/"), scope=None, retry=state, op="GET /v2/", authenticate=False
        )
        challenges = tuple(parse_www_authenticate(response.headers.get_list("www-authenticate")))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if response.status_code == 401 and bearer is not None and bearer.realm:
            self._realm, self._service = bearer.realm, bearer.service
        elif response.status_code == 401 and any(c.scheme == "basic" for c in challenges):
            self._basic = True
        return Ping(
            response.status_code,
            challenges,
            response.headers.get("docker-distribution-api-version"),
        )

    def login(self, repository: str, actions: tuple[str, ...] = ("pull", "push")) -> Token | None:
        """Get (and cache) a token for `actions` on `repository`; None for an open registry."""
        if self._realm is None and not self._basic:
            self.ping()
        if self._realm is None:
            return None
        wanted = ScopeSet.of([Scope.repository(repository, actions)])
        return self._tokens.find(wanted, self._clock()) or self._fetch_token(wanted)

    def blob_size(self, repository: str, digest: str) -> int | None:
        """The size of a blob the repository has, or None when it has not got it."""
        response = self._send(
            "HEAD",
            self._url(f"/v2/{repository}/blobs/{digest}"),
            scope=_scope(repository, "pull"),
            retry=self._policy.start(clock=self._clock),
            op=f"HEAD blob {_short(digest)}",
            follow_redirects=True,
        )
        if response.status_code == 200:
            length = response.headers.get("content-length")
            return int(length) if length and length.isdigit() else -1
        if response.status_code == 404:
            return None
        raise self._error(response, f"HEAD blob {_short(digest)} in {repository}")

    def push_blob(
        self,
        repository: str,
        blob: BlobSource,
        *,
        chunk_size: int | None = None,
        progress: ProgressFn | None = None,
    ) -> BlobPush:
        """Upload a blob unless the repository has it; monolithic, or chunked by `chunk_size`."""
        desc = blob.descriptor
        started = self._clock()
        if self.blob_size(repository, desc.digest) is not None:
            if progress:
                progress(desc.size)
            return BlobPush(desc, skipped=True, seconds=self._clock() - started, bytes_sent=0)
        state = self._policy.start(clock=self._clock)
        location: str | None = None
        offset = 0
        counter = _Counter(progress)
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
                return BlobPush(
                    desc,
                    skipped=False,
                    seconds=self._clock() - started,
                    bytes_sent=counter.total,
                    retries=state.failures,
                )
            except _Interrupted as exc:
                delay = state.next_delay(exc.reason, exc.retry_after)
                if delay is None:
                    raise UploadFailed(
                        f"upload of blob {_short(desc.digest)} to {repository} failed after "
                        f"{state.failures} attempt(s): {exc.reason}",
                        hint="check the registry's storage and the proxy in front of it "
                        "(ghe-check-blob-connection); a proxy that limits request bodies "
                        "needs --chunk-size",
                    ) from None
                self._event(f"{exc.reason}; retrying in {delay:.1f} s")
                self.stats.retries += 1
                self._sleep(delay)
                if exc.closing and self._committed(repository, desc):
                    return BlobPush(
                        desc,
                        skipped=False,
                        seconds=self._clock() - started,
                        bytes_sent=counter.total,
                        retries=state.failures,
                    )
                location, offset = self._recover(repository, exc)
                counter.rewind(offset)

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest by tag or digest; returns its digest, checked against the server's."""
        expected = sha256_digest(body)
        response = self._send(
            "PUT",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            scope=_scope(repository, "pull", "push"),
            headers={"Content-Type": media_type},
            body=lambda: body,
            retry=self._policy.start(clock=self._clock),
            op=f"PUT manifest {repository}:{reference}",
        )
        if response.status_code not in (200, 201):
            raise self._error(response, f"PUT manifest {repository}:{reference}")
        announced = response.headers.get("docker-content-digest")
        if announced is None:
            # No header to compare: ask for the manifest under the digest we computed.
            head = self._send(
                "HEAD",
                self._url(f"/v2/{repository}/manifests/{expected}"),
                scope=_scope(repository, "pull"),
                headers={"Accept": ", ".join(MANIFEST_ACCEPT)},
                retry=self._policy.start(clock=self._clock),
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
            else (f"GET manifest {repository}@{_short(reference)}")
        )
        with self._stream(
            "GET",
            self._url(f"/v2/{repository}/manifests/{reference}"),
            scope=_scope(repository, "pull"),
            headers={"Accept": ", ".join(accept)},
            op=op,
        ) as response:
            if response.status_code != 200:
                response.read()
                raise self._error(response, op)
            chunks: list[bytes] = []
            size = 0
            for chunk in _iter(response, op):
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
        op = f"GET blob {_short(descriptor.digest)}"
        url = self._url(f"/v2/{repository}/blobs/{descriptor.digest}")
        state = self._policy.start(clock=self._clock)
        started = self._clock()
        resumed = 0
        while True:
            offset = verifier.size
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with self._stream(
                    "GET",
                    url,
                    scope=_scope(repository, "pull"),
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
                    raise Unreachable(f"{op} from {self.registry}: {describe(exc)}") from None
                self._event(f"{op}: connection lost at byte {verifier.size}; resuming")
                self.stats.retries += 1
                self.stats.pulls_resumed += 1
                resumed += 1
                self._sleep(delay)
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
        return BlobPull(descriptor, self._clock() - started, resumed)

    def list_tags(self, repository: str, *, page_size: int | None = None) -> list[str]:
        """Every tag of the repository, following `Link: <...>; rel="next"` pages."""
        url: httpx.URL | None = self._url(f"/v2/{repository}/tags/list")
        if page_size and url is not None:
            url = url.copy_merge_params({"n": str(page_size)})
        tags: list[str] = []
        for _ in range(1000):  # a bound, in case a registry links pages in a circle
            if url is None:
                break
            response = self._send(
                "GET",
                url,
                scope=_scope(repository, "pull"),
                retry=self._policy.start(clock=self._clock),
                op=f"GET tags of {repository}",
            )
            if response.status_code != 200:
                raise self._error(response, f"GET tags of {repository}")
            try:
                doc = response.json()
            except ValueError:
                raise RegistryHTTPError(
                    f"tags of {repository}: the answer is not JSON", status=200
                ) from None
            page = doc.get("tags") if isinstance(doc, dict) else None
            tags.extend(t for t in page or [] if isinstance(t, str))
            url = _next_link(response.headers.get("link"), url)
        return tags

    def delete_manifest(self, repository: str, digest: str) -> DeleteResult:
        """DELETE a manifest by digest. A registry that does not allow it gives a result."""
        op = f"DELETE manifest {repository}@{_short(digest)}"
        try:
            response = self._send(
                "DELETE",
                self._url(f"/v2/{repository}/manifests/{digest}"),
                scope=_scope(repository, "delete"),
                retry=self._policy.start(clock=self._clock),
                op=op,
            )
        except InsufficientScope as exc:
            return DeleteResult(False, 401, f"the token may not delete: {exc.message}")
        except AccessDenied as exc:
            return DeleteResult(False, 403, exc.message)
        status = response.status_code
        if status in (200, 202, 204):
            return DeleteResult(True, status, "deleted")
        codes, message = _error_body(response)
        text = ", ".join(codes) or message or response.reason_phrase
        if status == 405 or "UNSUPPORTED" in codes:
            return DeleteResult(False, status, f"the registry does not allow deletes ({text})")
        if status == 404:
            return DeleteResult(False, status, f"not found ({text})")
        return DeleteResult(False, status, f"HTTP {status} ({text})")

    # ------------------------------------------------------------------ uploads

    def _start_upload(self, repository: str, state: RetryState) -> str:
        op = f"POST upload to {repository}"
        response = self._send(
            "POST",
            self._url(f"/v2/{repository}/blobs/uploads/"),
            scope=_scope(repository, "pull", "push"),
            headers={"Content-Length": "0"},
            retry=state,
            op=op,
        )
        if response.status_code != 202:
            raise self._error(response, op)
        location = response.headers.get("location")
        if not location:
            raise RegistryHTTPError(f"{op}: 202 without a Location header", status=202)
        return str(self._base.join(location))

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
            op = f"PATCH {_short(blob.descriptor.digest)} bytes {start}-{end - 1}"
            counter.rewind(start)
            try:
                response = self._send(
                    "PATCH",
                    httpx.URL(location),
                    scope=_scope(repository, "pull", "push"),
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
                location = str(self._base.join(response.headers.get("location") or location))
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
        op = f"PUT {_short(desc.digest)}" + (" (monolithic)" if blob is not None else "")
        headers = {"Content-Type": "application/octet-stream"}
        if blob is not None:
            headers["Content-Length"] = str(desc.size)
            counter.rewind(0)
        else:
            headers["Content-Length"] = "0"
        try:
            response = self._send(
                "PUT",
                httpx.URL(url),
                scope=_scope(repository, "pull", "push"),
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
        codes, _ = _error_body(response)
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
        raise self._error(response, op)

    def _committed(self, repository: str, desc: Descriptor) -> bool:
        """After a failed closing PUT: maybe the registry committed the blob anyway."""
        try:
            return self.blob_size(repository, desc.digest) is not None
        except (Unreachable, RegistryHTTPError):
            return False

    def _recover(self, repository: str, exc: _Interrupted) -> tuple[str | None, int]:
        """Where to go on after an interruption: (location, offset) or (None, 0) to restart."""
        if exc.lost or exc.location is None:
            self.stats.uploads_restarted += 1
            self._event("upload session lost; starting a new upload")
            return None, 0
        try:
            response = self._send(
                "GET",
                httpx.URL(exc.location),
                scope=_scope(repository, "pull", "push"),
                retry=None,
                op="GET upload status",
            )
        except (Unreachable, RegistryHTTPError):
            self.stats.uploads_restarted += 1
            return None, 0
        end = _range_end(response.headers.get("range"))
        if response.status_code in (200, 202, 204) and end is not None:
            location = str(self._base.join(response.headers.get("location") or exc.location))
            if end == 0 and exc.offset == 0:
                # "0-0" means empty here: nothing of ours was confirmed yet.
                self.stats.uploads_resumed += 1
                self._event("upload status: nothing received yet; resuming at byte 0")
                return location, 0
            if end > 0:
                self.stats.uploads_resumed += 1
                self._event(f"upload status: {end + 1} bytes received; resuming there")
                return location, end + 1
        self._cancel(repository, exc.location)
        self.stats.uploads_restarted += 1
        self._event("upload cannot be resumed; starting a new upload")
        return None, 0

    def _cancel(self, repository: str, location: str) -> None:
        # Best effort: an abandoned upload is garbage-collected by the registry anyway.
        with contextlib.suppress(Exception):
            self._send(
                "DELETE",
                httpx.URL(location),
                scope=_scope(repository, "pull", "push"),
                retry=None,
                op="cancel upload",
            )

    # ------------------------------------------------------------------ transport

    def _url(self, path: str) -> httpx.URL:
        return self._base.join(path)

    @contextmanager
    def _stream(
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
        response = self._send(
            method,
            url,
            scope=scope,
            headers=headers,
            retry=retry or self._policy.start(clock=self._clock),
            op=op,
            stream=True,
            follow_redirects=follow_redirects,
        )
        try:
            yield response
        finally:
            response.close()

    def _send(
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
        auth_retried = False
        while True:
            token = self._token_for(scope) if authenticate else None
            request_headers = dict(headers or {})
            if token is not None:
                request_headers["Authorization"] = f"Bearer {token.value.reveal()}"
            elif authenticate and self._basic and self._credentials is not None:
                request_headers["Authorization"] = _basic_header(self._credentials)
            request = self._http.build_request(
                method, url, headers=request_headers, content=body() if body else None
            )
            self.stats.requests += 1
            try:
                response = self._http.send(
                    request, stream=stream, follow_redirects=follow_redirects
                )
            except httpx.TransportError as exc:
                reason = f"{op}: {describe(exc)}"
                trusted = "CERTIFICATE_VERIFY_FAILED" not in str(exc)
                delay = retry.next_delay(reason) if retry is not None and trusted else None
                if delay is not None:
                    self._event(f"{reason}; retrying in {delay:.1f} s")
                    self.stats.retries += 1
                    self._sleep(delay)
                    continue
                hint = "check that containers.HOSTNAME resolves and the appliance is up"
                if not trusted:
                    hint = "pass the appliance's CA with --ca-file (site: [connection] ca_file)"
                raise Unreachable(f"{reason} ({self.registry})", hint=hint) from None
            status = response.status_code
            if status == 401 and authenticate:
                if stream:
                    response.read()
                if not auth_retried:
                    auth_retried = True
                    self.stats.auth_retries += 1
                    self._answer_challenge(response, scope, token, op)
                    continue
                raise self._auth_error(response, scope, op)
            if status in RETRYABLE_STATUS and retry is not None:
                if stream:
                    response.read()
                delay = retry.next_delay(
                    f"{op}: HTTP {status}", parse_retry_after(response.headers.get("retry-after"))
                )
                if delay is not None:
                    response.close()
                    self._event(f"{op}: HTTP {status}; retrying in {delay:.1f} s")
                    self.stats.retries += 1
                    self._sleep(delay)
                    continue
            return response

    def _token_for(self, scope: ScopeSet | None) -> Token | None:
        if scope is None or self._realm is None:
            return None
        return self._tokens.find(scope, self._clock()) or self._fetch_token(scope)

    def _answer_challenge(
        self, response: httpx.Response, scope: ScopeSet | None, used: Token | None, op: str
    ) -> None:
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        if bearer is not None and bearer.realm is not None:
            self._realm, self._service = bearer.realm, bearer.service
            if used is not None:
                self._tokens.discard(used)
            wanted = (scope or ScopeSet()) | ScopeSet.parse(bearer.scope)
            if bearer.error == "insufficient_scope" and used is not None:
                self._event(f"{op}: insufficient_scope; asking for {wanted}")
            self._fetch_token(wanted)
            return
        if any(c.scheme == "basic" for c in challenges):
            if self._credentials is None:
                raise AuthenticationFailed(
                    f"{op}: the registry wants credentials and none were given",
                    hint=CLASSIC_PAT_HINT,
                )
            self._basic = True
            return
        raise RegistryHTTPError(
            f"{op}: 401 without a Bearer or Basic challenge "
            f"(WWW-Authenticate: {response.headers.get('www-authenticate', 'missing')!r})",
            status=401,
        )

    def _auth_error(self, response: httpx.Response, scope: ScopeSet | None, op: str) -> Exception:
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        codes, message = _error_body(response)
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
            f"{self._credentials.username if self._credentials else 'an anonymous client'}"
            + (f" ({message})" if message else ""),
            hint=CLASSIC_PAT_HINT,
        )

    def _fetch_token(self, wanted: ScopeSet) -> Token:
        if self._realm is None:  # pragma: no cover - callers check
            raise RegistryHTTPError("no token realm known", status=401)
        params: dict[str, str | list[str]] = {}
        if self._service:
            params["service"] = self._service
        if wanted:
            params["scope"] = wanted.strings()
        if self._credentials is not None:
            params["account"] = self._credentials.username
        # copy_merge_params keeps a query the realm URL already has (docs/reference/lab-design.md §1
        # trap).
        url = httpx.URL(self._realm).copy_merge_params(params)
        host = url.host
        state = self._policy.start(clock=self._clock)
        while True:
            request = self._http.build_request("GET", url, headers={"Accept": "application/json"})
            if self._credentials is not None:
                request.headers["Authorization"] = _basic_header(self._credentials)
            self.stats.requests += 1
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                delay = state.next_delay(describe(exc))
                if delay is None:
                    raise Unreachable(
                        f"token service {host}: {describe(exc)}",
                        hint="the registry's token realm must be reachable from here",
                    ) from None
                self.stats.retries += 1
                self._sleep(delay)
                continue
            if response.status_code in RETRYABLE_STATUS:
                delay = state.next_delay(f"token service: HTTP {response.status_code}")
                if delay is not None:
                    self.stats.retries += 1
                    self._sleep(delay)
                    continue
            break
        self.stats.token_requests += 1
        status = response.status_code
        codes, message = _error_body(response)
        detail = f" ({message})" if message else ""
        who = self._credentials.username if self._credentials else "anonymous"
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
            token = parse_token_response(response.content, wanted, self._clock())
        except TokenResponseError as exc:
            raise RegistryHTTPError(f"token service at {host}: {exc}", status=200) from None
        self._tokens.put(token)
        return token

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
        raise self._error(response, op)

    def _error(self, response: httpx.Response, op: str) -> Exception:
        codes, message = _error_body(response)
        status = response.status_code
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

    def _event(self, message: str) -> None:
        self.stats.events.append(message)
        if self._on_event is not None:
            self._on_event(message)


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


# --------------------------------------------------------------------------- helpers


def upload_url_with_digest(location: str, digest: str) -> str:
    """The closing PUT URL: the Location as given (its `_state` query kept) plus `digest=`.

    Never `params={"digest": d}` on a URL with a query: httpx replaces the query, `_state` is
    lost, and the registry answers 404 BLOB_UPLOAD_UNKNOWN (docs/reference/lab-design.md §1).
    """
    url = httpx.URL(location)
    extra = b"digest=" + digest.replace(":", "%3A").encode("ascii")
    query = url.query + b"&" + extra if url.query else extra
    return str(url.copy_with(query=query))


def _basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password.reveal()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _scope(repository: str, *actions: str) -> ScopeSet:
    return ScopeSet.of([Scope.repository(repository, actions)])


def _short(digest: str) -> str:
    return digest[:19] if digest.startswith("sha256:") else digest


def _range_end(value: str | None) -> int | None:
    """`Range: 0-1023` -> 1023 (the last byte the server has)."""
    if not value:
        return None
    m = _RANGE.match(value)
    return int(m.group(2)) if m else None


def _content_range_start(value: str | None) -> int | None:
    m = re.match(r"^\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*$", value or "")
    return int(m.group(1)) if m else None


def _error_body(response: httpx.Response) -> tuple[tuple[str, ...], str]:
    """OCI error codes and the first message of `{"errors": [{"code", "message"}]}`."""
    try:
        raw = response.content[:65536]
    except httpx.ResponseNotRead:
        return (), ""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return (), ""
    if not isinstance(doc, dict):
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


def _next_link(header: str | None, current: httpx.URL) -> httpx.URL | None:
    if not header:
        return None
    for part in header.split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)$", part)
        if m and re.search(r'rel="?next"?', m.group(2)):
            return current.join(m.group(1))
    return None


def _iter(response: httpx.Response, op: str) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes()
    except httpx.TransportError as exc:
        raise Unreachable(f"{op}: {describe(exc)}") from None
