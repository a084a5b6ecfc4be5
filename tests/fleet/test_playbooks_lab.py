"""The playbooks, run with ansible-playbook against the lab (real sshd, nginx, registry, DNS).

setup.yml takes a fresh lab to a passing smoke test and fails (and stops the rollout at) a host
whose admin password is wrong; healthcheck.yml installs a cron.d file or systemd units that
really work; upgrade-verify.yml takes a snapshot, refuses to overwrite it, and verifies
against it. No secret reaches ansible-playbook's output.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from ghes_setup.lab import settings as keys
from ghes_setup.lab.handle import LabHandle
from tests.fleet.conftest import Fleet, PlayResult, assert_no_secret, recap
from tests.fleet.test_schedule import cron_entry

pytestmark = pytest.mark.lab


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- setup.yml


def test_setup_takes_a_fresh_lab_to_a_passing_smoke_test(
    fresh_lab: LabHandle, fleet: Fleet
) -> None:
    fleet.add_appliance("lab")
    result = fleet.play("setup.yml")
    assert result.returncode == 0, result
    assert recap(result, "lab")["failed"] == 0
    assert "exit 0, status pass" in result.stdout
    assert "pass registry-smoke" in result.stdout, result
    assert_no_secret(result, fleet)
    applied = fresh_lab.applied_settings()
    assert applied.get(keys.ISOLATION) == "true", applied
    assert fresh_lab.registry_answers()


def test_setup_fails_the_host_with_a_wrong_admin_password_and_stops_the_rollout(
    fresh_lab: LabHandle, fleet: Fleet
) -> None:
    fleet.add_appliance("lab-wrong", admin_password="not-the-admin-password-0815")
    fleet.add_appliance("lab-next")
    runs_before = fresh_lab.apply_runs()
    result = fleet.play("setup.yml")
    assert result.returncode != 0, result
    assert recap(result, "lab-wrong")["failed"] == 1
    assert "ghes-setup up exited 4 for lab-wrong" in result.stdout, result
    # serial: 1 and a failed batch: the next appliance is never touched.
    assert "lab-next" not in result.stdout.split("PLAY RECAP")[0], result
    assert fresh_lab.apply_runs() == runs_before  # nothing was applied
    assert_no_secret(result, fleet)


# ---------------------------------------------------------------- healthcheck.yml


def run_cron_line(command: str, env_path: str) -> subprocess.CompletedProcess[str]:
    """Run a cron.d command as cron does (/bin/sh, cron's `\\%` unescaped, a bare env)."""
    return subprocess.run(
        ["/bin/sh", "-c", command.replace("\\%", "%")],
        env={"PATH": env_path, "HOME": "/root"},
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_healthcheck_installs_a_cron_job_that_writes_the_textfile(
    registry_lab: LabHandle, fleet: Fleet, tmp_path: Path
) -> None:
    fleet.add_appliance("lab")
    fleet.monitor_vars = {"ghes_setup_schedule_systemd": False, "ghes_setup_schedule_every": "5m"}
    result = fleet.play("healthcheck.yml")
    assert result.returncode == 0, result
    assert_no_secret(result, fleet)
    root = fleet.monitor_root
    cron_file = root / "cron.d" / "ghes-setup-check-lab"
    env_file = root / "ghes-setup" / "ghes-setup-check-lab.env"
    assert mode(cron_file) == 0o644 and mode(env_file) == 0o600
    assert sorted(p.name for p in (root / "cron.d").iterdir()) == ["ghes-setup-check-lab"]
    cron_text = cron_file.read_text(encoding="utf-8")
    for value in fleet.secrets():
        assert value not in cron_text
    env_text = env_file.read_text(encoding="utf-8")
    assert f"GHES_SETUP_ADMIN_PASSWORD='{registry_lab.admin_password}'" in env_text
    # Only what check needs on the monitoring host: no token without --smoke, no storage keys.
    assert "GHES_SETUP_TOKEN" not in env_text and "GHES_SETUP_S3_" not in env_text, env_text
    fields, user, command = cron_entry(cron_text)
    assert (" ".join(fields), user) == ("*/5 * * * *", "root")

    # Run the installed line as cron would, with a logger stand-in that keeps what it gets.
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    log = tmp_path / "syslog.txt"
    logger = fake_bin / "logger"
    logger.write_text(f"#!/bin/sh\ncat >> {log}\n", encoding="utf-8")
    logger.chmod(0o755)
    try:
        ran = run_cron_line(command, f"{fake_bin}:/usr/bin:/bin")
    finally:
        Path("/run/lock/ghes-setup-check-lab.lock").unlink(missing_ok=True)
    assert ran.returncode == 0, ran
    textfile = root / "textfiles" / "ghes-setup-check-lab.prom"
    assert textfile.exists(), log.read_text(encoding="utf-8") if log.exists() else ran
    metrics = textfile.read_text(encoding="utf-8")
    assert mode(textfile) == 0o644
    assert 'ghes_setup_run_status{command="check",' in metrics
    assert 'status="pass"} 1' in metrics, metrics


def test_healthcheck_installs_systemd_units_and_a_root_only_env_file(
    lab: LabHandle, fleet: Fleet
) -> None:
    fleet.add_appliance("lab")
    fleet.add_appliance("lab.two")  # a name with a dot becomes ghes-setup-check-lab-two
    fleet.monitor_vars = {"ghes_setup_schedule_every": "90s", "ghes_setup_schedule_smoke": True}
    result = fleet.play("healthcheck.yml")
    assert result.returncode == 0, result
    assert_no_secret(result, fleet)
    units = fleet.monitor_root / "systemd"
    names = sorted(p.name for p in units.iterdir())
    assert names == [
        "ghes-setup-check-lab-two.service",
        "ghes-setup-check-lab-two.timer",
        "ghes-setup-check-lab.service",
        "ghes-setup-check-lab.timer",
    ]
    service = (units / "ghes-setup-check-lab.service").read_text(encoding="utf-8")
    assert f"--site {lab.site_path} " in service
    assert " --smoke" in service
    assert "OnUnitActiveSec=90s" in (units / "ghes-setup-check-lab.timer").read_text("utf-8")
    env_file = fleet.monitor_root / "ghes-setup" / "ghes-setup-check-lab.env"
    assert mode(env_file) == 0o600 and env_file.stat().st_uid == 0
    env_text = env_file.read_text(encoding="utf-8")
    assert f"GHES_SETUP_TOKEN='{lab.write_token}'" in env_text  # --smoke pushes with it
    assert "GHES_SETUP_S3_" not in env_text, env_text
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "ghes-setup-check-lab.timer"],
        cwd=units,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    # A second run changes nothing.
    again = fleet.play("healthcheck.yml")
    assert again.returncode == 0, again
    assert recap(again, "monitor")["changed"] == 0, again


def test_healthcheck_refuses_a_monitoring_host_without_ghes_setup(
    lab: LabHandle, fleet: Fleet
) -> None:
    fleet.add_appliance("lab")
    fleet.monitor_vars = {"ghes_setup_monitor_executable": "/nonexistent/bin/ghes-setup"}
    result = fleet.play("healthcheck.yml")
    assert result.returncode != 0
    assert "/nonexistent/bin/ghes-setup is missing on monitor" in result.stdout, result
    assert not any((fleet.monitor_root / "cron.d").iterdir())
    assert not any((fleet.monitor_root / "systemd").iterdir())


# ---------------------------------------------------------------- upgrade-verify.yml


def test_upgrade_verify_snapshot_then_verify_passes(registry_lab: LabHandle, fleet: Fleet) -> None:
    fleet.add_appliance("lab")
    # Over SSH: the expired certificate below is served on 8443 too, where transport `auto`
    # stops (exit 4) rather than fall back; over SSH verify gets to compare the certificates.
    # Also passes a non-secret setting through ghes_setup_env.
    fleet.host_vars["lab"] = {"ghes_setup_env": {"GHES_SETUP_CONNECTION_TRANSPORT": "ssh"}}
    nothing = fleet.play("upgrade-verify.yml")
    assert nothing.returncode != 0
    assert "run with --tags snapshot" in nothing.stdout, nothing

    before = fleet.play("upgrade-verify.yml", "--tags", "snapshot")
    assert before.returncode == 0, before
    snapshot = fleet.snapshot_dir / "lab.json"
    assert mode(fleet.snapshot_dir) == 0o700 and mode(snapshot) == 0o600
    document = json.loads(snapshot.read_text(encoding="utf-8"))
    assert document, snapshot
    assert_no_secret(before, fleet)

    again = fleet.play("upgrade-verify.yml", "--tags", "snapshot")
    assert again.returncode != 0
    assert "exists" in again.stdout and "--tags verify" in again.stdout, again
    assert json.loads(snapshot.read_text(encoding="utf-8")) == document  # untouched

    after = fleet.play("upgrade-verify.yml", "--tags", "verify")
    assert after.returncode == 0, after
    assert "exit 0, status pass" in after.stdout, after
    assert_no_secret(after, fleet)

    # "The upgrade" replaced the certificate the front door serves: verify fails the host.
    registry_lab.fault("cert-expired")
    try:
        changed = fleet.play("upgrade-verify.yml", "--tags", "verify")
    finally:
        registry_lab.clear_faults()
    assert changed.returncode == 2, changed
    assert recap(changed, "lab")["failed"] == 1
    assert "fail tls-served: " in changed.stdout, changed
    assert "ghes-setup verify exited 1 for lab" in changed.stdout


def test_upgrade_verify_without_a_snapshot_says_to_take_one(lab: LabHandle, fleet: Fleet) -> None:
    fleet.add_appliance("lab")
    result: PlayResult = fleet.play("upgrade-verify.yml", "--tags", "verify")
    assert result.returncode != 0
    assert "run --tags snapshot before the upgrade" in result.stdout, result
