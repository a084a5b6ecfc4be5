"""`ghes-setup check` for cron, against the lab: Nagios codes, Prometheus textfile, JSON."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ghes_setup.checks.catalogue import Pipeline, rows
from ghes_setup.lab.handle import LabHandle
from tests.e2e.conftest import assert_no_secret, site_variant, site_with_certificate
from tests.schema import assert_valid_report
from tests.unit.test_reporters import parse_exposition

pytestmark = pytest.mark.lab

# `check` reports the catalogue's rows for it, in the table's order (the order's rules, and
# every id's page and schema entry, are tests/unit/test_check_catalogue.py's).
CHECK_IDS = [r.id for r in rows(Pipeline.CHECK)]


def test_healthy_lab_is_nagios_ok_and_json_lists_every_check(
    registry_lab: LabHandle, run_tool
) -> None:
    nagios = run_tool("check", "--format", "nagios")
    assert nagios.exit_code == 0, nagios
    assert nagios.stdout.startswith("GHES-SETUP OK - ")
    assert "'tls-served.days_left'=" in nagios.stdout.splitlines()[0]
    doc = run_tool("check", "--format", "json")
    assert doc.exit_code == 0, doc
    assert_valid_report(doc.json())
    assert [r["id"] for r in doc.json()["results"]] == CHECK_IDS
    assert_no_secret(registry_lab, nagios.output, doc.output)


def test_smoke_adds_registry_smoke(registry_lab: LabHandle, run_tool) -> None:
    result = run_tool("check", "--smoke", "--format", "json")
    assert result.exit_code == 0, result
    assert result.json()["results"][-1]["id"] == "registry-smoke"
    assert result.json()["results"][-1]["status"] == "pass"


def test_certificate_expiring_within_warn_days_is_nagios_warning(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    # The lab's certificate has ~395 days left: a threshold above that must warn.
    site = site_variant(registry_lab, tmp_path, {})
    site.write_text(site.read_text().replace("[tls]\n", "[tls]\nwarn_days = 500\n"))
    result = run_tool("check", "--site", str(site), "--format", "nagios")
    assert result.exit_code == 1, result
    assert result.stdout.startswith("GHES-SETUP WARNING - tls-served:")


@pytest.mark.parametrize("fault", ["cert-expired", "dns-no-wildcard"])
def test_expired_certificate_or_missing_wildcard_is_nagios_critical(
    registry_lab: LabHandle, run_tool, fault: str
) -> None:
    registry_lab.fault(fault)
    try:
        result = run_tool("check", "--format", "nagios")
    finally:
        registry_lab.clear_faults()
    assert result.exit_code == 2, result
    first = result.stdout.splitlines()[0]
    assert first.startswith("GHES-SETUP CRITICAL - ")
    assert ("tls-served" if fault == "cert-expired" else "dns-wildcard") in first


def test_unreachable_appliance_is_nagios_unknown(lab: LabHandle, run_tool, tmp_path: Path) -> None:
    dead = lab.address.rsplit(".", 1)[0] + ".250"  # nothing listens there
    site = site_variant(lab, tmp_path, {
        "connection.address": f'"{dead}"', "connection.nameservers": f'["{dead}:53"]',
    })  # fmt: skip
    result = run_tool("check", "--site", str(site), "--format", "nagios", "--timeout", "2",
                      env={"GHES_SETUP_CONNECTION_NAMESERVERS": f"{dead}:53"})  # fmt: skip
    assert result.exit_code == 3, result
    assert result.stdout.startswith("GHES-SETUP UNKNOWN - ")


def test_prometheus_textfile_is_written_atomically_and_parses(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    target = tmp_path / "ghes.prom"
    target.write_text("# the previous run\n")
    result = run_tool("check", "--format", "prometheus", "--textfile", str(target))
    assert result.exit_code == 0, result
    assert result.stdout == ""
    samples = parse_exposition(target.read_text())
    host = registry_lab.hostname
    labels = f'check="registry-ping",area="registry",host="{host}",status="pass"'
    key = f"ghes_setup_check_status{{{labels}}}"
    assert samples[key] == 1
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ghes")) == []


def test_check_never_changes_the_appliance(fresh_lab: LabHandle, run_tool) -> None:
    before, runs = fresh_lab.settings(), fresh_lab.apply_runs()
    result = run_tool("check", "--format", "json")
    assert result.exit_code == 1  # a fresh appliance: isolation off, Packages off
    assert fresh_lab.settings() == before
    assert fresh_lab.apply_runs() == runs


def test_a_renewed_certificate_in_the_site_file_not_yet_applied_fails_tls_enabled(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    """The appliance serves a good certificate, but not the one the site file gives: `check`
    says so (cron after a renewal that nobody applied), and changes nothing."""
    lab = registry_lab
    site = site_with_certificate(lab, tmp_path, [lab.hostname, f"*.{lab.hostname}"], stem="renewed")
    before = lab.settings()
    result = run_tool("check", "--site", str(site), "--format", "json")
    assert result.exit_code == 1, result
    tls = next(r for r in result.json()["results"] if r["id"] == "tls-enabled")
    assert tls["status"] == "fail" and "not the site file's (renewed.pem)" in tls["summary"]
    assert lab.settings() == before
    assert run_tool("check", "--format", "json").exit_code == 0  # the lab's own site file


def test_the_dns_checks_ask_the_nameserver_given_on_the_command_line(
    registry_lab: LabHandle, run_tool
) -> None:
    # Nothing answers DNS on 127.0.0.1:9: the DNS checks must say so, not pass by asking the
    # site file's nameserver (the lab's) instead.
    result = run_tool("check", "--nameserver", "127.0.0.1:9", "--format", "json")
    by_id = {r["id"]: r for r in result.json()["results"]}
    assert by_id["dns-hostname"]["status"] == "error", by_id["dns-hostname"]
    assert "127.0.0.1:9" in by_id["dns-hostname"]["summary"]
    # The appliance is reached through the site's pinned address, as before.
    assert by_id["appliance-reachable"]["status"] == "pass"
