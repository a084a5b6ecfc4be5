"""The apply commands' shared options (`appliance_options.RunArgs`, added by `with_run`): each
command lists them in the same place and order, without the ones it leaves out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ghes_setup.appliance.apply import ApplyOptions
from ghes_setup.cli.appliance_options import RunArgs
from tests.conftest import CliRunner

RUN = ["--dry-run", "--yes", "--no-wait", "--timeout", "--snapshot-dir", "--site", "--format"]


def long_options(help_text: str) -> list[str]:
    """The first long flag of each option line of a --help, in order."""
    flags = []
    for line in help_text.splitlines():
        found = re.match(r"\s{2}(?:-\w, )?(--[\w-]+)", line)
        if found:
            flags.append(found.group(1))
    return flags


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("config", "apply"), [*RUN, "--facts-from", "--transport"]),
        (("packages", "enable"), [*RUN, "--transport"]),
        (("config", "rollback"), [*RUN[1:], "--transport"]),  # no --dry-run
        # its own --timeout first; no --no-wait
        (("registry", "start"), ["--timeout", "--dry-run", "--yes", *RUN[4:], "--transport"]),
    ],
)
def test_the_run_options_stand_in_the_same_order(
    cli: CliRunner, command: tuple[str, ...], expected: list[str]
) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result
    flags = long_options(result.stdout)
    assert flags[: len(expected)] == expected


def test_rollback_and_registry_start_leave_out_what_they_do_not_take(cli: CliRunner) -> None:
    assert "--dry-run" not in long_options(cli("config", "rollback", "--help").stdout)
    assert "--no-wait" not in long_options(cli("registry", "start", "--help").stdout)


def test_the_run_options_make_the_apply_options() -> None:
    run = RunArgs(dry_run=True, no_wait=True, timeout=42.0, snapshot_dir=Path("snaps"))
    assert run.options() == ApplyOptions(
        dry_run=True, wait=False, timeout_s=42.0, snapshot_dir=Path("snaps").absolute()
    )
    assert RunArgs().options() == ApplyOptions()
