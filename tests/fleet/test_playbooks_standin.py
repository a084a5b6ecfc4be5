"""The playbooks' own logic, with a stand-in ghes-setup (no lab needed).

The stand-in records its arguments, the GHES_SETUP_* environment it got and what was left on
its standard input, prints a v1 JSON report, and exits with STANDIN_EXIT (from the host's
ghes_setup_env). That isolates what the playbooks promise: secrets reach ghes-setup from the
host's (Vault) variables through standard input, never in Ansible's output even at -vvv; a
non-zero exit fails the host and stops a serial rollout; unset variables fall back to the
control node's environment; the snapshot is kept 0600 in a 0700 folder and never overwritten.
"""

from __future__ import annotations

import stat

import pytest

from tests.fleet.conftest import SECRETS, Fleet, assert_no_secret, play, recap, runs


def test_setup_gives_ghes_setup_the_hosts_secrets_on_stdin_and_never_shows_them(
    standin: Fleet,
) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    standin.add_appliance("ghe-b", **{k: v + "-b" for k, v in SECRETS.items()})
    result = play(standin, "setup.yml", "-vvv")
    assert result.returncode == 0, result
    [a, b] = runs(standin)
    assert a["argv"] == ["up", "--site", str(standin.site_path), "--yes", "--format", "json"]
    assert a["env"] == {
        "GHES_SETUP_ADMIN_PASSWORD": SECRETS["admin_password"],
        "GHES_SETUP_TOKEN": SECRETS["token"],
        "GHES_SETUP_S3_ACCESS_KEY": SECRETS["s3_access_key"],
        "GHES_SETUP_S3_SECRET_KEY": SECRETS["s3_secret_key"],
    }
    assert b["env"]["GHES_SETUP_TOKEN"] == SECRETS["token"] + "-b"
    assert a["stdin_left"] == ""
    assert_no_secret(result, standin)  # at -vvv too: not in EXEC lines, args or results
    assert "exit 0, status pass" in result.stdout
    assert "pass registry-smoke: pushed and pulled" in result.stdout
    assert recap(result, "ghe-a")["failed"] == 0 and recap(result, "ghe-b")["failed"] == 0


def test_setup_reports_changed_only_when_a_configuration_run_was_started(
    standin: Fleet,
) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    applied = play(standin, "setup.yml", STANDIN_RUN_ID="ghes-setup-20261127-ab12")
    assert applied.returncode == 0, applied
    assert recap(applied, "ghe-a")["changed"] == 1
    unchanged = play(standin, "setup.yml")
    assert unchanged.returncode == 0, unchanged
    assert recap(unchanged, "ghe-a")["changed"] == 0


def test_setup_fails_the_host_on_a_non_zero_exit_and_stops_the_rollout(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    standin.add_appliance("ghe-b", **SECRETS)
    result = play(standin, "setup.yml", STANDIN_EXIT="4")
    assert result.returncode == 2, result  # ansible-playbook: a host failed
    assert recap(result, "ghe-a")["failed"] == 1
    assert len(runs(standin)) == 1  # serial: 1 - ghe-b was never started
    assert "ghes-setup up exited 4 for ghe-a" in result.stdout
    assert "cannot reach ghe.example.com:122" in result.stdout  # stderr is shown
    assert_no_secret(result, standin)


def test_a_failed_check_shows_the_failing_result(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, "setup.yml", STANDIN_EXIT="1")
    assert result.returncode == 2, result
    assert "exit 1, status fail" in result.stdout
    assert "fail registry-smoke: isolation is off" in result.stdout


def test_unset_secret_variables_fall_back_to_the_control_nodes_environment(
    standin: Fleet,
) -> None:
    standin.add_appliance("ghe-a")  # no secret variables at all
    token_file = standin.root / "pat"
    token_file.write_text("ghp_from_a_file\n", encoding="utf-8")
    result = play(
        standin,
        "setup.yml",
        GHES_SETUP_TOKEN_FILE=str(token_file),
        GHES_SETUP_ADMIN_PASSWORD="from-the-control-node-env",
    )
    assert result.returncode == 0, result
    [run] = runs(standin)
    assert run["env"]["GHES_SETUP_TOKEN_FILE"] == str(token_file)
    assert run["env"]["GHES_SETUP_ADMIN_PASSWORD"] == "from-the-control-node-env"
    assert "GHES_SETUP_TOKEN" not in run["env"]


def test_dry_run_variable_adds_dry_run(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, "setup.yml", "-e", "ghes_setup_dry_run=true")
    assert result.returncode == 0, result
    assert runs(standin)[0]["argv"][-1] == "--dry-run"


def test_upgrade_verify_keeps_the_snapshot_private_and_never_overwrites_it(
    standin: Fleet,
) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    first = play(standin, "upgrade-verify.yml", "--tags", "snapshot")
    assert first.returncode == 0, first
    snapshot = standin.snapshot_dir / "ghe-a.json"
    assert stat.S_IMODE(standin.snapshot_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    assert not snapshot.with_suffix(".json.new").exists()
    [run] = runs(standin)
    assert run["argv"][:3] == ["snapshot", "--site", str(standin.site_path)]
    assert run["env"]["GHES_SETUP_ADMIN_PASSWORD"] == SECRETS["admin_password"]

    again = play(standin, "upgrade-verify.yml", "--tags", "snapshot")
    assert again.returncode == 2, again
    assert "exists" in again.stdout and len(runs(standin)) == 1

    forced = play(
        standin,
        "upgrade-verify.yml",
        "--tags",
        "snapshot",
        "-e",
        "ghes_setup_snapshot_overwrite=true",
    )
    assert forced.returncode == 0, forced

    verify = play(standin, "upgrade-verify.yml", "--tags", "verify")
    assert verify.returncode == 0, verify
    assert runs(standin)[-1]["argv"] == [
        "verify",
        "--site",
        str(standin.site_path),
        "--against",
        str(snapshot),
        "--format",
        "json",
    ]
    assert_no_secret(verify, standin)


def test_upgrade_verify_fails_the_host_when_verify_finds_a_difference(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    assert play(standin, "upgrade-verify.yml", "--tags", "snapshot").returncode == 0
    result = play(standin, "upgrade-verify.yml", "--tags", "verify", STANDIN_EXIT="1")
    assert result.returncode == 2, result
    assert "ghes-setup verify exited 1 for ghe-a" in result.stdout
    assert "fail registry-smoke: isolation is off" in result.stdout


def test_a_failed_snapshot_leaves_no_snapshot(standin: Fleet) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, "upgrade-verify.yml", "--tags", "snapshot", STANDIN_EXIT="4")
    assert result.returncode == 2, result
    assert "Do not upgrade before it passes" in result.stdout
    assert not (standin.snapshot_dir / "ghe-a.json").exists()


@pytest.mark.parametrize("tags", [(), ("--tags", "snapshot,verify")])
def test_upgrade_verify_needs_exactly_one_phase(standin: Fleet, tags: tuple[str, ...]) -> None:
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, "upgrade-verify.yml", *tags)
    assert result.returncode == 2, result
    assert "run with --tags snapshot" in result.stdout
    assert runs(standin) == []
