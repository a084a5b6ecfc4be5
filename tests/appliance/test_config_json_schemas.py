"""`config show/plan/apply/rollback --format json` and `lab status --format json` against the
lab match their published schemas (docs/schema/config-*-v1.json, lab-status-v1.json), over
both transports. The presenters' documents against the fake: tests/unit/test_json_schemas.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliRunner, assert_no_traceback
from tests.schema_helpers import validate

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("transport", ["ssh", "api"])
def test_config_documents_match_their_schemas(
    cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path, transport: str
) -> None:
    env = {**fresh_lab.env, "XDG_STATE_HOME": str(tmp_path / "state")}

    def doc(*args: str) -> Any:
        result = cli("config", *args, "--transport", transport, "--format", "json", env=env)
        assert_no_traceback(result)
        assert result.exit_code == 0, result
        return result.json()

    validate(doc("show"), "config-show-v1")
    plan = doc("plan")
    validate(plan, "config-plan-v1")
    assert plan["changes"], "a fresh lab differs from its site file"
    validate(doc("apply", "--dry-run"), "config-apply-v1")
    applied = doc("apply", "--yes")
    validate(applied, "config-apply-v1")
    assert applied["changed"] and applied["run_successful"] is True
    rolled_back = doc("rollback", "--yes")
    validate(rolled_back, "config-apply-v1")
    assert rolled_back["command"] == "config rollback"


def test_lab_status_matches_its_schema(cli: CliRunner, lab: LabHandle) -> None:
    result = cli("lab", "status", "--dir", str(lab.dir), "--format", "json")
    assert result.exit_code in (0, 1), result
    doc = result.json()
    validate(doc, "lab-status-v1")
    assert (result.exit_code == 0) is doc["healthy"]
