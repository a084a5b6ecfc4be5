"""`ghes_setup_state: absent` removes an appliance's schedule from the monitoring hosts.

With the real `ghes-setup schedule` (no appliance needed): an appliance marked absent loses its
cron.d file or units, its env file (its secrets) and its textfile, the others keep theirs; a
second run changes nothing; `-e ghes_setup_state=absent` removes every schedule; a state that
is neither present nor absent fails before anything is touched.
"""

from __future__ import annotations

from pathlib import Path

from tests.fleet.conftest import Fleet, recap


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def installed(fleet: Fleet) -> list[str]:
    result = fleet.play("healthcheck.yml")
    assert result.returncode == 0, result
    return files(fleet.monitor_root)


def test_absent_removes_that_appliances_units_env_file_and_textfile(bare_fleet: Fleet) -> None:
    bare_fleet.add_appliance("ghe-a", admin_password="pw-a-0815")
    bare_fleet.add_appliance("ghe-b", admin_password="pw-b-4711")
    before = installed(bare_fleet)
    assert "systemd/ghes-setup-check-ghe-b.timer" in before
    # The check has run once: its textfile is there too.
    textfile = bare_fleet.monitor_root / "textfiles" / "ghes-setup-check-ghe-b.prom"
    textfile.write_text("ghes_setup_run_status 1\n", encoding="utf-8")

    bare_fleet.host_vars["ghe-b"] = {"ghes_setup_state": "absent"}
    bare_fleet.write()
    removed = bare_fleet.play("healthcheck.yml")
    assert removed.returncode == 0, removed
    assert recap(removed, "monitor")["changed"] == 1, removed  # the one removal task ...
    removals = [line for line in removed.stdout.splitlines() if line.startswith("changed: [")]
    assert len(removals) == 4, removed  # ... removed service, timer, env file and textfile
    assert all("ghe-b" in line for line in removals), removals
    assert files(bare_fleet.monitor_root) == [
        "ghes-setup/ghes-setup-check-ghe-a.env",
        "systemd/ghes-setup-check-ghe-a.service",
        "systemd/ghes-setup-check-ghe-a.timer",
    ]
    again = bare_fleet.play("healthcheck.yml")
    assert again.returncode == 0, again
    assert recap(again, "monitor")["changed"] == 0, again


def test_absent_for_all_removes_every_schedule_also_a_cron_one(bare_fleet: Fleet) -> None:
    bare_fleet.add_appliance("ghe-a", admin_password="pw-a-0815")
    bare_fleet.add_appliance("ghe.b", admin_password="pw-b-4711")
    bare_fleet.monitor_vars = {"ghes_setup_schedule_systemd": False}
    assert installed(bare_fleet) == [
        "cron.d/ghes-setup-check-ghe-a",
        "cron.d/ghes-setup-check-ghe-b",
        "ghes-setup/ghes-setup-check-ghe-a.env",
        "ghes-setup/ghes-setup-check-ghe-b.env",
    ]
    check = bare_fleet.play("healthcheck.yml", "--check", "-e", "ghes_setup_state=absent")
    assert check.returncode == 0, check
    assert check.stdout.count("changed: [monitor] => (item=") == 4, check
    assert len(files(bare_fleet.monitor_root)) == 4  # --check removed nothing
    gone = bare_fleet.play("healthcheck.yml", "-e", "ghes_setup_state=absent")
    assert gone.returncode == 0, gone
    assert files(bare_fleet.monitor_root) == []


def test_an_unknown_state_fails_before_anything_is_touched(bare_fleet: Fleet) -> None:
    bare_fleet.add_appliance("ghe-a", admin_password="pw-a-0815")
    bare_fleet.host_vars["ghe-a"] = {"ghes_setup_state": "gone"}
    result = bare_fleet.play("healthcheck.yml")
    assert result.returncode == 2, result
    assert "ghes_setup_state of ghe-a must be present or absent" in result.stdout, result
    assert files(bare_fleet.monitor_root) == []
