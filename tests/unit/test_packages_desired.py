"""The site's [packages] as desired settings, storage secrets and the precheck's arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup import facts
from ghes_setup.config.site import PackagesSettings, Site
from ghes_setup.errors import SecretMissing, SiteFileError
from ghes_setup.packages.desired import (
    ECOSYSTEMS,
    PACKAGES_SCOPE,
    StorageSecrets,
    desired_packages,
    precheck_argv,
    read_storage_secrets,
)
from ghes_setup.secrets import REDACTED, Secret

HOST = "ghe.example.com"
ENV = {"GHES_SETUP_S3_ACCESS_KEY": "AKIAEXAMPLE1", "GHES_SETUP_S3_SECRET_KEY": "s3cr3t/key+XYZ"}


def site(**packages: object) -> Site:
    return Site(hostname=HOST, packages=PackagesSettings(**packages))  # type: ignore[arg-type]


MINIO = {
    "enabled": True,
    "storage": "minio",
    "service_url": "http://minio.example.com:9000",
    "bucket": "pkgs",
    "ecosystems": {"container": "enabled", "maven": "read-only"},
}


def test_scope_is_every_packages_setting_of_the_facts_table() -> None:
    assert set(PACKAGES_SCOPE) == {s.name for s in facts.SETTINGS if s.name.startswith("packages.")}
    assert "packages.ecosystems.container" in PACKAGES_SCOPE
    assert set(ECOSYSTEMS) == {"container", "docker", "npm", "maven", "nuget", "rubygems"}


def test_minio_is_written_as_s3_with_its_service_url_and_the_secrets() -> None:
    the_site = site(**MINIO)
    desired = desired_packages(the_site, read_storage_secrets(the_site, ENV))
    assert desired["packages.enabled"] is True
    assert desired["packages.storage_type"] == "s3"
    assert desired["packages.service_url"] == "http://minio.example.com:9000"
    assert desired["packages.bucket"] == "pkgs"
    key = desired["packages.s3_secret_key"]
    assert isinstance(key, Secret) and key.reveal() == ENV["GHES_SETUP_S3_SECRET_KEY"]
    assert desired["packages.ecosystems.maven"] == "read-only"
    assert "packages.ecosystems.npm" not in desired  # not mentioned: left alone
    assert ENV["GHES_SETUP_S3_SECRET_KEY"] not in repr(desired)


def test_azure_takes_the_connection_string_and_container() -> None:
    the_site = site(enabled=True, storage="azure", azure_container="pkgs")
    env = {"GHES_SETUP_AZURE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountKey=x1"}
    desired = desired_packages(the_site, read_storage_secrets(the_site, env))
    assert desired["packages.storage_type"] == "azure"
    assert desired["packages.azure_container"] == "pkgs"
    assert "packages.s3_access_key" not in desired


def test_packages_off_writes_only_enabled_false_and_needs_no_secret() -> None:
    the_site = site(enabled=False, storage="s3")
    assert read_storage_secrets(the_site, {}) == StorageSecrets()
    assert dict(desired_packages(the_site, StorageSecrets())) == {"packages.enabled": False}


def test_missing_storage_secret_names_the_variable() -> None:
    with pytest.raises(SecretMissing) as info:
        read_storage_secrets(site(**MINIO), {"GHES_SETUP_S3_ACCESS_KEY": "AKIA1234"})
    assert "GHES_SETUP_S3_SECRET_KEY" in (info.value.hint or "")


def test_secret_may_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("from-a-file-secret\n")
    env = {"GHES_SETUP_S3_ACCESS_KEY": "AKIA1234", "GHES_SETUP_S3_SECRET_KEY_FILE": str(path)}
    secrets = read_storage_secrets(site(**MINIO), env)
    key = secrets.get("packages.s3_secret_key")
    assert key is not None and key.reveal() == "from-a-file-secret"


@pytest.mark.parametrize(
    ("packages", "needle"),
    [
        ({"enabled": True}, "storage is not set"),
        ({"enabled": True, "storage": "s3", "bucket": "b"}, "needs service_url"),
        ({**MINIO, "ecosystems": {"gradle": "enabled"}}, "unknown ecosystem 'gradle'"),
    ],
)
def test_incomplete_site_is_a_site_file_error(packages: dict[str, object], needle: str) -> None:
    the_site = site(**packages)
    with pytest.raises(SiteFileError, match=needle):
        desired_packages(the_site, read_storage_secrets(the_site, ENV))


def test_precheck_argv_for_minio_carries_a_secret_connection_string() -> None:
    the_site = site(**MINIO)
    argv = precheck_argv(the_site, read_storage_secrets(the_site, ENV))
    assert argv[:4] == ["ghe-packages-precheck", "-p", "MinIO", "-cs"]
    conn = argv[4]
    assert isinstance(conn, Secret) and str(conn) == REDACTED
    text = conn.reveal()
    assert "BucketName=pkgs;" in text and "ServiceUrl=http://minio.example.com:9000" in text
    assert f"SecretAccessKey={ENV['GHES_SETUP_S3_SECRET_KEY']};" in text
    assert text.endswith("ForcePathStyle=true")


def test_precheck_argv_for_azure_names_the_container() -> None:
    the_site = site(enabled=True, storage="azure", azure_container="pkgs")
    env = {"GHES_SETUP_AZURE_CONNECTION_STRING": "AccountName=a;AccountKey=k123"}
    argv = precheck_argv(the_site, read_storage_secrets(the_site, env))
    assert [str(a) for a in argv] == [
        "ghe-packages-precheck",
        "-p",
        "Azure",
        "-cs",
        REDACTED,
        "-cn",
        "pkgs",
    ]


def test_a_semicolon_in_a_key_is_refused_before_it_breaks_the_connection_string() -> None:
    the_site = site(**MINIO)
    env = {**ENV, "GHES_SETUP_S3_SECRET_KEY": "abc;BucketName=other"}
    with pytest.raises(SiteFileError, match="contains ';'"):
        precheck_argv(the_site, read_storage_secrets(the_site, env))


def test_desired_settings_keep_the_order_a_plan_shows() -> None:
    """Packages, the storage's site keys, then its secrets, then the ecosystems as listed."""
    the_site = site(
        enabled=True,
        storage="azure",
        azure_container="pkgs",
        ecosystems={"npm": "disabled", "container": "enabled"},
    )
    env = {"GHES_SETUP_AZURE_CONNECTION_STRING": "AccountName=a;AccountKey=k123"}
    assert list(desired_packages(the_site, read_storage_secrets(the_site, env))) == [
        "packages.enabled",
        "packages.storage_type",
        "packages.azure_container",
        "packages.azure_connection_string",
        "packages.ecosystems.npm",
        "packages.ecosystems.container",
    ]


def test_a_missing_storage_key_is_named_before_an_unknown_ecosystem() -> None:
    """Two mistakes in one file: the storage key first, as the site file's own order goes."""
    the_site = site(storage="s3", bucket="b", ecosystems={"foo": "enabled"})
    with pytest.raises(SiteFileError, match="needs service_url"):
        desired_packages(the_site, read_storage_secrets(the_site, ENV))
    fixed = site(
        storage="s3",
        bucket="b",
        service_url="https://s3.example.com",
        ecosystems={"foo": "enabled"},
    )
    with pytest.raises(SiteFileError, match="unknown ecosystem 'foo'"):
        desired_packages(fixed, read_storage_secrets(fixed, ENV))
