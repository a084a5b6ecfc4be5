"""`packages enable/status`, `registry status/start` against the lab appliance.

Real servers: OpenSSH (the admin shell running the lab's ghe-packages-precheck and
ghe-check-blob-connection), nginx (the front door and containers.HOSTNAME), CNCF distribution
(the registry), dnsmasq. Every output is scanned for the lab's secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ghes_setup.lab import settings as keys
from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult, CliRunner, assert_no_traceback

pytestmark = pytest.mark.lab


class Run:
    """The CLI pointed at the lab; every result is checked for leaked secrets."""

    def __init__(self, cli: CliRunner, lab: LabHandle, state: Path) -> None:
        self.cli = cli
        self.lab = lab
        self.state = state
        key_body = lab.site_key.read_text().strip().splitlines()
        self.secrets = [
            lab.admin_password,
            lab.s3_secret_key,
            lab.s3_access_key,
            lab.write_token,
            *(line for line in key_body[1:-1] if len(line) > 20),
        ]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        result = self.cli(
            *args, env={**self.lab.env, "XDG_STATE_HOME": str(self.state), **(env or {})}
        )
        assert_no_traceback(result)
        for secret in self.secrets:
            assert secret not in result.output, f"a secret leaked in {args}: {result.output}"
        return result

    def snapshots(self) -> list[Path]:
        folder = self.state / "ghes-setup" / "snapshots"
        return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def run(cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path) -> Iterator[Run]:
    yield Run(cli, fresh_lab, tmp_path / "state")
    fresh_lab.clear_faults()


def test_enable_over_ssh_takes_a_fresh_lab_to_packages_with_storage_and_is_idempotent(
    run: Run,
) -> None:
    lab = run.lab
    runs_before = lab.apply_runs()
    first = run("packages", "enable", "--transport", "ssh", "--yes")
    assert first.exit_code == 0, first
    settings = lab.settings()
    assert settings[keys.PACKAGES_ENABLED] == "true"
    assert settings[keys.STORAGE_TYPE] == "s3"  # MinIO goes in the S3 fields
    assert settings[keys.SERVICE_URL] == lab.service_url
    assert settings[keys.BUCKET] == lab.bucket
    assert settings[keys.ACCESS_KEY] == lab.s3_access_key
    assert settings[keys.SECRET_KEY] == lab.s3_secret_key
    assert settings[keys.CONTAINER_ECOSYSTEM] == "true"
    assert settings["app.packages.npm-enabled"] == "true"
    assert lab.applied_settings()[keys.PACKAGES_ENABLED] == "true"  # applied, successfully
    assert lab.apply_runs() == runs_before + 1
    assert "Storage precheck (ghe-packages-precheck): passed" in first.stdout
    assert "Blob storage check (ghe-check-blob-connection): passed" in first.stdout
    assert "All Storage tests passed" in first.stdout
    # the precheck ran before the push, the blob check after the apply
    order = [line for line in first.stderr.splitlines() if line.startswith("▸")]
    names = [line.split(":")[0].removeprefix("▸ ") for line in order]
    assert names.index("storage precheck") < names.index("push") < names.index("config apply")
    assert names[-1] == "blob storage check"

    second = run("packages", "enable", "--transport", "ssh", "--yes", "--format", "json")
    assert second.exit_code == 0, second
    document = second.json()
    assert document["command"] == "packages enable"
    assert document["changes"] == [] and document["run_id"] is None
    # Nothing to write, no precheck, no run: only the storage's own test, which passes.
    assert document["precheck"] is None and document["blob_check"]["passed"] is True
    assert lab.apply_runs() == runs_before + 1
    assert len(run.snapshots()) == 1


def test_wrong_storage_secret_fails_at_the_precheck_with_nothing_written(run: Run) -> None:
    lab = run.lab
    before = lab.settings()
    runs_before = lab.apply_runs()
    wrong = "wrong-s3-secret-7d1c2b"
    result = run(
        "packages",
        "enable",
        "--transport",
        "ssh",
        "--yes",
        env={"GHES_SETUP_S3_SECRET_KEY": wrong},
    )
    assert result.exit_code == 3, result
    assert "ghe-packages-precheck refused the storage" in result.stderr
    # moto's S3 server's own answer: the SigV4 signature does not match
    assert "SignatureDoesNotMatch" in result.stderr and "nothing was written" in result.stderr
    assert wrong not in result.output
    assert lab.settings() == before
    assert lab.apply_runs() == runs_before
    assert run.snapshots() == []


def test_packages_status_fails_before_enable_and_passes_after(run: Run) -> None:
    before = run("packages", "status", "--transport", "ssh", "--format", "json")
    assert before.exit_code == 1, before
    results = {r["id"]: r for r in before.json()["results"]}
    assert results["packages-enabled"]["status"] == "fail"
    assert results["packages-storage"]["status"] == "skip"

    assert run("packages", "enable", "--transport", "ssh", "--yes").exit_code == 0
    after = run("packages", "status", "--transport", "ssh", "--format", "json")
    assert after.exit_code == 0, after
    results = {r["id"]: r for r in after.json()["results"]}
    assert results["packages-enabled"]["status"] == "pass"
    assert results["packages-enabled"]["details"]["ecosystems"]["container"] == "enabled"
    assert results["packages-enabled"]["details"]["storage"] == "s3"
    assert results["packages-storage"]["status"] == "pass"
    assert "All Storage tests passed" in results["packages-storage"]["summary"]


def test_packages_storage_fails_when_the_stored_credentials_stop_working(run: Run) -> None:
    lab = run.lab
    assert run("packages", "enable", "--transport", "ssh", "--yes").exit_code == 0
    lab.set_settings({keys.SECRET_KEY: "revoked-key-0a0b0c"})  # behind the tool's back
    result = run("packages", "status", "--transport", "ssh", "--format", "nagios")
    assert result.exit_code == 2, result  # CRITICAL
    assert "packages-storage" in result.stdout and "SignatureDoesNotMatch" in result.stdout
    assert "revoked-key-0a0b0c" not in result.output


def test_enable_with_only_the_manage_api_exits_3_and_writes_nothing(run: Run) -> None:
    before = run.lab.settings()
    result = run("packages", "enable", "--transport", "api", "--yes")
    assert result.exit_code == 3, result
    assert "admin SSH shell" in result.stderr
    assert run.lab.settings() == before


@pytest.mark.parametrize("transport", ["ssh", "auto"])
def test_registry_start_takes_a_fresh_lab_to_a_registry_answering_on_containers(
    run: Run, transport: str
) -> None:
    lab = run.lab
    down = run("registry", "status", "--format", "json")
    assert down.exit_code == 1, down
    assert down.json()["results"][0]["status"] == "fail"
    runs_before = lab.apply_runs()

    started = run("registry", "start", "--transport", transport, "--yes", "--format", "json")
    assert started.exit_code == 0, started
    document = started.json()
    assert document["via"] == ("ssh" if transport == "ssh" else "api")  # auto: API for core
    changed = {c["setting"] for c in document["changes"]}
    assert {"subdomain_isolation", "tls.cert", "tls.key", "packages.enabled"} <= changed
    assert "packages.ecosystems.container" in changed
    assert document["precheck"]["passed"] and document["blob_check"]["passed"]
    assert document["registry"]["status"] == "pass"
    assert lab.apply_runs() == runs_before + 1  # one config apply for everything
    settings = lab.settings()
    assert settings[keys.ISOLATION] == "true" and settings[keys.PACKAGES_ENABLED] == "true"
    assert lab.registry_answers()

    up = run("registry", "status", "--format", "json")
    assert up.exit_code == 0, up
    details = up.json()["results"][0]["details"]
    assert details["scheme"] == "bearer"
    assert details["realm"] == f"https://{lab.registry_host}/token"
    assert details["service"] == lab.registry_host

    again = run("registry", "start", "--transport", transport, "--yes")
    assert again.exit_code == 0, again
    assert "Nothing to change" in again.stdout
    assert lab.apply_runs() == runs_before + 1


def test_registry_status_in_human_and_nagios_form_after_start(run: Run) -> None:
    assert run("registry", "start", "--transport", "ssh", "--yes").exit_code == 0
    nagios = run("registry", "status", "--format", "nagios")
    assert nagios.exit_code == 0, nagios
    assert nagios.stdout.startswith("GHES-SETUP OK")
    human = run("--verbose", "registry", "status")
    assert human.exit_code == 0 and "Bearer challenge" in human.stdout


def test_registry_start_with_a_failing_apply_exits_6_and_names_the_snapshot(run: Run) -> None:
    run.lab.fault("apply-fail")
    result = run("registry", "start", "--transport", "ssh", "--yes")
    assert result.exit_code == 6, result
    assert "config rollback" in result.stderr
    assert len(run.snapshots()) == 1


def test_the_lab_fixtures_leave_no_failed_run_of_ours_behind(run: Run) -> None:
    """After a run the tool started fails, `prepare_registry()` and `reset()` each give the
    next test a last configuration run that `appliance-config-apply` (over SSH) calls good."""

    def config_apply_status() -> str:
        result = run("check", "--transport", "ssh", "--format", "json")
        return next(
            r["status"] for r in result.json()["results"] if r["id"] == "appliance-config-apply"
        )

    for prepare in (run.lab.prepare_registry, run.lab.reset):
        run.lab.fault("apply-fail")
        assert run("registry", "start", "--transport", "ssh", "--yes").exit_code == 6
        assert config_apply_status() == "fail"
        run.lab.clear_faults()
        prepare()
        assert config_apply_status() == "pass", prepare.__name__
