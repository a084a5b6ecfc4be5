"""The contract the registry fake keeps with the real thing: the same tests run against
tests/registry/fake.py (in process) and against the lab's CNCF distribution behind nginx and the
lab's token service, through `RegistryClient`. Where the fake and the real registry disagree, a
test here fails for one of them: the unit tests that trust the fake (tests/unit/
test_registry_client.py) are only as good as this agreement.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pytest

from ghes_setup.errors import AuthenticationFailed
from ghes_setup.net import ResolveOverrides, SystemResolver
from ghes_setup.registry.client import Credentials, RegistryClient
from ghes_setup.registry.errors import InsufficientScope, RegistryHTTPError
from ghes_setup.registry.oci import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    BytesBlob,
    build_manifest,
)
from ghes_setup.registry.retry import RetryPolicy
from ghes_setup.registry.transport import make_registry_http
from ghes_setup.secrets import Secret
from tests.fixtures.lab import LabHandle
from tests.registry.fake import REGISTRY, FakeRegistry

Token = str  # "write", "read" or "wrong"


@dataclass
class RegistrySubject:
    name: str
    namespace: str  # where the write token may push
    connect: Callable[[Token], AbstractContextManager[RegistryClient]]

    def repository(self) -> str:
        return f"{self.namespace}/contract-{uuid.uuid4().hex[:8]}"


def _fake_subject() -> RegistrySubject:
    fake = FakeRegistry()
    pats = {"write": "pat-write", "read": "pat-read", "wrong": "pat-nobody-has"}

    @contextlib.contextmanager
    def connect(token: Token) -> Iterator[RegistryClient]:
        with fake.client() as http:
            yield RegistryClient(
                http,
                REGISTRY,
                credentials=Credentials("octo", Secret(pats[token])),
                retry=RetryPolicy(attempts=2, budget_s=5),
                sleep=lambda _: None,
            )

    return RegistrySubject("fake", "octo", connect)


def _lab_subject(lab: LabHandle) -> RegistrySubject:
    port = "" if lab.ports.https == 443 else f":{lab.ports.https}"
    pins = ResolveOverrides.parse(
        [f"{lab.hostname}:{lab.address}", f".{lab.hostname}:{lab.address}"]
    )
    pats = {"write": lab.write_token, "read": lab.read_token, "wrong": "ghp_" + "0" * 36}

    @contextlib.contextmanager
    def connect(token: Token) -> Iterator[RegistryClient]:
        with make_registry_http(resolver=SystemResolver(pins), ca_file=lab.ca_file) as http:
            yield RegistryClient(
                http,
                f"{lab.registry_host}{port}",
                credentials=Credentials(lab.user, Secret(pats[token])),
                retry=RetryPolicy(attempts=2, budget_s=5),
            )

    return RegistrySubject("lab", lab.namespace, connect)


@pytest.fixture(params=["fake", pytest.param("lab", marks=pytest.mark.lab)])
def subject(request: pytest.FixtureRequest) -> RegistrySubject:
    if request.param == "fake":
        return _fake_subject()
    return _lab_subject(request.getfixturevalue("registry_lab"))


def test_ping_is_a_401_with_a_bearer_challenge(subject: RegistrySubject) -> None:
    with subject.connect("write") as client:
        ping = client.ping()
    assert ping.status == 401
    assert ping.bearer is not None
    assert ping.bearer.realm and ping.bearer.realm.startswith("https://")
    assert ping.bearer.service
    assert ping.api_version == "registry/2.0"


def test_a_blob_pushed_monolithic_is_there_and_a_second_push_skips_it(
    subject: RegistrySubject,
) -> None:
    repo, blob = subject.repository(), BytesBlob(os.urandom(70_000), OCI_LAYER_GZIP)
    with subject.connect("write") as client:
        assert client.blob_size(repo, blob.descriptor.digest) is None
        first = client.push_blob(repo, blob)
        assert not first.skipped
        assert client.blob_size(repo, blob.descriptor.digest) == blob.descriptor.size
        assert client.push_blob(repo, blob).skipped


def test_a_chunked_push_pulls_back_byte_for_byte(subject: RegistrySubject) -> None:
    repo, data = subject.repository(), os.urandom(200_000)
    blob = BytesBlob(data, OCI_LAYER_GZIP)
    with subject.connect("write") as client:
        client.push_blob(repo, blob, chunk_size=64 * 1024)
        got = bytearray()
        client.pull_blob(repo, blob.descriptor, got.extend)
    assert bytes(got) == data


def test_a_manifest_by_tag_reads_back_with_its_digest_and_lists_its_tag(
    subject: RegistrySubject,
) -> None:
    repo = subject.repository()
    config = BytesBlob(
        b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}', OCI_CONFIG
    )
    layer = BytesBlob(os.urandom(1000), OCI_LAYER_GZIP)
    body, media_type = build_manifest(config.descriptor, [layer.descriptor], "oci")
    assert media_type == OCI_MANIFEST
    with subject.connect("write") as client:
        client.push_blob(repo, config)
        client.push_blob(repo, layer)
        digest = client.push_manifest(repo, "v1", body, media_type)
        by_tag = client.get_manifest(repo, "v1")
        by_digest = client.get_manifest(repo, digest)
        tags = client.list_tags(repo)
    assert by_tag.digest == by_digest.digest == digest
    assert by_tag.body == body
    assert by_tag.media_type == OCI_MANIFEST
    assert tags == ["v1"]


def test_an_unknown_manifest_is_a_404_manifest_unknown(subject: RegistrySubject) -> None:
    repo, blob = subject.repository(), BytesBlob(os.urandom(100), OCI_LAYER_GZIP)
    with subject.connect("write") as client:
        client.push_blob(repo, blob)  # the repository exists; the tag does not
        with pytest.raises(RegistryHTTPError) as info:
            client.get_manifest(repo, "no-such-tag")
    assert info.value.status == 404
    assert "MANIFEST_UNKNOWN" in info.value.codes


def test_a_read_only_token_may_pull_but_not_push(subject: RegistrySubject) -> None:
    repo, blob = subject.repository(), BytesBlob(os.urandom(100), OCI_LAYER_GZIP)
    with subject.connect("write") as writer:
        writer.push_blob(repo, blob)
    with subject.connect("read") as reader:
        assert reader.blob_size(repo, blob.descriptor.digest) == blob.descriptor.size
        with pytest.raises(InsufficientScope):
            reader.push_blob(repo, BytesBlob(os.urandom(100), OCI_LAYER_GZIP))


def test_a_token_nobody_has_is_refused_by_the_token_service(subject: RegistrySubject) -> None:
    with subject.connect("wrong") as client, pytest.raises(AuthenticationFailed):
        client.login(subject.repository(), ("pull",))
