"""A configuration run on more than one node, against the lab's Manage API (`set_topology`):
every node's events are followed with one cursor each, and the run has succeeded only when
every entry of `nodes[]` says so (a failure names the node)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.appliance.test_lab_config import ISOLATION, Run
from tests.conftest import CliRunner

pytestmark = pytest.mark.lab

REPLICA_NODE = "ghe-lab-replica"  # the lab's second node in the Ha topology (docs/lab.md)


@pytest.fixture
def run(cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path) -> Iterator[Run]:
    runner = Run(cli, fresh_lab, tmp_path / "state")
    fresh_lab.set_topology("Ha")
    try:
        yield runner
    finally:
        fresh_lab.set_topology("SingleNode")
        fresh_lab.clear_faults()


def node_lines(stderr: str, node: str) -> list[str]:
    return [m.group(0) for m in re.finditer(rf"{re.escape(node)}: [^\n]*", stderr)]


def test_events_of_both_nodes_are_shown_once_each(run: Run) -> None:
    result = run("config", "apply", "--yes", "--transport", "api")
    assert result.exit_code == 0, result
    hostname = run.lab.hostname
    for node in (hostname, REPLICA_NODE):
        lines = node_lines(result.stderr, node)
        assert lines, f"no events of {node}"
        repeated = [line for line, n in Counter(lines).items() if n > 1]
        assert not repeated, f"events of {node} repeated: {repeated}"
    assert run.lab.settings()[ISOLATION] == "true"


def test_a_run_that_fails_on_the_second_node_fails_and_names_it(run: Run) -> None:
    run.lab.fault("apply-fail-node2")
    result = run("config", "apply", "--yes", "--transport", "api")
    assert result.exit_code == 6, result
    assert REPLICA_NODE in result.stderr
    assert "failed" in result.stderr
