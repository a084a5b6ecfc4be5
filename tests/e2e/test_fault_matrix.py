"""The fault matrix (issue 13): every lab fault x every changing command x both transports.

Each case starts from a fresh lab appliance (`lab.reset()`, one shared lab for the session),
arms one fault, runs the command, clears the faults and runs the same command again. The
invariants, whatever the fault:

- a run that exits 0 leaves the appliance in the desired state for the command's settings:
  stored (ghe-config) AND applied (the last successful configuration run) equal the site
  file's values;
- a run that does not exit 0 never prints a success message ("is set up", "Nothing to
  change", "No changes");
- the next run without the fault completes: exit 0 and the desired state, stored and applied;
  and `check`'s appliance-pending then passes.

Transports: `ssh` is the admin shell alone (no admin password); `api` is the Manage API for
what it documents (config apply: `--transport api`; the commands that also write Packages
keys, which only the admin shell can: `--transport auto` with the password, so settings and
configuration runs go through the API). docs/reliability.md records the matrix and its
results; set GHES_SETUP_MATRIX_OUT=FILE to append one JSON line per case.
"""

from __future__ import annotations

import json
import os
import time
from typing import Final

import pytest

from ghes_setup.lab import settings as keys
from ghes_setup.lab.handle import LabHandle
from tests.conftest import assert_no_traceback

pytestmark = pytest.mark.lab

FAULTS: Final = (
    "apply-fail",
    "api-503",
    "ssh-drop",
    "registry-503",
    "dns-no-wildcard",
    "cert-expired",
)
# The registry waits are short: in the lab a configuration run takes about a second, and with
# the cert-expired fault /v2/ cannot answer (its certificate is expired) until the fault is
# cleared, so a long wait only costs CI time.
COMMANDS: Final = {
    "config apply": ("config", "apply", "--yes"),
    "packages enable": ("packages", "enable", "--yes"),
    "registry start": ("registry", "start", "--yes", "--timeout", "20"),
    "up": ("up", "--yes", "--registry-timeout", "20"),
}
CORE: Final = (keys.ISOLATION, keys.SSL_ENABLED, keys.SSL_CERT, keys.SSL_KEY)
PACKAGES: Final = (
    keys.PACKAGES_ENABLED,
    keys.STORAGE_TYPE,
    keys.SERVICE_URL,
    keys.BUCKET,
    keys.ACCESS_KEY,
    keys.SECRET_KEY,
)
SCOPE: Final = {
    "config apply": CORE,
    "packages enable": PACKAGES,
    "registry start": CORE + PACKAGES,
    "up": CORE + PACKAGES,
}
SUCCESS_WORDS: Final = ("is set up", "Nothing to change", "No changes")


def transport_args(command: str, transport: str) -> tuple[tuple[str, ...], dict[str, str]]:
    if transport == "ssh":
        return ("--transport", "ssh"), {"GHES_SETUP_ADMIN_PASSWORD": ""}
    if command == "config apply":
        return ("--transport", "api"), {}
    return ("--transport", "auto"), {}


def differences(lab: LabHandle, names: tuple[str, ...]) -> list[str]:
    """Settings of `names` whose stored or applied value is not the site file's."""
    want = lab.desired_settings()
    stored, applied = lab.settings(), lab.applied_settings()
    wrong = []
    for name in names:
        target = want[name].strip()
        if (stored.get(name) or "").strip() != target:
            wrong.append(f"{name} (stored)")
        elif (applied.get(name) or "").strip() != target:
            wrong.append(f"{name} (applied)")
    return wrong


def record(row: dict[str, object]) -> None:
    out = os.environ.get("GHES_SETUP_MATRIX_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("transport", ["ssh", "api"])
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_ends_in_the_desired_state_or_one_the_next_run_completes(
    lab: LabHandle, run_tool, fault: str, command: str, transport: str
) -> None:
    lab.reset()
    extra, env = transport_args(command, transport)
    argv = (*COMMANDS[command], *extra)
    if command == "up" and fault != "registry-503":
        argv += ("--no-smoke",)  # the smoke test only meets the registry-503 fault
    started = time.monotonic()
    lab.fault(fault)
    try:
        first = run_tool(*argv, env=env)
    finally:
        fired = [line for line in lab.fired_faults() if fault in line]
        lab.clear_faults()
    assert_no_traceback(first)
    first_diff = differences(lab, SCOPE[command])
    if first.exit_code == 0:
        assert not first_diff, f"exit 0 while the appliance differs: {first_diff}\n{first}"
    else:
        said = [w for w in SUCCESS_WORDS if w in first.output]
        assert not said, f"exit {first.exit_code} but the output says {said}\n{first}"

    second = run_tool(*argv, env=env)
    assert_no_traceback(second)
    assert second.exit_code == 0, f"the run after {fault} did not complete:\n{second}"
    second_diff = differences(lab, SCOPE[command])
    assert not second_diff, f"exit 0 while the appliance differs: {second_diff}\n{second}"
    check = run_tool("check", *extra, "--format", "json", env=env)
    pending = next(r for r in check.json()["results"] if r["id"] == "appliance-pending")
    assert pending["status"] == "pass", pending
    record(
        {
            "fault": fault,
            "command": command,
            "transport": transport,
            "fired": bool(fired),
            "first_exit": first.exit_code,
            "first_left": first_diff,
            "second_exit": second.exit_code,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
