"""playbooks/client-check.yml with a stand-in ghes-setup on the runners (no lab).

The stand-in (tests/fleet/conftest.py) records its arguments, its GHES_SETUP_* environment and
what was left on its standard input, and prints a v1 report whose status follows STANDIN_EXIT
(given per runner through `ghes_setup_client_env`, the role's non-secret environment). So:
the options become exactly the documented arguments; the vaulted token reaches ghes-setup on
standard input with --token-stdin, never as an argument or in the environment, and never in
the output, even with -vvv; the role runs under --check and never reports "changed"; a
runner whose check fails (or that prints no report) fails, the others do not, and the recap
counts them.
"""

from __future__ import annotations

from typing import Any

from tests.fleet.conftest import SECRETS, Fleet, assert_no_secret, play, recap, runs
from tests.fleet.test_client_check_lab import verdicts, write_runner_inventory

TOKEN = SECRETS["token"]


def test_options_become_arguments_and_the_token_goes_on_stdin_only(standin: Fleet) -> None:
    runner: dict[str, Any] = {
        "ghes_setup_client_hostname": "ghe.example.com",
        "ghes_setup_client_site": "/etc/ghes-setup/site.toml",
        "ghes_setup_client_ecosystems": ["npm", "maven"],
        "ghes_setup_client_smoke": True,
        "ghes_setup_client_size": "64MiB",
        "ghes_setup_client_user": "octocat",
        "ghes_setup_client_strict": True,
        "ghes_setup_client_env": {"GHES_SETUP_CONNECTION_TIMEOUT": "20"},
    }
    write_runner_inventory(standin, {"runner-1": runner}, TOKEN, executable=standin.executable)
    result = play(standin, "client-check.yml", "--check", "-vvv")
    assert result.returncode == 0, result
    assert recap(result, "runner-1") == {**recap(result, "runner-1"), "changed": 0, "failed": 0}
    [run] = runs(standin)  # it ran under --check: it only reads
    assert run["argv"] == [
        "client",
        "check",
        "ghe.example.com",
        "--format",
        "json",
        "--site",
        "/etc/ghes-setup/site.toml",
        "--ecosystem=npm",
        "--ecosystem=maven",
        "--smoke",
        "--size",
        "64MiB",
        "--user",
        "octocat",
        "--strict",
        "--token-stdin",
    ]
    assert run["stdin_left"] == TOKEN + "\n"
    assert run["env"] == {"GHES_SETUP_CONNECTION_TIMEOUT": "20"}  # no GHES_SETUP_TOKEN
    assert verdicts(result) == {"registry-smoke": "pass"}
    assert "1 of 1 runners can use containers.ghe.example.com" in result.stdout
    assert_no_secret(result, standin)


def test_without_a_token_nothing_goes_on_stdin(standin: Fleet) -> None:
    write_runner_inventory(
        standin,
        {"runner-1": {"ghes_setup_client_hostname": "ghe.example.com"}},
        None,
        executable=standin.executable,
    )
    result = play(standin, "client-check.yml")
    assert result.returncode == 0, result
    [run] = runs(standin)
    assert run["argv"] == ["client", "check", "ghe.example.com", "--format", "json"]
    assert run["stdin_left"] == ""


def test_failing_runners_fail_and_the_recap_counts_every_runner(standin: Fleet) -> None:
    def runner(code: int) -> dict[str, Any]:
        return {
            "ghes_setup_client_hostname": "ghe.example.com",
            "ghes_setup_client_env": {"STANDIN_EXIT": str(code)},
        }

    write_runner_inventory(
        standin,
        {"runner-ok": runner(0), "runner-bad": runner(1), "runner-broken": runner(3)},
        TOKEN,
        executable=standin.executable,
    )
    result = play(standin, "client-check.yml")
    assert result.returncode == 2, result
    assert recap(result, "runner-ok")["failed"] == 0
    assert recap(result, "runner-bad")["failed"] == 1
    assert recap(result, "runner-broken")["failed"] == 1
    for host in ("runner-ok", "runner-bad", "runner-broken"):
        assert recap(result, host)["changed"] == 0
    assert len(runs(standin)) == 3
    assert '"runner-ok: pass"' in result.stdout
    assert '"runner-bad: FAILED, exit 1, status fail: registry-smoke"' in result.stdout
    # No report at all (bad input, exit 3): its error and hint are shown instead.
    assert '"runner-broken: FAILED, exit 3, status (no report)"' in result.stdout
    assert "Hint: check the address." in result.stdout
    assert "1 of 3 runners can use containers.ghe.example.com" in result.stdout
    assert "ghes-setup client check exited 1 on runner-bad (registry-smoke)" in result.stdout
    assert_no_secret(result, standin)


def test_a_runner_without_hostname_or_site_is_told_what_to_set(standin: Fleet) -> None:
    write_runner_inventory(
        standin,
        {"runner-1": {}, "runner-2": {"ghes_setup_client_site": "/srv/site.toml"}},
        TOKEN,
        executable=standin.executable,
    )
    result = play(standin, "client-check.yml")
    assert result.returncode == 2, result
    assert recap(result, "runner-1")["failed"] == 1
    assert "set ghes_setup_client_hostname" in result.stdout
    # The site file alone is enough (client check takes the hostname from it).
    [run] = runs(standin)
    assert run["argv"] == [
        "client",
        "check",
        "--format",
        "json",
        "--site",
        "/srv/site.toml",
        "--token-stdin",
    ]
    assert recap(result, "runner-2")["failed"] == 0
    # The recap still counts the runner that never ran the check.
    assert '"runner-1: no result (unreachable, or it failed before the check)"' in result.stdout
    assert "1 of 2 runners can use the registry of /srv/site.toml" in result.stdout
