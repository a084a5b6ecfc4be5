"""The OCI client against the in-process fake registry (tests/registry/fake.py): no sockets."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ghes_setup.errors import AuthenticationFailed, Unreachable
from ghes_setup.registry.client import Credentials, RegistryClient, upload_url_with_digest
from ghes_setup.registry.errors import (
    DigestMismatch,
    InsufficientScope,
    OtherHostError,
    UnsafeTarget,
    UploadFailed,
)
from ghes_setup.registry.oci import (
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    BytesBlob,
    build_manifest,
)
from ghes_setup.registry.retry import RetryPolicy
from ghes_setup.registry.token_auth import check_realm
from ghes_setup.secrets import Secret
from tests.registry.fake import HOST, REGISTRY, SCOPE_ACTIONS, FakeRegistry, Fault, Upload

REPO = "octo/app"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make(
    fake: FakeRegistry,
    pat: str = "pat-write",
    *,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
) -> RegistryClient:
    clock = clock or Clock()
    return RegistryClient(
        fake.client(),
        REGISTRY,
        credentials=Credentials("octo", Secret(pat)),
        retry=retry or RetryPolicy(attempts=4, budget_s=60),
        clock=clock,
        sleep=clock.sleep,
    )


def blob(size: int = 300_000) -> BytesBlob:
    return BytesBlob(os.urandom(size), OCI_LAYER_GZIP)


# --------------------------------------------------------------------------- auth


def test_ping_reads_the_bearer_challenge() -> None:
    fake = FakeRegistry()
    ping = make(fake).ping()
    assert ping.status == 401
    assert ping.bearer is not None and ping.bearer.realm == f"https://{REGISTRY}/token"


def test_one_token_serves_every_request_of_a_push() -> None:
    fake = FakeRegistry()
    client = make(fake)
    client.login(REPO)
    client.push_blob(REPO, blob())
    client.push_blob(REPO, blob(), chunk_size=100_000)
    assert len(fake.token_requests) == 1
    assert fake.token_requests[0] == ["repository:octo/app:pull,push"]


def test_insufficient_scope_is_answered_once_with_the_wider_scope() -> None:
    fake = FakeRegistry()
    client = make(fake)
    client.login(REPO, ("pull",))
    fake.grant_less_once = False
    pushed = client.push_blob(REPO, blob(1000))
    assert not pushed.skipped
    # The push scope is not covered by the pull token: asked for directly, not after a 401.
    assert fake.token_requests == [["repository:octo/app:pull"], ["repository:octo/app:pull,push"]]


def test_insufficient_scope_challenge_leads_to_one_retry_that_succeeds() -> None:
    fake = FakeRegistry()
    client = make(fake)
    fake.grant_less_once = True  # asked for pull,push, the token service grants only pull
    client.login(REPO)
    pushed = client.push_blob(REPO, blob(1000))
    assert not pushed.skipped and pushed.descriptor.digest in fake.blobs
    assert client.stats.auth_retries == 1
    assert fake.token_requests == [["repository:octo/app:pull,push"]] * 2


def test_token_without_push_raises_insufficient_scope_after_one_retry() -> None:
    fake = FakeRegistry()
    client = make(fake, "pat-read")
    client.ping()
    with pytest.raises(InsufficientScope) as info:
        client.push_blob(REPO, blob(1000))
    assert "repository:octo/app:pull,push" in info.value.scope
    # HEAD (pull) got a token; the POST asked once more, for the wider scope, and gave up.
    push_requests = [r for r in fake.token_requests if "push" in r[0]]
    assert len(push_requests) == 2
    assert "pat-read" not in str(info.value)


def test_wrong_pat_is_authentication_failed_naming_the_user() -> None:
    fake = FakeRegistry()
    client = make(fake, "wrong-pat")
    client.ping()
    with pytest.raises(AuthenticationFailed) as info:
        client.login(REPO)
    assert "octo" in info.value.message and "wrong-pat" not in info.value.message
    assert info.value.hint and "classic" in info.value.hint


def test_expired_token_is_renewed() -> None:
    fake = FakeRegistry(token_lifetime=60)
    clock = Clock()
    client = make(fake, clock=clock)
    client.login(REPO)
    clock.now += 120
    client.blob_size(REPO, "sha256:" + "0" * 64)
    assert len(fake.token_requests) == 2


# --------------------------------------------------------------------------- uploads


def test_upload_url_keeps_the_state_query_and_appends_the_digest() -> None:
    loc = "https://r/v2/a/blobs/uploads/u1?_state=AbC-_%3D%3D&x=1"
    url = upload_url_with_digest(loc, "sha256:" + "a" * 64)
    assert (
        url == "https://r/v2/a/blobs/uploads/u1?_state=AbC-_%3D%3D&x=1&digest=sha256%3A" + "a" * 64
    )
    assert upload_url_with_digest("/v2/a/blobs/uploads/u1", "sha256:ab") == (
        "/v2/a/blobs/uploads/u1?digest=sha256%3Aab"
    )


def test_monolithic_upload_is_post_then_one_put_with_the_body() -> None:
    fake = FakeRegistry()
    b = blob()
    pushed = make(fake).push_blob(REPO, b)
    assert fake.blobs[b.descriptor.digest] == b.data
    assert pushed.bytes_sent == b.descriptor.size
    assert len(fake.requests("POST", "/blobs/uploads/")) == 1
    assert fake.requests("PATCH") == []
    [put] = fake.requests("PUT", "/blobs/uploads/")
    assert "_state=" in put and "digest=sha256" in put


@pytest.mark.parametrize("relative", [False, True])
def test_chunked_upload_patches_with_content_range_and_keeps_state(relative: bool) -> None:
    fake = FakeRegistry(relative_location=relative)
    b = blob(250_000)
    progress: list[int] = []
    make(fake).push_blob(REPO, b, chunk_size=100_000, progress=progress.append)
    assert fake.blobs[b.descriptor.digest] == b.data
    patches = fake.requests("PATCH")
    assert len(patches) == 3
    # Each PATCH used the latest _state (the fake refuses stale ones), and so did the PUT.
    assert all(status == 202 for m, _, status in fake.log if m == "PATCH")
    [put] = fake.requests("PUT", "/blobs/uploads/")
    assert "_state=" in put
    assert progress[-1] == b.descriptor.size


def test_existing_blob_is_skipped_after_head() -> None:
    fake = FakeRegistry()
    client = make(fake)
    b = blob()
    client.push_blob(REPO, b)
    again = client.push_blob(REPO, b)
    assert again.skipped and again.bytes_sent == 0
    assert len(fake.requests("POST", "/blobs/uploads/")) == 1


def test_server_error_mid_chunk_resumes_from_the_servers_range() -> None:
    fake = FakeRegistry()
    b = blob(300_000)
    # The second chunk fails after part of it was read; the registry keeps none of it.
    fake.faults.append(Fault("PATCH", "/blobs/uploads/", 503, after_bytes=50_000, skip=1))
    client = make(fake)
    pushed = client.push_blob(REPO, b, chunk_size=100_000)
    assert fake.blobs[b.descriptor.digest] == b.data
    assert client.stats.uploads_resumed == 1 and client.stats.uploads_restarted == 0
    assert pushed.retries == 1
    assert len(fake.requests("GET", "/blobs/uploads/")) == 1  # the status query
    assert len(fake.requests("PATCH")) == 4  # chunk 2 twice
    assert len(fake.requests("POST", "/blobs/uploads/")) == 1


def test_half_written_chunk_with_stale_state_restarts_the_upload() -> None:
    fake = FakeRegistry()
    b = blob(200_000)
    # distribution keeps the half chunk, so our _state no longer matches its offset: the
    # status query is refused and the upload cancelled; the client must start over.
    fake.faults.append(
        Fault("PATCH", "/blobs/uploads/", 503, after_bytes=30_000, keep_partial=True, skip=1)
    )
    client = make(fake)
    client.push_blob(REPO, b, chunk_size=100_000)
    assert fake.blobs[b.descriptor.digest] == b.data
    assert client.stats.uploads_restarted == 1 and client.stats.uploads_resumed == 0
    assert len(fake.requests("POST", "/blobs/uploads/")) == 2


def test_lost_upload_session_starts_a_new_upload() -> None:
    fake = FakeRegistry()
    b = blob(200_000)
    fake.faults.append(Fault("PATCH", "/blobs/uploads/", 404, code="BLOB_UPLOAD_UNKNOWN"))
    client = make(fake)
    client.push_blob(REPO, b, chunk_size=100_000)
    assert fake.blobs[b.descriptor.digest] == b.data
    assert client.stats.uploads_restarted == 1
    assert len(fake.requests("POST", "/blobs/uploads/")) == 2


def test_monolithic_put_503_is_sent_again_on_the_same_upload() -> None:
    fake = FakeRegistry()
    b = blob()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", 503, after_bytes=1000))
    client = make(fake)
    pushed = client.push_blob(REPO, b)
    assert fake.blobs[b.descriptor.digest] == b.data
    assert pushed.retries == 1
    puts = fake.requests("PUT", "/blobs/uploads/")
    assert len(puts) == 2 and puts[0].split("?")[0] == puts[1].split("?")[0]


def test_connection_lost_during_put_is_retried() -> None:
    fake = FakeRegistry()
    b = blob()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", disconnect=True))
    client = make(fake)
    client.push_blob(REPO, b)
    assert fake.blobs[b.descriptor.digest] == b.data
    assert client.stats.retries >= 1


def test_retries_are_bounded_in_count_and_back_off() -> None:
    fake = FakeRegistry()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", 503, times=100))
    clock = Clock()
    client = make(fake, retry=RetryPolicy(attempts=3, initial_delay_s=0.5, jitter=0), clock=clock)
    with pytest.raises(UploadFailed) as info:
        client.push_blob(REPO, blob(1000))
    assert len(fake.requests("PUT", "/blobs/uploads/")) == 3
    assert clock.sleeps == [0.5, 1.0]
    assert "3 attempt" in info.value.message and "503" in info.value.message


def test_retries_stop_when_the_time_budget_is_spent() -> None:
    fake = FakeRegistry()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", 503, times=100))
    clock = Clock()
    policy = RetryPolicy(attempts=50, initial_delay_s=1, max_delay_s=4, budget_s=10, jitter=0)
    client = make(fake, retry=policy, clock=clock)
    with pytest.raises(UploadFailed):
        client.push_blob(REPO, blob(1000))
    assert sum(clock.sleeps) <= 10


def test_unreachable_registry_raises_unreachable_after_bounded_retries() -> None:
    fake = FakeRegistry()
    fake.unreachable = True
    clock = Clock()
    client = make(fake, retry=RetryPolicy(attempts=3), clock=clock)
    with pytest.raises(Unreachable) as info:
        client.ping()
    assert len(clock.sleeps) == 2
    assert REGISTRY in info.value.message


# --------------------------------------------------------------------------- manifests, pulls


def _push_image(client: RegistryClient, media: str = OCI_MANIFEST) -> tuple[bytes, str, BytesBlob]:
    layer = blob(50_000)
    config = BytesBlob(b'{"architecture":"amd64","os":"linux"}', OCI_CONFIG)
    client.push_blob(REPO, layer)
    client.push_blob(REPO, config)
    body, mt = build_manifest(
        config.descriptor, [layer.descriptor], "oci" if media == OCI_MANIFEST else "docker"
    )
    return body, mt, layer


@pytest.mark.parametrize("media", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_manifest_push_and_pull_by_tag_and_digest(media: str) -> None:
    fake = FakeRegistry()
    client = make(fake)
    body, mt, _ = _push_image(client, media)
    assert mt == media
    digest = client.push_manifest(REPO, "v1", body, mt)
    by_tag = client.get_manifest(REPO, "v1")
    by_digest = client.get_manifest(REPO, digest)
    assert by_tag.body == body == by_digest.body
    assert by_tag.digest == digest == by_digest.digest
    assert by_tag.media_type == media


def test_manifest_digest_that_is_not_ours_is_a_mismatch() -> None:
    fake = FakeRegistry()
    client = make(fake)
    body, mt, _ = _push_image(client)
    fake.wrong_manifest_digest = True
    with pytest.raises(DigestMismatch) as info:
        client.push_manifest(REPO, "v1", body, mt)
    assert "hash to sha256:" in info.value.message


def test_pull_verifies_while_streaming_and_names_a_corrupted_blob() -> None:
    fake = FakeRegistry()
    client = make(fake)
    layer = blob(100_000)
    client.push_blob(REPO, layer)
    out = bytearray()
    client.pull_blob(REPO, layer.descriptor, out.extend)
    assert bytes(out) == layer.data
    fake.corrupt.add(layer.descriptor.digest)
    with pytest.raises(DigestMismatch) as info:
        client.pull_blob(REPO, layer.descriptor)
    assert layer.descriptor.digest in info.value.message
    assert info.value.digest == layer.descriptor.digest


def test_pull_resumes_with_a_range_after_a_lost_connection() -> None:
    fake = FakeRegistry()
    client = make(fake)
    layer = blob(100_000)
    client.push_blob(REPO, layer)
    fake.cut_blob_after[layer.descriptor.digest] = 40_000
    out = bytearray()
    pulled = client.pull_blob(REPO, layer.descriptor, out.extend)
    assert bytes(out) == layer.data
    assert pulled.resumed == 1
    assert client.stats.pulls_resumed == 1


def test_tag_list_follows_next_links() -> None:
    fake = FakeRegistry()
    client = make(fake)
    body, mt, _ = _push_image(client)
    for tag in ("a", "b", "c", "d", "e"):
        client.push_manifest(REPO, tag, body, mt)
    assert client.list_tags(REPO, page_size=2) == ["a", "b", "c", "d", "e"]
    assert len(fake.requests("GET", "/tags/list")) == 3


def test_delete_manifest_removes_it_and_its_tag() -> None:
    fake = FakeRegistry()
    client = make(fake)
    body, mt, _ = _push_image(client)
    digest = client.push_manifest(REPO, "v1", body, mt)
    result = client.delete_manifest(REPO, digest)
    assert result.deleted
    assert (REPO, "v1") not in fake.tags


def test_registry_without_deletes_gives_a_result_not_an_exception() -> None:
    fake = FakeRegistry(allow_delete=False)
    client = make(fake)
    body, mt, _ = _push_image(client)
    digest = client.push_manifest(REPO, "v1", body, mt)
    result = client.delete_manifest(REPO, digest)
    assert not result.deleted and result.status == 405
    assert "does not allow deletes" in result.reason


def test_delete_without_the_delete_scope_is_a_result() -> None:
    fake = FakeRegistry()
    writer = make(fake)
    body, mt, _ = _push_image(writer)
    digest = writer.push_manifest(REPO, "v1", body, mt)
    reader = make(fake, "pat-read")
    result = reader.delete_manifest(REPO, digest)
    assert not result.deleted and result.status == 401


# --------------------------------------------------------------------------- other origins
# Credentials go to the registry's own origin only (distribution-spec: clients MUST NOT forward
# Authorization across host boundaries). `Elsewhere` is the fake plus the other hosts a
# registry may name: it records the Authorization of every request, serves `others[host]`
# with its handler, and serves any other origin as the registry itself (a front end to it).


class Elsewhere(FakeRegistry):
    def __init__(
        self,
        *,
        upload_base: str | None = None,
        blob_redirect: str | None = None,
        basic: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.upload_base = upload_base  # the origin upload Locations name instead of ours
        self.blob_redirect = blob_redirect  # blob GETs answer 307 to this URL
        self.basic = basic  # a registry with Basic auth instead of a token service
        self.others: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
        self.seen: list[tuple[str, str, str | None]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self.seen.append((request.method, str(url), request.headers.get("authorization")))
        if url.host in self.others:
            return self.others[url.host](request)
        if (url.scheme, url.host, url.port) != ("https", REGISTRY, None) and url.host != HOST:
            return self.relay(request)
        response = super().handle(request)
        blob_get = request.method == "GET" and "/blobs/sha256:" in url.path
        if self.blob_redirect and blob_get and response.status_code == 200:
            return httpx.Response(307, headers={"Location": self.blob_redirect})
        return response

    def relay(self, request: httpx.Request) -> httpx.Response:
        url = request.url.copy_with(scheme="https", host=REGISTRY, port=None)
        return super().handle(
            httpx.Request(request.method, url, headers=request.headers, content=request.read())
        )

    def credentials_elsewhere(self) -> list[str]:
        """Requests that carried Authorization to any origin but the registry's."""
        return [
            f"{method} {url}"
            for method, url, auth in self.seen
            if auth and not url.startswith(f"https://{REGISTRY}/")
        ]

    def _location(self, repo: str, upload_id: str, upload: Upload) -> str:
        location = super()._location(repo, upload_id, upload)
        if self.upload_base is None:
            return location
        return location.replace(f"https://{REGISTRY}", self.upload_base)

    def _challenge(
        self, repo: str | None, action: str | None, error: str | None = None
    ) -> httpx.Response:
        if self.basic:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="registry"'})
        return super()._challenge(repo, action, error)

    def _bearer(self, request: httpx.Request) -> dict[str, set[str]] | None:
        if not self.basic:
            return super()._bearer(request)
        pat = self._pat_of_basic(request)
        if pat is None:
            return None
        actions = set().union(*(SCOPE_ACTIONS.get(s, set()) for s in pat.scopes))
        return {REPO: actions}


