"""The storage lint (packages.lint, check packages-storage-config): no network, no client.

Errors (a SAS, no AccountName/AccountKey) stop `packages enable` before the appliance is even
opened (exit 3, nothing written); warnings (non-regional AWS endpoint, MinIO over http) show
as the check `packages-storage-config`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ghes_setup.packages.service as service
from ghes_setup import exit_codes
from ghes_setup.appliance.fake import FakeAppliance, FakeStorage
from ghes_setup.appliance.service import Connect
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.config.site import PackagesSettings, Site
from ghes_setup.errors import SiteFileError
from ghes_setup.packages.backends import lint_storage
from ghes_setup.packages.check_storage_config import packages_storage_config
from ghes_setup.packages.context import PackagesContext
from ghes_setup.packages.lint import StorageFinding, lint_azure_connection_string
from ghes_setup.packages.service import enable_packages

ACCOUNT_KEY = "bGFiLWtleS1ub3QtcmVhbA=="
GOOD_AZURE = (
    "DefaultEndpointsProtocol=https;AccountName=ghesblobs;"
    f"AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
)
SAS_STRING = (
    "BlobEndpoint=https://ghesblobs.blob.core.windows.net/;"
    "SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rwdlac&sig=c2lnbmF0dXJl"
)
SAS_URL = "https://ghesblobs.blob.core.windows.net/packages?sv=2022-11-02&sp=racwdl&sig=abc%3D"


def site(storage: str, **packages: object) -> Site:
    base: dict[str, object] = {"enabled": True, "storage": storage}
    if storage == "azure":
        base["azure_container"] = "packages"
    else:
        base.update(service_url="https://s3.eu-west-1.amazonaws.com", bucket="pkgs")
    base.update(packages)
    return Site(hostname="ghe.example.com", packages=PackagesSettings(**base))  # type: ignore[arg-type]


def lint_service_url(storage: str, url: str) -> list[StorageFinding]:
    """The lint of a site with this storage and service URL (the backend's row picks the rules)."""
    return lint_storage(site(storage, service_url=url))


def codes(findings: list[object]) -> list[str]:
    return [f.code for f in findings]  # type: ignore[attr-defined]


def test_account_key_connection_string_passes() -> None:
    assert lint_azure_connection_string(GOOD_AZURE) == []


@pytest.mark.parametrize("text", [SAS_STRING, SAS_URL, GOOD_AZURE + ";SharedAccessSignature=x"])
def test_sas_connection_string_or_url_is_refused(text: str) -> None:
    found = lint_azure_connection_string(text)
    assert codes(found) == ["azure-sas"]
    assert found[0].severity == "error" and "SAS" in found[0].message


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        (
            "DefaultEndpointsProtocol=https;AccountKey=abc==;EndpointSuffix=core.windows.net",
            "AccountName",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountName=ghesblobs;EndpointSuffix=core.windows.net",
            "AccountKey",
        ),
        ("BlobEndpoint=https://ghesblobs.blob.core.windows.net/", "AccountName and no AccountKey"),
    ],
)
def test_connection_string_without_account_name_or_key_is_refused(text: str, missing: str) -> None:
    found = lint_azure_connection_string(text)
    assert codes(found) == ["azure-account"]
    assert missing in found[0].message


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.amazonaws.com",
        "https://s3-eu-west-1.amazonaws.com",
        "https://pkgs.s3.eu-west-1.amazonaws.com",
        "https://s3.dualstack.eu-west-1.amazonaws.com",
    ],
)
def test_non_regional_aws_endpoint_warns_naming_the_region_error(url: str) -> None:
    found = lint_service_url("s3", url)
    assert codes(found) == ["aws-endpoint-not-regional"]
    assert found[0].severity == "warning"
    assert "AuthorizationHeaderMalformed" in found[0].message
    assert "the region 'us-east-1' is wrong" in found[0].message


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.eu-west-1.amazonaws.com",
        "https://s3.us-gov-west-1.amazonaws.com",
        "https://storage.example.com",  # S3-compatible, not AWS: nothing to say
    ],
)
def test_regional_or_non_aws_s3_url_passes(url: str) -> None:
    assert lint_service_url("s3", url) == []


def test_minio_over_http_warns_and_over_https_passes() -> None:
    found = lint_service_url("minio", "http://minio.example.com:9000")
    assert codes(found) == ["minio-no-tls"] and found[0].severity == "warning"
    assert lint_service_url("minio", "https://minio.example.com:9000") == []


def test_nothing_to_lint_when_packages_is_off_or_the_string_was_not_given() -> None:
    assert lint_storage(site("azure", enabled=False), SAS_STRING) == []
    assert lint_storage(site("azure"), None) == []


def _check(the_site: Site, monkeypatch: pytest.MonkeyPatch, conn: str | None) -> object:
    if conn is None:
        monkeypatch.delenv("GHES_SETUP_AZURE_CONNECTION_STRING", raising=False)
    else:
        monkeypatch.setenv("GHES_SETUP_AZURE_CONNECTION_STRING", conn)
    monkeypatch.delenv("GHES_SETUP_AZURE_CONNECTION_STRING_FILE", raising=False)
    return packages_storage_config.run(PackagesContext(FakeAppliance(), the_site))


def test_check_fails_for_a_sas_and_never_shows_the_string(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _check(site("azure"), monkeypatch, SAS_STRING)
    assert result.status.value == "fail"  # type: ignore[attr-defined]
    assert "sig=" not in repr(result) and "c2lnbmF0dXJl" not in repr(result)


@pytest.mark.parametrize(
    ("storage", "url", "status"),
    [
        ("s3", "https://s3.amazonaws.com", "warn"),
        ("minio", "http://minio.example.com:9000", "warn"),
        ("minio", "https://minio.example.com:9000", "pass"),
        ("s3", "https://s3.eu-west-1.amazonaws.com", "pass"),
    ],
)
def test_check_status_per_service_url(
    storage: str, url: str, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _check(site(storage, service_url=url), monkeypatch, None)
    assert result.status.value == status  # type: ignore[attr-defined]


def test_check_skips_without_storage_and_says_when_the_string_was_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    off = _check(site("s3", enabled=False), monkeypatch, None)
    assert off.status.value == "skip"  # type: ignore[attr-defined]
    absent = _check(site("azure"), monkeypatch, None)
    assert absent.status.value == "pass"  # type: ignore[attr-defined]
    assert absent.details["connection_string_linted"] is False  # type: ignore[attr-defined]


def test_enable_refuses_a_sas_before_opening_the_appliance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened: list[Connect] = []

    def never(connect: Connect, progress: object = None) -> ApplianceTransport:
        opened.append(connect)
        return FakeAppliance(storage=FakeStorage("azure", "", "", "", ""))

    monkeypatch.setattr(service, "open_appliance", never)
    with pytest.raises(SiteFileError) as caught:
        enable_packages(
            Connect(site=site("azure")),
            environ={"GHES_SETUP_AZURE_CONNECTION_STRING": SAS_STRING},
        )
    assert "SAS" in caught.value.message and "nothing was written" in caught.value.message
    assert "c2lnbmF0dXJl" not in caught.value.message
    assert exit_codes.for_error(caught.value) == exit_codes.ExitCode.INPUT
    assert opened == []
