"""The upgrade runbook: snapshot, then a changed setting, then verify reports exactly that."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.e2e.conftest import assert_no_secret
from tests.schema import assert_valid_report

pytestmark = pytest.mark.lab


def test_snapshot_then_a_changed_setting_then_verify_reports_exactly_that(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    lab = registry_lab
    out = tmp_path / "before.json"
    taken = run_tool("snapshot", "--out", str(out))
    assert taken.exit_code == 0, taken
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    snapshot = json.loads(out.read_text())
    assert snapshot["settings"]["subdomain_isolation"] == "true"
    assert all(snapshot["served"].values()), snapshot["served"]
    assert_no_secret(lab, out.read_text(), taken.output)

    same = run_tool("verify", "--against", str(out), "--no-smoke", "--format", "json")
    assert same.exit_code == 0, same
    assert all(not r["details"].get("differences") for r in same.json()["results"])

    lab.set_settings({"app.packages.npm-enabled": "false"})
    changed = run_tool("verify", "--against", str(out), "--format", "json")
    assert changed.exit_code == 1, changed
    doc = changed.json()
    assert_valid_report(doc)
    differences = [d for r in doc["results"] for d in r["details"].get("differences", [])]
    assert differences == [
        {"what": "packages.ecosystems.npm", "before": "enabled", "after": "disabled"}
    ]
    failed = [r["id"] for r in doc["results"] if r["status"] != "pass"]
    assert failed == ["packages-enabled"]


def test_snapshot_never_overwrites_without_force(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    out = tmp_path / "before.json"
    out.write_text("{}")
    refused = run_tool("snapshot", "--out", str(out))
    assert refused.exit_code == 3, refused
    assert out.read_text() == "{}"
    assert run_tool("snapshot", "--out", str(out), "--force").exit_code == 0


def test_verify_refuses_a_file_that_is_not_a_snapshot(
    lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"kind": "something else"}')
    result = run_tool("verify", "--against", str(bogus))
    assert result.exit_code == 3, result
    assert "not a ghes-setup upgrade snapshot" in result.stderr


@pytest.mark.parametrize("name", ["verify.md", "verify.html"])
def test_verify_report_for_the_upgrade_ticket_names_the_run_and_every_difference(
    registry_lab: LabHandle, run_tool, tmp_path: Path, name: str
) -> None:
    import getpass
    import socket

    from ghes_setup import __version__

    before = tmp_path / "before.json"
    assert run_tool("snapshot", "--out", str(before)).exit_code == 0
    registry_lab.set_settings({"app.packages.npm-enabled": "false"})
    report = tmp_path / name
    result = run_tool("verify", "--against", str(before), "--no-smoke", "--report", str(report))
    assert result.exit_code == 1, result
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o600
    text = report.read_text()
    if name.endswith(".html"):
        import html

        assert text.startswith("<!doctype html>")
        text = html.unescape(text)
    assert f"ghes-setup {__version__}" in text
    assert f"ghes-setup verify --against {before} --no-smoke --report {report}" in text
    assert f"{getpass.getuser()}@{socket.gethostname()}" in text
    assert "Started: " in text and " UTC, took " in text
    assert "packages.ecosystems.npm" in text and "disabled" in text
    assert str(before) in text
    assert_no_secret(registry_lab, text, result.output)


def test_verify_that_cannot_reach_the_appliance_still_writes_the_report(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    from tests.e2e.conftest import site_variant

    before = tmp_path / "before.json"
    assert run_tool("snapshot", "--out", str(before)).exit_code == 0
    dead = registry_lab.address.rsplit(".", 1)[0] + ".250"  # nothing listens there
    site = site_variant(registry_lab, tmp_path, {"connection.address": f'"{dead}"'})
    report = tmp_path / "verify.md"
    result = run_tool("verify", "--site", str(site), "--against", str(before), "--no-smoke",
                      "--timeout", "2", "--report", str(report))  # fmt: skip
    assert result.exit_code == 4, result
    text = report.read_text()
    assert "Result: **could not run** (exit code 4)" in text
    assert "- Error: " in text
    assert_no_secret(registry_lab, text, result.output)


def test_verify_after_the_certificate_expired_reports_it_instead_of_stopping(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    """The Manage API serves the same (now expired) certificate as the front door: with
    `transport = auto` the run must not fall back to SSH, and verify still reports the finding
    (tls-served fails) and says the appliance's settings could not be read, rather than exit 4."""
    before = tmp_path / "before.json"
    assert run_tool("snapshot", "--out", str(before)).exit_code == 0
    registry_lab.fault("cert-expired")
    try:
        result = run_tool("verify", "--against", str(before), "--no-smoke", "--format", "json")
    finally:
        registry_lab.clear_faults()
    assert result.exit_code == 1, result
    doc = result.json()
    assert_valid_report(doc)
    got = {r["id"]: r for r in doc["results"]}
    assert got["tls-served"]["status"] == "fail", got["tls-served"]
    # the certificate changed (a difference), and the live verdict on it says why it fails
    assert "expired" in got["tls-served"]["details"]["live"], got["tls-served"]
    for check_id in ("appliance-version", "subdomain-isolation", "packages-enabled"):
        assert got[check_id]["status"] == "error", got[check_id]
        assert "could not read the appliance" in got[check_id]["summary"]
        assert "renewed certificate" in (got[check_id]["remedy"] or "")
    assert_no_secret(registry_lab, result.output)