@pytest.mark.parametrize("basic", [False, True], ids=["bearer", "basic"])
@pytest.mark.parametrize(
    "upload_base", ["https://uploads.elsewhere.test", f"https://{REGISTRY}:5000"]
)
def test_upload_location_on_another_origin_gets_no_credentials(
    upload_base: str, basic: bool
) -> None:
    fake = Elsewhere(upload_base=upload_base, basic=basic)
    client = make(fake)
    with pytest.raises(OtherHostError) as info:
        client.push_blob(REPO, blob(1000))
    # That host wants credentials: it is named, and it got none of ours.
    assert info.value.status == 401
    assert info.value.host == httpx.URL(upload_base).netloc.decode()
    assert any(url.startswith(upload_base) for _, url, _ in fake.seen)
    assert fake.credentials_elsewhere() == []
    assert "pat-write" not in str(info.value) and "_state" not in str(info.value)


class PathRelativeLocations(FakeRegistry):
    """Upload Locations relative to the upload URL itself: `<id>?_state=...`."""

    def _location(self, repo: str, upload_id: str, upload: Any) -> str:
        return super()._location(repo, upload_id, upload).split("/blobs/uploads/", 1)[1]


def test_a_path_relative_upload_location_resolves_against_the_upload_url() -> None:
    fake = PathRelativeLocations()
    client = make(fake)
    layer = blob(1000)
    client.push_blob(REPO, layer)  # POST, then PUT to .../blobs/uploads/<id>
    out = bytearray()
    client.pull_blob(REPO, layer.descriptor, out.extend)
    assert bytes(out) == layer.data


