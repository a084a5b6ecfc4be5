"""`snapshot`, `verify` and `up` end to end against the lab: their JSON
documents match the published schemas (docs/schema/), and the human forms keep their lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult
from tests.e2e.conftest import assert_no_secret
from tests.schema_helpers import validate

pytestmark = pytest.mark.lab

Run = Callable[..., CliResult]


def test_snapshot_json_and_file_match_the_snapshot_schema(
    registry_lab: LabHandle, run_tool: Run, tmp_path: Path
) -> None:
    out = tmp_path / "before.json"
    taken = run_tool("snapshot", "--out", str(out), "--format", "json")
    assert taken.exit_code == 0, taken
    validate(taken.json(), "snapshot-v1")
    assert json.loads(out.read_text()) == taken.json()
    assert_no_secret(registry_lab, taken.output)

    human = run_tool("snapshot", "--out", str(out), "--force")
    assert human.exit_code == 0, human
    assert human.stdout.startswith(f"Snapshot of {registry_lab.hostname} (GHES ")
    assert human.stdout.endswith(f"After the upgrade: ghes-setup verify --against {out}\n")

    verified = run_tool("verify", "--against", str(out), "--no-smoke", "--format", "json")
    assert verified.exit_code == 0, verified
    validate(verified.json(), "report-v1")
    said = run_tool("verify", "--against", str(out), "--no-smoke")
    assert said.stdout.endswith(f"No difference since {out}.\n"), said


def test_up_dry_run_json_is_a_check_report(registry_lab: LabHandle, run_tool: Run) -> None:
    result = run_tool("up", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result
    validate(result.json(), "report-v1")
    assert result.json()["command"] == "up"
    human = run_tool("up", "--dry-run")
    assert human.stdout.rstrip("\n").splitlines()[-1].startswith("Dry run finished")
