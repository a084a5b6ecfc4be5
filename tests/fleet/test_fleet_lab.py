"""setup.yml against a fleet of two real lab appliances in one inventory.

Two labs (the session's `ghe.lab.test` and `second_lab`'s `ghe2.lab.test`) on two loopback
addresses: `--check` runs `ghes-setup up --dry-run` on each, reports "changed" with the planned
changes and writes nothing (the appliances' settings and configuration-run counts stay as they
were); a real run converges both; a second run reports no change and starts no configuration
run; `--check` after that reports no change either.
"""

from __future__ import annotations

import pytest

from ghes_setup.lab import settings as keys
from ghes_setup.lab.handle import LabHandle
from tests.fleet.conftest import Fleet, PlayResult, assert_no_secret, recap

pytestmark = pytest.mark.lab

HOSTS = ("ghe-one", "ghe-two")


@pytest.fixture
def two(fleet: Fleet, lab: LabHandle, second_lab: LabHandle) -> tuple[Fleet, list[LabHandle]]:
    lab.reset()
    second_lab.reset()
    fleet.add_appliance(HOSTS[0], lab=lab)
    fleet.add_appliance(HOSTS[1], lab=second_lab)
    return fleet, [lab, second_lab]


def state(labs: list[LabHandle]) -> list[tuple[dict[str, str], int]]:
    return [(lab.settings(), lab.apply_runs()) for lab in labs]


def changed(result: PlayResult) -> dict[str, int]:
    return {host: recap(result, host)["changed"] for host in HOSTS}


def test_check_reports_the_planned_changes_of_both_and_changes_nothing(
    two: tuple[Fleet, list[LabHandle]],
) -> None:
    fleet, labs = two
    before = state(labs)
    result = fleet.play("setup.yml", "--check")
    assert result.returncode == 0, result
    assert changed(result) == {"ghe-one": 1, "ghe-two": 1}, result
    assert result.stdout.count("change(s) planned, nothing written") == 2, result
    assert result.stdout.count("subdomain_isolation: false -> true") == 2, result
    assert "packages.s3_secret_key: (not set) -> (set, ********)" in result.stdout
    assert state(labs) == before
    assert_no_secret(result, fleet)


def test_setup_converges_both_then_a_second_run_and_check_change_nothing(
    two: tuple[Fleet, list[LabHandle]],
) -> None:
    fleet, labs = two
    first = fleet.play("setup.yml")
    assert first.returncode == 0, first
    assert changed(first) == {"ghe-one": 1, "ghe-two": 1}, first
    assert first.stdout.count("pass registry-smoke") == 2, first
    for lab in labs:
        applied = lab.applied_settings()
        assert applied.get(keys.ISOLATION) == "true", applied
        assert lab.registry_answers()
    assert_no_secret(first, fleet)

    converged = state(labs)
    again = fleet.play("setup.yml")
    assert again.returncode == 0, again
    assert changed(again) == {"ghe-one": 0, "ghe-two": 0}, again
    assert again.stdout.count("nothing to change") == 2, again
    assert [runs for _, runs in state(labs)] == [runs for _, runs in converged]

    check = fleet.play("setup.yml", "--check")
    assert check.returncode == 0, check
    assert changed(check) == {"ghe-one": 0, "ghe-two": 0}, check
    assert state(labs) == converged
    assert_no_secret(check, fleet)
