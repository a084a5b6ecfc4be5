"""Every storage backend the site file accepts, end to end against real protocol servers.

The lab runs moto's S3 server (S3 and MinIO) and Azurite (Azure Blob) in every lab; the
appliance's storage utilities talk to them with botocore and azure-storage-blob, and the
registry keeps its blobs in the S3 server when Packages uses S3 or MinIO. The backend is
switched with the site file's keys given as GHES_SETUP_PACKAGES_* variables (flags > env >
file), so the lab's own site file stays as it is. What the servers hold is read with
independent clients (boto3, the Azure SDK: tests/storage_clients.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.lab import settings as keys
from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult, CliRunner, assert_no_traceback
from tests.storage_clients import azure_blobs, s3_keys, s3_object

pytestmark = pytest.mark.lab


def backend_env(lab: LabHandle, storage: str) -> dict[str, str]:
    """The site file's [packages] storage keys for `storage`, as environment overrides."""
    if storage == "azure":
        return {
            "GHES_SETUP_PACKAGES_STORAGE": "azure",
            "GHES_SETUP_PACKAGES_AZURE_CONTAINER": lab.azure_container,
        }
    return {
        "GHES_SETUP_PACKAGES_STORAGE": storage,
        "GHES_SETUP_PACKAGES_SERVICE_URL": lab.service_url,
        "GHES_SETUP_PACKAGES_BUCKET": lab.bucket,
    }


class Run:
    """The CLI pointed at the lab; every output is scanned for the lab's storage secrets."""

    def __init__(self, cli: CliRunner, lab: LabHandle, state: Path) -> None:
        self.cli, self.lab, self.state = cli, lab, state
        account_key = lab.config.azure_key
        self.secrets = [lab.s3_secret_key, lab.s3_access_key, account_key, lab.admin_password]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        result = self.cli(
            *args, env={**self.lab.env, "XDG_STATE_HOME": str(self.state), **(env or {})}
        )
        assert_no_traceback(result)
        for secret in self.secrets:
            assert secret not in result.output, f"a secret leaked in {args}: {result.output}"
        return result

    def enable(self, storage: str, **extra: str) -> CliResult:
        env = {**backend_env(self.lab, storage), **extra}
        return self("packages", "enable", "--transport", "ssh", "--yes", env=env)

    def check_storage(self, storage: str, **extra: str) -> dict[str, Any]:
        """`check`'s packages-storage result."""
        env = {**backend_env(self.lab, storage), **extra}
        result = self("check", "--transport", "ssh", "--format", "json", env=env)
        return next(r for r in result.json()["results"] if r["id"] == "packages-storage")


@pytest.fixture
def run(cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path) -> Iterator[Run]:
    yield Run(cli, fresh_lab, tmp_path / "state")
    fresh_lab.clear_faults()


# ------------------------------------------------------------------------------ up, per backend


@pytest.mark.parametrize("storage", ["minio", "s3", "azure"])
def test_up_succeeds_with_each_storage_backend(run: Run, storage: str) -> None:
    lab = run.lab
    result = run("up", "--yes", "--format", "json", env=backend_env(lab, storage))
    assert result.exit_code == 0, result
    results = {r["id"]: r for r in result.json()["results"]}
    assert results["registry-smoke"]["status"] == "pass"
    assert results["packages-storage-config"]["status"] in ("pass", "warn")
    applied = lab.applied_settings()
    assert applied[keys.STORAGE_TYPE] == ("azure" if storage == "azure" else "s3")
    registry_conf = lab.layout.registry_conf.read_text(encoding="utf-8")
    if storage == "azure":
        assert applied[keys.AZURE_CONTAINER] == lab.azure_container
        # Debian's distribution has no azure driver: the registry stays on the filesystem.
        assert "filesystem:" in registry_conf and "s3:" not in registry_conf
        assert azure_blobs(lab) == []  # the storage tests cleaned up after themselves
    else:
        assert "s3:" in registry_conf and lab.service_url in registry_conf