@pytest.mark.parametrize("basic", [False, True], ids=["bearer", "basic"])
def test_upload_location_that_downgrades_to_http_is_refused(basic: bool) -> None:
    fake = Elsewhere(upload_base=f"http://{REGISTRY}", basic=basic)
    client = make(fake)
    with pytest.raises(UnsafeTarget) as info:
        client.push_blob(REPO, blob(1000))
    assert "plain http" in info.value.message and info.value.hint
    assert "\n" not in info.value.message and "_state" not in info.value.message
    assert not [url for _, url, _ in fake.seen if url.startswith("http://")]


def _tag_a_linking_to(fake: FakeRegistry, link: str) -> RegistryClient:
    """A client of `fake`, whose repository has the tag `a` on a tag list page that names
    `link` as the next page."""
    client = make(fake)
    body, mt, _ = _push_image(client)
    client.push_manifest(REPO, "a", body, mt)
    fake._tag_list = lambda request, repo: httpx.Response(  # type: ignore[method-assign]
        200, json={"name": repo, "tags": ["a"]}, headers={"Link": f'<{link}>; rel="next"'}
    )
    return client


def test_tags_next_link_on_another_host_gets_no_credentials() -> None:
    fake = Elsewhere()
    mirror: list[str | None] = []

    def next_page(request: httpx.Request) -> httpx.Response:
        mirror.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"name": REPO, "tags": ["b"]})

    fake.others["mirror.elsewhere.test"] = next_page
    client = _tag_a_linking_to(
        fake, f"https://mirror.elsewhere.test/v2/{REPO}/tags/list?n=1&last=a"
    )
    assert client.list_tags(REPO) == ["a", "b"]
    assert mirror == [None]
    assert fake.credentials_elsewhere() == []


