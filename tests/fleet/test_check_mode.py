"""`ansible-playbook --check` on each playbook: it reports what would change and changes nothing.

With the stand-in ghes-setup (setup, upgrade-verify) and the real `ghes-setup schedule`
(healthcheck, no appliance needed): setup runs `up --dry-run` and is "changed" exactly when
the plan has changes; upgrade-verify only announces the snapshot, and verifies for real (it is
read-only); healthcheck diffs the files it would install and writes none.
"""

from __future__ import annotations

from pathlib import Path

from tests.fleet.conftest import SECRETS, Fleet, assert_no_secret, play, recap, runs


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_setup_check_runs_up_dry_run_and_is_changed_when_the_plan_has_changes(
    standin: Fleet,
) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    would = play(standin, "setup.yml", "--check", STANDIN_CHANGES="1", STANDIN_RUN_ID="x-1")
    assert would.returncode == 0, would
    assert recap(would, "ghe-a")["changed"] == 1
    assert "subdomain_isolation: false -> true" in would.stdout, would
    [run] = runs(standin)
    assert run["argv"] == [
        "up", "--site", str(standin.site_path), "--yes", "--format", "json", "--dry-run",
    ]  # fmt: skip
    assert run["env"]["GHES_SETUP_ADMIN_PASSWORD"] == SECRETS["admin_password"]
    assert_no_secret(would, standin)

    nothing = play(standin, "setup.yml", "--check")
    assert nothing.returncode == 0, nothing
    assert recap(nothing, "ghe-a")["changed"] == 0
    assert runs(standin)[-1]["argv"][-1] == "--dry-run"


def test_setup_check_is_changed_when_settings_are_stored_but_not_applied(standin: Fleet) -> None:
    # No change to write, but a failed run left settings pending: the real run would start a
    # configuration run, so --check must say "changed" (and not while a run is applying them).
    standin.add_appliance("ghe-a", **SECRETS)
    due = play(standin, "setup.yml", "--check", STANDIN_PENDING="due")
    assert due.returncode == 0, due
    assert recap(due, "ghe-a")["changed"] == 1
    running = play(standin, "setup.yml", "--check", STANDIN_PENDING="running")
    assert running.returncode == 0, running
    assert recap(running, "ghe-a")["changed"] == 0


def test_setup_check_still_fails_the_host_when_up_fails(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, "setup.yml", "--check", STANDIN_EXIT="4")
    assert result.returncode == 2, result
    assert "ghes-setup up exited 4 for ghe-a" in result.stdout


def test_upgrade_verify_check_announces_the_snapshot_and_takes_none(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, "upgrade-verify.yml", "--tags", "snapshot", "--check")
    assert result.returncode == 0, result
    assert "would take the snapshot" in result.stdout, result
    assert recap(result, "ghe-a")["changed"] >= 1
    assert runs(standin) == []
    assert not standin.snapshot_dir.exists()


def test_upgrade_verify_check_still_verifies(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    assert play(standin, "upgrade-verify.yml", "--tags", "snapshot").returncode == 0
    snapshot = standin.snapshot_dir / "ghe-a.json"
    before = snapshot.read_bytes()
    result = play(standin, "upgrade-verify.yml", "--tags", "verify", "--check", STANDIN_EXIT="1")
    assert result.returncode == 2, result
    assert runs(standin)[-1]["argv"][0] == "verify"
    # The smoke test writes (an image pushed, a package version deleted): not under --check.
    assert runs(standin)[-1]["argv"][-1] == "--no-smoke"
    assert "ghes-setup verify exited 1 for ghe-a" in result.stdout
    assert snapshot.read_bytes() == before


def test_healthcheck_check_writes_nothing_then_a_run_installs_and_check_is_clean(
    bare_fleet: Fleet,
) -> None:
    bare_fleet.add_appliance("ghe-a", admin_password="pw-a-0815")
    bare_fleet.add_appliance("ghe-b", admin_password="pw-b-4711")
    bare_fleet.monitor_vars = {"ghes_setup_schedule_systemd": False}
    bare_fleet.write()
    empty = files(bare_fleet.monitor_root)
    would = bare_fleet.play("healthcheck.yml", "--check", "--diff")
    assert would.returncode == 0, would
    # Two tasks would change: the env files and the cron.d files, two of each.
    assert recap(would, "monitor")["changed"] == 2, would
    assert would.stdout.count("changed: [monitor] => (item=") == 4, would
    assert files(bare_fleet.monitor_root) == empty == []
    assert "ghes-setup-check-ghe-a" in would.stdout  # --diff shows the cron.d files ...
    assert_no_secret(would, bare_fleet)  # ... but never the env files' secrets

    done = bare_fleet.play("healthcheck.yml")
    assert done.returncode == 0, done
    assert files(bare_fleet.monitor_root) == [
        "cron.d/ghes-setup-check-ghe-a",
        "cron.d/ghes-setup-check-ghe-b",
        "ghes-setup/ghes-setup-check-ghe-a.env",
        "ghes-setup/ghes-setup-check-ghe-b.env",
    ]
    clean = bare_fleet.play("healthcheck.yml", "--check")
    assert clean.returncode == 0, clean
    assert recap(clean, "monitor")["changed"] == 0, clean
