"""Topology against the lab (`LabHandle.set_topology`, helper A's lab change): GitHub Packages
"does not currently support clustering", so `packages enable`, `registry start` and `up` refuse
a Cluster with exit 5 before anything is written; a replica is refused naming the primary.

The lab presents a topology through its Manage API (`LabHandle.set_topology`); its admin shell
has no `/etc/github/cluster` or `repl-state` to present one over SSH, so these run with the
Manage API in use: `auto` (API and SSH, as Packages needs both) and `api` where it suffices.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.appliance.test_lab_config import Run
from tests.conftest import CliRunner

pytestmark = pytest.mark.lab


@pytest.fixture
def run(cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path) -> Iterator[Run]:
    runner = Run(cli, fresh_lab, tmp_path / "state")
    try:
        yield runner
    finally:
        fresh_lab.set_topology("SingleNode")  # type: ignore[attr-defined]
        fresh_lab.clear_faults()


# Packages needs the admin shell too, so `--transport api` refuses it (exit 3) before any
# topology question: those commands run with `auto`; `up` also with `api`.
CASES = [
    ("auto", ("packages", "enable")),
    ("auto", ("registry", "start")),
    ("auto", ("up",)),
    ("api", ("up",)),
]


@pytest.mark.parametrize(("transport", "command"), CASES, ids=[f"{t}-{c[-1]}" for t, c in CASES])
def test_a_cluster_is_refused_with_exit_5_before_anything_is_written(
    run: Run, command: tuple[str, ...], transport: str
) -> None:
    lab = run.lab
    lab.set_topology("Cluster")  # type: ignore[attr-defined]
    before, runs = lab.settings(), lab.apply_runs()
    result = run(*command, "--yes", "--transport", transport)
    assert result.exit_code == 5, result
    assert "clustering" in result.output
    assert lab.settings() == before and lab.apply_runs() == runs
    assert run.snapshots() == []


def test_a_replica_is_refused_naming_the_primary(run: Run) -> None:
    lab = run.lab
    lab.set_topology("Ha", replica=True)  # type: ignore[attr-defined]
    before = lab.settings()
    result = run("config", "apply", "--yes", "--transport", "api")
    assert result.exit_code == 5, result
    assert "replica" in result.output
    assert "primary (ghe-lab-primary)" in result.output  # the lab's primary (docs/lab.md)
    assert lab.settings() == before