def test_a_tags_page_linking_back_to_itself_ends_the_list() -> None:
    fake = FakeRegistry()
    client = _tag_a_linking_to(fake, f"/v2/{REPO}/tags/list")  # the very page just read
    assert client.list_tags(REPO) == ["a"]
    assert len(fake.requests("GET", "/tags/list")) == 1


def test_tags_next_link_that_downgrades_to_http_is_refused() -> None:
    fake = Elsewhere()
    client = _tag_a_linking_to(fake, f"http://{REGISTRY}/v2/{REPO}/tags/list?n=1&last=a")
    with pytest.raises(UnsafeTarget):
        client.list_tags(REPO)
    assert not [url for _, url, _ in fake.seen if url.startswith("http://")]


def test_redirect_targets_challenge_is_not_answered_with_our_credentials() -> None:
    # containerd CVE-2020-15157: a blob redirect to a host whose 401 names its own realm.
    fake = Elsewhere(blob_redirect="https://cdn.elsewhere.test/blob/x")
    fake.others["cdn.elsewhere.test"] = lambda request: httpx.Response(
        401,
        headers={"WWW-Authenticate": f'Bearer realm="https://{HOST}/token",service="cdn"'},
    )
    client = make(fake)
    _, _, layer = _push_image(client)
    requests_before = len(fake.token_requests)
    with pytest.raises(OtherHostError) as info:
        client.pull_blob(REPO, layer.descriptor)
    assert info.value.host == "cdn.elsewhere.test" and info.value.status == 401
    assert "cdn.elsewhere.test" in info.value.message
    assert len(fake.token_requests) == requests_before  # the challenge was not answered
    assert not [url for _, url, _ in fake.seen if url.startswith(f"https://{HOST}/token")]
    assert fake.credentials_elsewhere() == []


