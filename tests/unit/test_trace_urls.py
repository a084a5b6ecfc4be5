"""URLs in the debug trace (`--debug`, `--log-file`): presigned storage URLs carry their
credential in the query (S3 `X-Amz-Signature`, Azure SAS `sig=`), which must not reach a
trace file attached to a support case. `trace.safe_url` keeps parameter names and replaces
their values, but for the registry's harmless ones (`scope=`, `digest=`, ...)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ghes_setup import trace
from ghes_setup.httpclient import trace_hooks
from ghes_setup.trace import safe_url

S3 = (
    "https://bucket.s3.storage.test/docker/registry/v2/blobs/sha256/ab/data"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIALABEXAMPLE%2F20260101%2Fus-east-1"
    "&X-Amz-Expires=1200&X-Amz-Signature=0123456789abcdefSECRETSIGNATURE"
)
AZURE = "https://acct.blob.core.windows.test/c/b?sv=2022-11-02&se=2026-01-01&sp=r&sig=SECRETSAS%3D"


@pytest.fixture
def lines() -> Iterator[list[str]]:
    got: list[str] = []
    trace.enable(got.append)
    try:
        yield got
    finally:
        trace.disable()


def test_safe_url_keeps_query_names_and_drops_their_values() -> None:
    assert safe_url(S3) == (
        "https://bucket.s3.storage.test/docker/registry/v2/blobs/sha256/ab/data"
        "?X-Amz-Algorithm=***&X-Amz-Credential=***&X-Amz-Expires=***&X-Amz-Signature=***"
    )
    assert safe_url(AZURE) == (
        "https://acct.blob.core.windows.test/c/b?sv=***&se=***&sp=***&sig=***"
    )
    # A bare parameter may be the credential itself; a fragment is not traced.
    assert safe_url("https://cdn.test/x?SECRETTOKEN#frag") == "https://cdn.test/x?***"
    # `;` separates parameters too: the value after it is not n's.
    assert safe_url("https://cdn.test/x?n=1;sig=abc") == "https://cdn.test/x?n=1;sig=***"
    assert safe_url("https://user:pw@proxy.test:3128") == "https://***@proxy.test:3128"
    assert safe_url("https://containers.ghe.test/v2/") == "https://containers.ghe.test/v2/"


def test_safe_url_keeps_the_registrys_harmless_values() -> None:
    token = (
        "https://containers.ghe.test/token?service=containers.ghe.test"
        "&scope=repository%3Aocto%2Fapp%3Apull%2Cpush&account=octo"
    )
    assert safe_url(token) == (
        "https://containers.ghe.test/token?service=containers.ghe.test"
        "&scope=repository%3Aocto%2Fapp%3Apull%2Cpush&account=***"
    )
    put = "https://containers.ghe.test/v2/o/a/blobs/uploads/u?_state=abc%3D%3D&digest=sha256%3A12"
    assert safe_url(put) == (
        "https://containers.ghe.test/v2/o/a/blobs/uploads/u?_state=***&digest=sha256%3A12"
    )


def test_a_followed_presigned_redirect_leaves_no_signature_in_the_trace(
    lines: list[str],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "containers.ghe.test":
            return httpx.Response(307, headers={"Location": S3})
        return httpx.Response(200, content=b"blob")

    transport = httpx.MockTransport(handler)
    with httpx.Client(transport=transport, event_hooks=trace_hooks()) as client:
        response = client.get(
            "https://containers.ghe.test/v2/o/a/blobs/sha256:ab", follow_redirects=True
        )
    assert response.content == b"blob"
    text = "".join(lines)
    assert "http > GET https://bucket.s3.storage.test/" in text
    assert "X-Amz-Signature=***" in text
    for secret in ("SECRETSIGNATURE", "AKIALABEXAMPLE"):
        assert secret not in text
