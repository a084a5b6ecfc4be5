"""Stored is not applied (issue 13 items 1-3) against the lab: after a failed configuration
run, an API 503 at "start config apply" or an interrupt right after "push: written", no
command says "nothing to change", "set up" or OK while the appliance serves the old settings;
the next run applies what is pending. Gates refuse before the first write; rollback picks the
right snapshot and restores only what its run changed."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from ghes_setup.appliance.apply import ApplyOptions, Clock, apply_site
from ghes_setup.appliance.transport import ApplianceTransport, ApplyRun, SettingValue
from ghes_setup.config.site import load_site
from ghes_setup.errors import ApplyFailed
from ghes_setup.lab.handle import LabHandle
from ghes_setup.runbooks.gates import tls_gate
from tests.appliance.conftest import api_transport, ssh_transport
from tests.conftest import assert_no_traceback
from tests.e2e.conftest import site_variant

pytestmark = pytest.mark.lab

ISOLATION = "core.subdomain-isolation"
CERT = "github-ssl.cert"
TRANSPORTS = ["ssh", "api"]


def by_id(doc: dict[str, object], check_id: str) -> dict[str, object]:
    return next(r for r in doc["results"] if r["id"] == check_id)  # type: ignore[union-attr,index]


def pending_check(run_tool, transport: str) -> dict[str, object]:
    result = run_tool("check", "--transport", transport, "--format", "json")
    assert_no_traceback(result)
    return by_id(result.json(), "appliance-pending")


def served_matches_site(lab: LabHandle) -> bool:
    """The applied (served) settings are the stored ones for isolation and the certificate."""
    stored, applied = lab.settings(), lab.applied_settings()
    return all(stored.get(k) == applied.get(k) for k in (ISOLATION, CERT))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_after_a_failed_run_check_fails_and_config_apply_applies_what_is_pending(
    fresh_lab: LabHandle, run_tool, transport: str
) -> None:
    lab = fresh_lab
    lab.fault("apply-fail")
    failed = run_tool("config", "apply", "--transport", transport, "--yes")
    assert failed.exit_code == 6, failed
    lab.clear_faults()
    assert lab.settings()[ISOLATION] == "true" and not served_matches_site(lab)

    pending = pending_check(run_tool, transport)
    assert pending["status"] == "fail", pending
    named = re.search(r"configuration run (ghes-setup-\S+) failed", failed.stderr)
    assert named, failed.stderr
    assert named.group(1) in pending["summary"], pending  # names the run ...
    assert "Reloading application services" in pending["summary"]  # ... and the step
    status = run_tool("packages", "status", "--transport", "ssh", "--format", "json")
    assert by_id(status.json(), "appliance-pending")["status"] == "fail"

    dry = run_tool("config", "apply", "--transport", transport, "--dry-run")
    assert dry.exit_code == 0, dry
    assert "pending: stored, not applied since run" in dry.stdout
    assert "Nothing to change" not in dry.stdout and "No changes" not in dry.stdout

    again = run_tool("config", "apply", "--transport", transport, "--yes", "--format", "json")
    assert again.exit_code == 0, again
    doc = again.json()
    assert doc["changes"] == [] and doc["pending"] is not None and doc["run_successful"]
    assert served_matches_site(lab)
    assert pending_check(run_tool, transport)["status"] == "pass"


def test_up_after_a_failed_run_applies_before_saying_set_up(
    registry_lab: LabHandle, run_tool
) -> None:
    """The old certificate must not be served when `up` says "is set up"."""
    lab = registry_lab
    other = site_variant(lab, lab.dir, {})  # same site, file in the lab folder
    assert other.exists()
    lab.set_settings({ISOLATION: "false"})
    lab.apply()
    lab.fault("apply-fail")
    first = run_tool("up", "--yes", "--no-smoke")
    assert first.exit_code == 6, first
    lab.clear_faults()
    assert not served_matches_site(lab)
    second = run_tool("up", "--yes", "--no-smoke", "--format", "json")
    assert second.exit_code == 0, second
    apply = by_id(second.json(), "appliance-config-apply")
    assert "nothing to change" not in str(apply["summary"]), apply
    assert "pending settings applied" in str(apply["summary"]), apply
    assert served_matches_site(lab)


class _Wrapped:
    """A real transport with one step replaced (the equivalent in-process of a fault or a
    Ctrl-C at the step the tool's progress shows)."""

    def __init__(self, inner: ApplianceTransport) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class _ApiDiesAtStart(_Wrapped):
    def __init__(self, inner: ApplianceTransport, lab: LabHandle) -> None:
        super().__init__(inner)
        self.lab = lab

    def start_apply(self, run_id: str) -> ApplyRun:
        self.lab.fault("api-503", count=20)  # right at "start config apply"
        try:
            return self.inner.start_apply(run_id)
        finally:
            self.lab.clear_faults()


class _CtrlCAfterPush(_Wrapped):
    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        self.inner.write_settings(changes)
        raise KeyboardInterrupt  # right after "push: written"


@pytest.mark.parametrize("fault", ["api-503-at-start", "interrupt-after-push"])
def test_a_run_that_never_started_is_pending_and_the_next_run_applies_it(
    fresh_lab: LabHandle, run_tool, tmp_path: Path, fault: str
) -> None:
    lab = fresh_lab
    state = tmp_path / "state"
    site = load_site(lab.site_path, environ={})
    options = ApplyOptions(snapshot_dir=state / "ghes-setup" / "snapshots", poll_s=0.2)
    transport = "api" if fault.startswith("api") else "ssh"
    inner = api_transport(lab) if transport == "api" else ssh_transport(lab)
    with inner:
        wrapped = _ApiDiesAtStart(inner, lab) if transport == "api" else _CtrlCAfterPush(inner)
        with pytest.raises((ApplyFailed, KeyboardInterrupt)):
            apply_site(wrapped, site, tls_gate=tls_gate, options=options, clock=Clock())  # type: ignore[arg-type]
    assert lab.settings()[ISOLATION] == "true" and not served_matches_site(lab)
    runs = lab.apply_runs()

    pending = pending_check(run_tool, transport)
    assert pending["status"] == "fail", pending
    assert "isolation" in str(pending["summary"]) or "tls" in str(pending["summary"])
    plan = run_tool("config", "plan", "--transport", transport, "--format", "json")
    assert plan.json()["pending"] is not None, plan
    again = run_tool("config", "apply", "--transport", transport, "--yes")
    assert again.exit_code == 0, again
    assert "Nothing to change" not in again.stdout
    assert lab.apply_runs() == runs + 1
    assert served_matches_site(lab)
    assert pending_check(run_tool, transport)["status"] == "pass"


def test_a_hostname_change_is_refused_before_any_write_naming_both_names(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    lab = fresh_lab
    lab.set_settings({"core.github-hostname": "old.lab.test"})
    before = lab.settings()
    result = run_tool("config", "apply", "--transport", "ssh", "--yes")
    assert result.exit_code == 3, result
    assert "old.lab.test" in result.stderr and lab.hostname in result.stderr
    assert lab.settings() == before
    up = run_tool("up", "--yes", "--no-smoke", "--transport", "ssh")
    assert up.exit_code == 3, up
    assert lab.settings() == before


def test_a_certificate_with_a_utf8_bom_is_pushed_without_it(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    lab = fresh_lab
    bom = tmp_path / "bom-chain.pem"
    bom.write_bytes(b"\xef\xbb\xbf" + lab.site_cert.read_bytes())
    site = site_variant(lab, tmp_path, {"tls.cert": json.dumps(str(bom))})
    result = run_tool("config", "apply", "--site", str(site), "--transport", "ssh", "--yes")
    assert result.exit_code in (0, 3), result  # normalised, or refused before any write
    if result.exit_code == 0:
        assert lab.settings()[CERT].startswith("-----BEGIN ")
        assert served_matches_site(lab)


def test_a_report_folder_that_does_not_exist_is_refused_before_anything_changes(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    before, runs = fresh_lab.settings(), fresh_lab.apply_runs()
    result = run_tool("up", "--yes", "--no-smoke", "--report", str(tmp_path / "no" / "r.md"))
    assert result.exit_code == 3, result
    assert fresh_lab.settings() == before and fresh_lab.apply_runs() == runs


@pytest.mark.parametrize("timeout", ["0", "-5", "nan"])
def test_a_bad_timeout_is_refused_before_anything_changes(
    fresh_lab: LabHandle, run_tool, timeout: str
) -> None:
    before = fresh_lab.settings()
    result = run_tool("config", "apply", "--transport", "ssh", "--yes", "--timeout", timeout)
    assert result.exit_code == 3, result
    assert fresh_lab.settings() == before


def test_the_rollback_command_printed_after_a_failed_apply_works_as_printed(
    fresh_lab: LabHandle, run_tool
) -> None:
    lab = fresh_lab
    before = lab.settings()
    lab.fault("apply-fail")
    failed = run_tool("config", "apply", "--yes")
    lab.clear_faults()
    assert failed.exit_code == 6, failed
    match = re.search(r"roll back with: (ghes-setup config rollback [^;\n]+)", failed.stderr)
    assert match, failed.stderr
    argv = shlex.split(match.group(1))[1:]
    back = run_tool(*argv, "--yes", env={"GHES_SETUP_SITE": ""})
    assert back.exit_code == 0, back
    assert lab.settings() == before
    assert served_matches_site(lab)


def test_rollback_without_a_path_restores_only_what_its_run_changed(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    lab = fresh_lab
    no_tls = site_variant(lab, tmp_path, {})
    text = no_tls.read_text()
    no_tls.write_text(re.sub(r"(?ms)^\[tls\].*?(?=^\[)", "", text))  # isolation only
    lab.fault("apply-fail")
    failed = run_tool("config", "apply", "--site", str(no_tls), "--transport", "ssh", "--yes")
    lab.clear_faults()
    assert failed.exit_code == 6, failed
    # Meanwhile someone installs a certificate: the rollback must not take it away.
    lab.set_settings({CERT: lab.site_cert.read_text(), "github-ssl.key": lab.site_key.read_text()})
    cert_now = lab.settings()[CERT]
    back = run_tool(
        "config", "rollback", "--site", str(no_tls), "--transport", "ssh", "--yes",
        "--format", "json",
    )  # fmt: skip
    assert back.exit_code == 0, back.stderr
    doc = back.json()
    assert [c["setting"] for c in doc["changes"]] == ["subdomain_isolation"], doc
    assert lab.settings()[ISOLATION] == "false"
    assert lab.settings()[CERT] == cert_now


def test_sigint_right_after_push_written_never_leaves_a_passing_check_on_pending_settings(
    fresh_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    """A real Ctrl-C (SIGINT to the process) at the moment its progress says "push: written"."""
    lab = fresh_lab
    env = {
        **os.environ,
        **lab.env,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ghes_setup", "config", "apply", "--transport", "ssh", "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "push: written" in line:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=120)
    assert any("push: written" in line for line in seen), "".join(seen)
    lab.wait_apply_idle(60)
    pending = pending_check(run_tool, "ssh")
    if not served_matches_site(lab):  # interrupted before the run applied the settings
        assert pending["status"] != "pass", pending
    again = run_tool("config", "apply", "--transport", "ssh", "--yes")
    assert again.exit_code == 0, again
    assert served_matches_site(lab)
    assert pending_check(run_tool, "ssh")["status"] == "pass"