def test_storage_403_after_a_redirect_names_the_storage_not_package_access() -> None:
    storage = "https://bucket.s3.storage.test/blob?X-Amz-Signature=abc"
    fake = Elsewhere(blob_redirect=storage)
    fake.others["bucket.s3.storage.test"] = lambda request: httpx.Response(
        403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>"
    )
    client = make(fake)
    _, _, layer = _push_image(client)
    with pytest.raises(OtherHostError) as info:
        client.pull_blob(REPO, layer.descriptor)
    assert info.value.host == "bucket.s3.storage.test" and info.value.status == 403
    assert "storage" in (info.value.hint or "") and "package" not in (info.value.hint or "")
    assert "X-Amz-Signature" not in info.value.message


@pytest.mark.parametrize("realm", [f"http://{REGISTRY}/token", "https://auth.elsewhere.test/token"])
def test_realm_off_https_or_off_the_appliance_gets_no_credentials(realm: str) -> None:
    fake = Elsewhere(realm=realm)
    client = make(fake)
    with pytest.raises(UnsafeTarget) as info:
        client.login(REPO)
    assert info.value.hint and "\n" not in info.value.message
    assert not [url for _, url, _ in fake.seen if url.startswith(realm)]
    assert fake.token_requests == []


@pytest.mark.parametrize(
    ("realm", "registry", "allowed"),
    [
        ("https://containers.ghe.lab.test/token", "containers.ghe.lab.test", True),  # the lab
        ("https://containers.ghe.test:8443/token", "containers.ghe.test:8443", True),
        ("https://ghe.test/token", "containers.ghe.test", True),  # HOSTNAME
        ("https://auth.ghe.test/token", "containers.ghe.test", True),  # under HOSTNAME
        ("https://registry.example/token", "registry.example", True),  # no containers. label
        ("http://containers.ghe.test/token", "containers.ghe.test", False),
        ("https://test/token", "containers.ghe.test", False),  # HOSTNAME's parent
        ("https://evilghe.test/token", "containers.ghe.test", False),
        ("https://ghe.test.evil.example/token", "containers.ghe.test", False),
        ("https://example/token", "registry.example", False),
    ],
)
def test_check_realm_allows_the_appliance_only(realm: str, registry: str, allowed: bool) -> None:
    host = httpx.URL(f"https://{registry}").host
    if allowed:
        check_realm(httpx.URL(realm), host)
    else:
        with pytest.raises(UnsafeTarget):
            check_realm(httpx.URL(realm), host)