def test_smoke_push_with_s3_leaves_the_layer_blob_in_the_s3_server(run: Run) -> None:
    lab = run.lab
    result = run("up", "--yes", "--format", "json", env=backend_env(lab, "s3"))
    assert result.exit_code == 0, result
    smoke = next(r for r in result.json()["results"] if r["id"] == "registry-smoke")
    digests = [blob["digest"] for blob in smoke["details"]["blobs"]]
    assert digests, smoke
    stored = set(s3_keys(lab, "docker/registry/v2/blobs/"))
    for digest in digests:
        algorithm, hexdigest = digest.split(":")
        key = f"docker/registry/v2/blobs/{algorithm}/{hexdigest[:2]}/{hexdigest}/data"
        assert key in stored, (key, sorted(stored))
        assert hashlib.sha256(s3_object(lab, key)).hexdigest() == hexdigest
    assert not lab.storage_dir.joinpath("docker").exists()  # nothing on the filesystem


# ------------------------------------------------------------------------------ refusals


S3_CASES = {
    "wrong key": ({"GHES_SETUP_S3_ACCESS_KEY": "LABNOSUCHKEY00000000"}, "InvalidAccessKeyId"),
    "wrong secret": ({"GHES_SETUP_S3_SECRET_KEY": "wrong-secret-4f1e"}, "SignatureDoesNotMatch"),
    "missing bucket": ({"GHES_SETUP_PACKAGES_BUCKET": "no-such-bucket"}, "NoSuchBucket"),
}


@pytest.mark.parametrize("case", sorted(S3_CASES))
def test_s3_refusal_stops_enable_at_the_precheck_with_the_servers_reason(
    run: Run, case: str
) -> None:
    lab = run.lab
    env, reason = S3_CASES[case]
    before, runs_before = lab.settings(), lab.apply_runs()
    result = run.enable("s3", **env)
    assert result.exit_code == 3, result
    assert "ghe-packages-precheck refused the storage" in result.stderr
    assert reason in result.stderr and "nothing was written" in result.stderr
    assert lab.settings() == before and lab.apply_runs() == runs_before


@pytest.mark.parametrize("case", sorted(S3_CASES))
def test_s3_refusal_shows_in_check_as_packages_storage_failing(run: Run, case: str) -> None:
    lab = run.lab
    assert run.enable("s3").exit_code == 0
    env, reason = S3_CASES[case]
    behind_the_tools_back = {
        "GHES_SETUP_S3_ACCESS_KEY": keys.ACCESS_KEY,
        "GHES_SETUP_S3_SECRET_KEY": keys.SECRET_KEY,
        "GHES_SETUP_PACKAGES_BUCKET": keys.BUCKET,
    }
    lab.set_settings({behind_the_tools_back[name]: value for name, value in env.items()})
    result = run.check_storage("s3", **env)
    assert result["status"] == "fail", result
    assert reason in result["summary"]


AZURE_CASES = {
    # Azurite's code for a signature made with another key (Azure's own is AuthenticationFailed);
    # its message is Azure's: "Server failed to authenticate the request".
    "wrong key": ("AccountKey", "AuthorizationFailure: Server failed to authenticate"),
    "missing container": ("container", "ContainerNotFound"),
}


def _azure_case(lab: LabHandle, case: str) -> dict[str, str]:
    if case == "missing container":
        return {"GHES_SETUP_PACKAGES_AZURE_CONTAINER": "no-such-container"}
    wrong = lab.azure_connection_string.replace(lab.config.azure_key, "d3Jvbmcta2V5" * 8)
    return {"GHES_SETUP_AZURE_CONNECTION_STRING": wrong}


@pytest.mark.parametrize("case", sorted(AZURE_CASES))
def test_azure_refusal_stops_enable_at_the_precheck_with_the_servers_reason(
    run: Run, case: str
) -> None:
    lab = run.lab
    before, runs_before = lab.settings(), lab.apply_runs()
    result = run.enable("azure", **_azure_case(lab, case))
    assert result.exit_code == 3, result
    assert AZURE_CASES[case][1] in result.stderr and "nothing was written" in result.stderr
    assert lab.settings() == before and lab.apply_runs() == runs_before


