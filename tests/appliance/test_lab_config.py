"""`config show/plan/apply/rollback` against the lab appliance, over both transports, with the
lab's faults. Every output is scanned for the lab's secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ghes_setup.lab.handle import LabHandle
from tests.appliance.conftest import ssh_transport
from tests.conftest import CliResult, CliRunner, assert_no_traceback

pytestmark = pytest.mark.lab

ISOLATION = "core.subdomain-isolation"
CERT = "github-ssl.cert"


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
            lab.write_token,
            *(line for line in key_body[1:-1] if len(line) > 20),
        ]
        self.results: list[CliResult] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        result = self.cli(
            *args, env={**self.lab.env, "XDG_STATE_HOME": str(self.state), **(env or {})}
        )
        self.results.append(result)
        assert_no_traceback(result)
        for secret in self.secrets:
            assert secret not in result.output, f"a secret leaked in {args}"
        return result

    def snapshots(self) -> list[Path]:
        folder = self.state / "ghes-setup" / "snapshots"
        return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def run(cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path) -> Iterator[Run]:
    runner = Run(cli, fresh_lab, tmp_path / "state")
    yield runner
    fresh_lab.clear_faults()


TRANSPORTS = ["ssh", "api"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_apply_takes_a_fresh_lab_to_the_site_and_a_second_apply_changes_nothing(
    run: Run, transport: str
) -> None:
    lab = run.lab
    plan = run("config", "plan", "--transport", transport, "--format", "json")
    assert plan.exit_code == 0, plan
    changes = {c["setting"]: c for c in plan.json()["changes"]}
    assert set(changes) == {"subdomain_isolation", "tls.cert", "tls.key"}
    assert changes["tls.key"] == {
        "setting": "tls.key",
        "sensitive": True,
        "old": "(not set)",
        "new": "(set, ********)",
    }
    runs_before = lab.apply_runs()

    first = run("config", "apply", "--transport", transport, "--yes")
    assert first.exit_code == 0, first
    settings = lab.settings()
    assert settings[ISOLATION] == "true"
    assert settings[CERT].strip() == lab.site_cert.read_text().strip()
    assert lab.applied_settings()[ISOLATION] == "true"  # a config apply ran and succeeded
    assert lab.apply_runs() == runs_before + 1
    assert "verified 3 setting(s)" in first.stdout
    assert "Configuration run complete" in first.stderr  # events were followed

    second = run("config", "apply", "--transport", transport, "--yes", "--format", "json")
    assert second.exit_code == 0, second
    assert second.json()["changes"] == [] and second.json()["run_id"] is None
    assert lab.apply_runs() == runs_before + 1
    assert len(run.snapshots()) == 1
    assert lab.registry_answers() is False  # Packages is not part of config apply


def test_auto_with_key_and_password_routes_fields_to_the_api(run: Run) -> None:
    result = run("config", "apply", "--yes", "--format", "json")  # site: transport auto
    assert result.exit_code == 0, result
    assert result.json()["via"] == "api"
    assert run.lab.settings()[ISOLATION] == "true"


def test_ssh_drop_in_the_middle_of_a_write_leaves_the_settings_exactly_as_before(
    run: Run,
) -> None:
    lab = run.lab
    before = lab.settings()
    runs_before = lab.apply_runs()
    lab.fault("ssh-drop")
    result = run("config", "apply", "--transport", "ssh", "--yes")
    assert result.exit_code == 6, result
    assert "step 'push'" in result.stderr
    assert "nothing was changed" in result.stderr
    assert any("ssh-drop" in line for line in lab.fired_faults())
    assert lab.settings() == before
    assert lab.apply_runs() == runs_before  # no configuration run was started
    # and the next run goes through
    assert run("config", "apply", "--transport", "ssh", "--yes").exit_code == 0
    assert lab.settings()[ISOLATION] == "true"


def test_a_failing_ghe_config_write_over_ssh_puts_the_earlier_keys_back(
    fresh_lab: LabHandle,
) -> None:
    from ghes_setup.appliance.transport import SettingsRejected
    from ghes_setup.secrets import Secret

    before = fresh_lab.settings()
    # A stale git lock makes the write to secrets.conf fail after github.conf was written.
    lock = fresh_lab.layout.secrets_conf.with_name("secrets.conf.lock")
    lock.write_text("")
    try:
        with ssh_transport(fresh_lab) as transport, pytest.raises(SettingsRejected) as info:
            transport.write_settings(
                {"subdomain_isolation": True, "packages.s3_secret_key": Secret("new-s3-value")}
            )
    finally:
        lock.unlink()
    assert "packages.s3_secret_key" in info.value.message
    assert "new-s3-value" not in info.value.message
    assert fresh_lab.settings() == before


def test_api_503_is_retried_and_the_apply_succeeds(run: Run) -> None:
    run.lab.fault("api-503", count=2)
    result = run("config", "apply", "--transport", "api", "--yes")
    assert result.exit_code == 0, result
    fired = [line for line in run.lab.fired_faults() if "api-503" in line]
    assert len(fired) == 2
    assert result.stderr.count("retrying") == 2
    assert run.lab.settings()[ISOLATION] == "true"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_apply_fail_exits_6_with_the_step_and_rollback_restores_the_snapshot(
    run: Run, transport: str
) -> None:
    lab = run.lab
    before = lab.settings()
    lab.fault("apply-fail")
    failed = run("config", "apply", "--transport", transport, "--yes")
    assert failed.exit_code == 6, failed
    assert "failed at step 'config apply'" in failed.stderr
    assert "Reloading application services failed" in failed.stderr
    match = re.search(r"config rollback (\S+\.json)", failed.stderr)
    assert match, failed.stderr
    snapshot = Path(match.group(1))
    assert snapshot.exists() and (snapshot.stat().st_mode & 0o777) == 0o600
    assert lab.settings()[ISOLATION] == "true"  # written, not applied

    back = run("config", "rollback", str(snapshot), "--transport", transport, "--yes")
    assert back.exit_code == 0, back
    assert lab.settings() == before
    assert lab.applied_settings()[ISOLATION] == "false"


def test_rollback_without_a_path_uses_the_latest_snapshot_of_the_host(run: Run) -> None:
    before = run.lab.settings()
    assert run("config", "apply", "--transport", "ssh", "--yes").exit_code == 0
    back = run("config", "rollback", "--transport", "ssh", "--yes")
    assert back.exit_code == 0, back
    assert run.lab.settings() == before


def test_a_changed_host_key_exits_4_with_the_fingerprint(run: Run, tmp_path: Path) -> None:
    other = tmp_path / "known_hosts"
    line = run.lab.known_hosts.read_text().split()
    fake_key = "AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43
    other.write_text(f"{line[0]} ssh-ed25519 {fake_key}\n")
    result = run("config", "show", "--transport", "ssh", "--known-hosts", str(other))
    assert result.exit_code == 4, result
    assert "HOST KEY CHANGED" in result.stderr
    assert re.search(r"--host-key SHA256:[A-Za-z0-9+/]{43}", result.stderr)
    # accept-new never accepts a changed key
    again = run(
        "config",
        "show",
        "--transport",
        "ssh",
        "--known-hosts",
        str(other),
        "--accept-new-host-key",
    )
    assert again.exit_code == 4


def test_an_unknown_host_key_is_refused_unless_pinned_or_accepted(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "kh" / "known_hosts"
    refused = run("config", "show", "--transport", "ssh", "--known-hosts", str(empty))
    assert refused.exit_code == 4, refused
    fingerprint = re.search(r"--host-key (SHA256:[A-Za-z0-9+/]{43})", refused.stderr)
    assert fingerprint
    pinned = run(
        "config",
        "show",
        "--transport",
        "ssh",
        "--known-hosts",
        str(empty),
        "--host-key",
        fingerprint.group(1),
    )
    assert pinned.exit_code == 0, pinned
    assert not empty.exists()
    accepted = run(
        "config",
        "show",
        "--transport",
        "ssh",
        "--known-hosts",
        str(empty),
        "--accept-new-host-key",
    )
    assert accepted.exit_code == 0, accepted
    assert "ssh-ed25519" in empty.read_text()
    assert f"Permanently added ssh-ed25519 {fingerprint.group(1)}" in accepted.stderr


def test_a_wrong_admin_password_exits_4(run: Run) -> None:
    result = run(
        "config", "show", "--transport", "api", env={"GHES_SETUP_ADMIN_PASSWORD": "not-it-1234"}
    )
    assert result.exit_code == 4, result
    assert "refused the admin password" in result.stderr
    assert "not-it-1234" not in result.output


def test_a_certificate_that_does_not_match_its_key_is_refused_before_anything_is_written(
    run: Run, tmp_path: Path
) -> None:
    lab = run.lab
    site = tmp_path / "site.toml"
    other_key = tmp_path / "other.key"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    text = lab.site_path.read_text().replace(str(lab.site_key), str(other_key))
    site.write_text(text)
    before = lab.settings()
    result = run("config", "apply", "--site", str(site), "--transport", "ssh", "--yes")
    assert result.exit_code == 3, result
    assert "tls-key-match" in result.stderr
    assert "nothing was written" in result.stderr
    assert lab.settings() == before
    assert run.snapshots() == []


def test_apply_without_yes_and_without_a_terminal_refuses_before_connecting(run: Run) -> None:
    result = run("config", "apply", "--transport", "ssh")
    assert result.exit_code == 2, result
    assert "--yes" in result.stderr
    assert run.lab.settings()[ISOLATION] == "false"


def test_dry_run_shows_the_plan_and_changes_nothing(run: Run) -> None:
    result = run("config", "apply", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result
    doc = result.json()
    assert doc["dry_run"] is True and doc["changed"] is False
    assert {c["setting"] for c in doc["changes"]} == {"subdomain_isolation", "tls.cert", "tls.key"}
    assert run.lab.settings()[ISOLATION] == "false"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_show_redacts_secrets(run: Run, transport: str) -> None:
    assert run("config", "apply", "--transport", transport, "--yes").exit_code == 0
    shown = run("config", "show", "--transport", transport, "--format", "json")
    assert shown.exit_code == 0, shown
    doc = shown.json()
    assert doc["settings"]["tls.key"] == {"set": True}
    assert doc["settings"]["tls.cert"].startswith("CN=")
    assert doc["ghes_version"] == run.lab.ghes_version


def test_no_output_of_any_run_holds_a_secret(run: Run) -> None:
    """The scan in Run.__call__ covers every other test; this one reads the password from
    standard input (--password-stdin) and checks it never echoes."""
    result = run.cli(
        "config",
        "plan",
        "--transport",
        "api",
        "--password-stdin",
        "--format",
        "json",
        input=run.lab.admin_password + "\n",
        env={**{k: v for k, v in run.lab.env.items() if k != "GHES_SETUP_ADMIN_PASSWORD"}},
    )
    assert result.exit_code == 0, result
    assert run.lab.admin_password not in result.output
    assert json.loads(result.stdout)["via"] == "api"
