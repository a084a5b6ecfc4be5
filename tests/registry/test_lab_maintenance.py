"""Maintenance mode against the lab: containers.HOSTNAME/v2/ answers 503 (as GHES does), and
`check` / `registry status` say maintenance, not "registry failure".

Needs the lab's maintenance model (`LabHandle.set_maintenance`, nginx answering 503 in
maintenance: helper A's lab change on branch wt-a).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliRunner, assert_no_traceback

pytestmark = pytest.mark.lab


@pytest.fixture
def in_maintenance(registry_lab: LabHandle) -> Iterator[LabHandle]:
    registry_lab.set_maintenance(True)  # type: ignore[attr-defined]
    try:
        yield registry_lab
    finally:
        registry_lab.set_maintenance(False)  # type: ignore[attr-defined]


def ping_result(doc: dict[str, object]) -> dict[str, object]:
    results = doc["results"]
    assert isinstance(results, list)
    return next(r for r in results if r["id"] == "registry-ping")


def test_check_reads_maintenance_and_reports_it_as_such(
    in_maintenance: LabHandle, cli: CliRunner
) -> None:
    result = cli("check", "--format", "json", env=in_maintenance.env)
    assert_no_traceback(result)
    ping = ping_result(result.json())
    assert ping["status"] == "warn", ping
    assert "maintenance mode" in str(ping["summary"])
    assert ping["details"]["maintenance"] is True  # type: ignore[index]


def test_registry_status_recognises_the_503_as_maybe_maintenance(
    in_maintenance: LabHandle, cli: CliRunner
) -> None:
    result = cli("registry", "status", "--format", "json", env=in_maintenance.env)
    assert_no_traceback(result)
    ping = ping_result(result.json())
    assert ping["status"] == "warn", ping
    assert "maintenance" in str(ping["summary"])
    assert result.exit_code == 0  # a warning, not a failure