@pytest.mark.parametrize("storage", ["s3", "azure"])
def test_storage_down_stops_enable_and_fails_check(run: Run, storage: str) -> None:
    lab = run.lab
    assert run.enable(storage).exit_code == 0
    lab.fault("storage-down")
    check = run.check_storage(storage)
    assert check["status"] == "fail", check
    expected = "Could not connect" if storage == "s3" else "Connection refused"
    assert expected in check["summary"]

    other = "azure" if storage == "s3" else "s3"  # a change, so that the precheck runs
    before, runs_before = lab.settings(), lab.apply_runs()
    result = run.enable(other)
    assert result.exit_code == 3, result
    assert ("Could not connect" if other == "s3" else "Connection refused") in result.stderr
    assert lab.settings() == before and lab.apply_runs() == runs_before

    lab.clear_faults()
    again = run.check_storage(storage)
    assert again["status"] == "pass", again  # the server is back, with its objects


@pytest.mark.parametrize(
    ("storage", "reason"), [("s3", "InvalidAccessKeyId"), ("azure", "AuthorizationFailure")]
)
def test_bad_credentials_fault_fails_check_and_stops_enable(
    run: Run, storage: str, reason: str
) -> None:
    lab = run.lab
    assert run.enable(storage).exit_code == 0
    lab.fault("storage-bad-credentials")
    check = run.check_storage(storage)
    assert check["status"] == "fail" and reason in check["summary"], check
    other = "azure" if storage == "s3" else "s3"
    before = lab.settings()
    result = run.enable(other)
    other_reason = "InvalidAccessKeyId" if other == "s3" else "AuthorizationFailure"
    assert result.exit_code == 3 and other_reason in result.stderr, result
    assert lab.settings() == before


# ------------------------------------------------------------------------------ switching


def test_switching_s3_to_azure_and_back_converges_and_a_second_run_changes_nothing(
    run: Run,
) -> None:
    lab = run.lab
    for storage in ("s3", "azure", "s3"):
        runs_before = lab.apply_runs()
        first = run.enable(storage)
        assert first.exit_code == 0, (storage, first)
        assert lab.apply_runs() == runs_before + 1
        applied = lab.applied_settings()
        assert applied[keys.STORAGE_TYPE] == storage
        if storage == "azure":
            assert applied[keys.AZURE_CONTAINER] == lab.azure_container
            assert applied[keys.AZURE_CONNECTION] == lab.azure_connection_string
        status = run(
            "packages",
            "status",
            "--transport",
            "ssh",
            "--format",
            "json",
            env=backend_env(lab, storage),
        )
        found = {r["id"]: r["status"] for r in status.json()["results"]}
        assert found["packages-enabled"] == "pass" and found["packages-storage"] == "pass"
        second = run.enable(storage)
        assert second.exit_code == 0 and "Nothing to change" in second.stdout, second
        assert lab.apply_runs() == runs_before + 1


def test_lab_up_storage_rewrites_the_site_file_and_env_prints_the_connection_string(
    run: Run,
) -> None:
    lab = run.lab
    try:
        lab.cli("up", "--storage", "azure")
        site = lab.site_path.read_text(encoding="utf-8")
        assert 'storage = "azure"' in site and f'azure_container = "{lab.azure_container}"' in site
        env = lab.cli("env").stdout
        assert "GHES_SETUP_AZURE_CONNECTION_STRING=" in env
        assert lab.config.azure_key in env and "AccountName=" in env
        bad = lab.cli("up", "--storage", "gcs", check=False)
        assert bad.returncode == 3 and "minio, s3, azure" in bad.stderr
    finally:
        lab.cli("up", "--storage", "minio")
    assert 'storage = "minio"' in lab.site_path.read_text(encoding="utf-8")
