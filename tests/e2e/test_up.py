"""`ghes-setup up` against the lab: all the way to a passing smoke test, then idempotent;
and stopping at the right step, with the right exit code, for each thing that can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import assert_no_traceback
from tests.e2e.conftest import assert_no_secret, site_with_certificate
from tests.schema import assert_valid_report

pytestmark = pytest.mark.lab


def statuses(doc: dict[str, object]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in doc["results"]}  # type: ignore[index,union-attr]


def test_up_takes_a_fresh_lab_to_a_passing_smoke_test_then_changes_nothing(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    lab = fresh_lab
    report_file = tmp_path / "up.md"
    first = run_tool("up", "--yes", "--format", "json", "--report", str(report_file))
    assert first.exit_code == 0, first
    doc = first.json()
    assert_valid_report(doc)
    got = statuses(doc)
    assert got["registry-smoke"] == "pass"
    assert got["registry-ping"] == "pass"
    assert got["appliance-config-apply"] == "pass"
    apply = next(r for r in doc["results"] if r["id"] == "appliance-config-apply")
    changed = {c["setting"] for c in apply["details"]["plan"]["changes"]}
    assert {"subdomain_isolation", "tls.cert", "tls.key", "packages.enabled"} <= changed
    settings = lab.settings()
    assert settings["core.subdomain-isolation"] == "true"
    assert settings["app.packages.enabled"] == "true"
    assert "Result: **success**" in report_file.read_text()
    assert_no_secret(lab, first.stdout, first.stderr, report_file.read_text())

    runs = lab.apply_runs()
    second = run_tool("up", "--yes", "--format", "json")
    assert second.exit_code == 0, second
    again = next(r for r in second.json()["results"] if r["id"] == "appliance-config-apply")
    assert again["details"]["plan"]["changes"] == []
    assert "nothing to change" in again["summary"]
    assert lab.apply_runs() == runs, "a second up started a configuration run"

    # Nothing to change, --dry-run: still read-only, so no smoke push (it writes an image and
    # deletes a package version), and no token needed for it.
    dry = run_tool("up", "--dry-run", "--format", "json", env={"GHES_SETUP_TOKEN": ""})
    assert dry.exit_code == 0, dry
    assert "registry-smoke" not in statuses(dry.json())
    assert lab.apply_runs() == runs


def test_dry_run_changes_nothing_and_shows_the_plan(fresh_lab: LabHandle, run_tool) -> None:
    runs = fresh_lab.apply_runs()
    before = fresh_lab.settings()
    result = run_tool("up", "--dry-run")
    assert result.exit_code == 0, result
    assert "subdomain_isolation" in result.stdout and "Dry run" in result.stdout
    assert fresh_lab.settings() == before
    assert fresh_lab.apply_runs() == runs


def test_dns_without_the_wildcard_stops_at_dns_with_exit_1(fresh_lab: LabHandle, run_tool) -> None:
    fresh_lab.fault("dns-no-wildcard")
    try:
        result = run_tool("up", "--yes", "--format", "json")
    finally:
        fresh_lab.clear_faults()
    assert result.exit_code == 1, result
    got = statuses(result.json())
    assert got["dns-wildcard"] == "fail"
    assert "appliance-config-apply" not in got, "up went on past a failing step"
    assert fresh_lab.settings()["core.subdomain-isolation"] != "true"


def test_certificate_without_the_wildcard_stops_at_tls_before_any_change(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    lab = fresh_lab
    site = site_with_certificate(lab, tmp_path, [lab.hostname], stem="nowild")  # no *.HOSTNAME
    runs = lab.apply_runs()
    result = run_tool("up", "--yes", "--site", str(site), "--format", "json")
    assert result.exit_code == 1, result
    got = statuses(result.json())
    assert got["tls-san"] == "fail"
    assert "appliance-config-apply" not in got
    assert lab.apply_runs() == runs


def test_wrong_admin_password_stops_at_preflight_with_exit_4(
    fresh_lab: LabHandle, run_tool
) -> None:
    result = run_tool("up", "--yes", env={"GHES_SETUP_ADMIN_PASSWORD": "not-the-password"})
    assert result.exit_code == 4, result
    assert_no_traceback(result)
    assert "Stopped at step 'preflight'" in result.stdout
    assert "not-the-password" not in result.output


def test_failing_configuration_run_exits_6_naming_the_step_and_the_snapshot(
    fresh_lab: LabHandle, run_tool
) -> None:
    fresh_lab.fault("apply-fail")
    try:
        result = run_tool("up", "--yes", "--format", "json")
    finally:
        fresh_lab.clear_faults()
    assert result.exit_code == 6, result
    apply = next(r for r in result.json()["results"] if r["id"] == "appliance-config-apply")
    assert apply["status"] == "fail"
    assert apply["details"]["step"] == "config apply"
    assert apply["details"]["snapshot"] and Path(apply["details"]["snapshot"]).exists()
    assert "registry-smoke" not in statuses(result.json())


def test_read_only_token_fails_the_smoke_test_with_exit_1(
    registry_lab: LabHandle, run_tool
) -> None:
    result = run_tool(
        "up", "--yes", "--format", "json", env={"GHES_SETUP_TOKEN": registry_lab.read_token}
    )
    assert result.exit_code == 1, result
    smoke = next(r for r in result.json()["results"] if r["id"] == "registry-smoke")
    assert smoke["status"] == "fail"
    assert "write:packages" in smoke["summary"] + (smoke["remedy"] or "")
    assert_no_secret(registry_lab, result.output)


def test_missing_token_is_an_input_error_before_anything_changes(
    fresh_lab: LabHandle, run_tool
) -> None:
    runs = fresh_lab.apply_runs()
    result = run_tool("up", "--yes", env={"GHES_SETUP_TOKEN": ""})
    assert result.exit_code == 3, result
    assert "GHES_SETUP_TOKEN" in result.stderr
    assert fresh_lab.apply_runs() == runs


def test_html_report_is_written(registry_lab: LabHandle, run_tool, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run_tool("up", "--yes", "--no-smoke", "--report", str(out))
    assert result.exit_code == 0, result
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "appliance-config-apply" in html
    assert f"<li>Command: <code>ghes-setup up --yes --no-smoke --report {out}</code></li>" in html
    assert "<li>Operator: " in html and " UTC, took " in html
    json.dumps(html)  # plain text, nothing binary


def test_secrets_from_files_and_stdin_options(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    password = tmp_path / "admin-password"
    password.write_text(fresh_lab.admin_password + "\n")
    password.chmod(0o600)
    result = run_tool(
        "up", "--dry-run", "--format", "json", "--password-file", str(password),
        env={"GHES_SETUP_ADMIN_PASSWORD": "", "GHES_SETUP_TOKEN": ""},
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert statuses(result.json())["appliance-reachable"] == "pass"


def test_check_takes_the_connection_options_of_design_4(registry_lab: LabHandle, run_tool) -> None:
    lab = registry_lab
    result = run_tool(
        "check", "--format", "json", "--ca-file", str(lab.ca_file),
        "--known-hosts", str(lab.known_hosts), "--identity", str(lab.identity),
        "--transport", "ssh", env={"GHES_SETUP_ADMIN_PASSWORD": ""},
    )  # fmt: skip
    not_passing = [r for r in result.json()["results"] if r["status"] not in ("pass", "skip")]
    assert result.exit_code == 0, not_passing
    reachable = next(r for r in result.json()["results"] if r["id"] == "appliance-reachable")
    assert reachable["details"]["via"] == "ssh"


def test_up_compares_the_packages_storage_a_site_names_but_leaves_as_it_is(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    """`[packages] enabled` unset leaves Packages to `packages enable`; a bucket the site
    names that the appliance does not use is still a difference, never "set up"."""
    lab = registry_lab
    text = lab.site_path.read_text()
    assert "\nenabled = true\n" in text and "\nbucket = " in text
    lines = [
        'bucket = "another-bucket"' if line.startswith("bucket = ") else line
        for line in text.splitlines()
        if line != "enabled = true"
    ]
    site = tmp_path / "site.toml"
    site.write_text("\n".join(lines) + "\n")
    runs = lab.apply_runs()
    result = run_tool("up", "--yes", "--no-smoke", "--site", str(site), "--format", "json")
    assert result.exit_code == 1, result
    doc = result.json()
    assert_valid_report(doc)
    enabled = next(r for r in doc["results"] if r["id"] == "packages-enabled")
    assert enabled["status"] == "fail" and "another-bucket" in enabled["summary"]
    assert "is set up" not in result.stdout + result.stderr
    assert lab.apply_runs() == runs  # compared, not written
