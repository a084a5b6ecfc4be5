"""Ctrl-C at a step seen in the tool's own progress lines: one line naming the step and what
the appliance was left with, exit 130, no traceback (reporting/interrupt.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle

pytestmark = pytest.mark.lab


def _interrupt_when(
    lab: LabHandle,
    tmp_path: Path,
    transport: str,
    trigger: str,
    signum: signal.Signals = signal.SIGINT,
) -> tuple[int, list[str]]:
    """Run `config apply --yes`, send `signum` when a stderr line contains `trigger`."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GHES_SETUP_")},
        **lab.env,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "200",
    }
    lines: list[str] = []
    sent = False
    with subprocess.Popen(
        [sys.executable, "-m", "ghes_setup", "config", "apply", "--yes", "--transport", transport],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if not sent and trigger in line:
                proc.send_signal(signum)
                sent = True
        proc.wait(timeout=120)
    assert sent, lines
    return proc.returncode, lines


@pytest.mark.parametrize("transport", ["ssh", "api"])
def test_ctrl_c_after_push_written_says_stored_not_applied_or_the_run_left_running(
    fresh_lab: LabHandle, tmp_path: Path, transport: str
) -> None:
    code, lines = _interrupt_when(fresh_lab, tmp_path, transport, "push: written")
    try:
        assert code == 130, lines
        assert not any("Traceback" in line for line in lines), lines
        last = lines[-1]
        assert last.startswith("ghes-setup: interrupted at "), lines
        before = "\n".join(lines[:-1])
        # What the line says must match the last step the run showed before it (or the next
        # one: the signal may land between recording a step and drawing it).
        at_push = last.startswith("ghes-setup: interrupted at push;")
        at_apply = last.startswith("ghes-setup: interrupted at config apply;")
        if "✓ config apply" in before:
            assert "stored and applied" in last, lines
        elif "▸ config apply" in before:
            assert at_apply, lines
        else:
            assert at_push or at_apply, lines
        if at_push:
            assert "stored but not applied" in last, lines
        if at_apply:
            assert "still running" in last or "may not have started" in last, lines
        assert "ghes-setup config rollback " in last or "applied (" in last, lines
    finally:
        fresh_lab.wait_apply_idle()


def test_ctrl_c_before_any_write_says_the_appliance_was_not_changed(
    fresh_lab: LabHandle, tmp_path: Path
) -> None:
    before = fresh_lab.settings()
    code, lines = _interrupt_when(fresh_lab, tmp_path, "ssh", "▸ plan")
    assert code == 130, lines
    assert lines[-1].startswith("ghes-setup: interrupted at "), lines
    assert lines[-1].endswith("the appliance was not changed."), lines
    assert fresh_lab.settings() == before


def test_sigterm_after_push_written_is_the_same_line_and_143(
    fresh_lab: LabHandle, tmp_path: Path
) -> None:
    """A service manager's or `timeout(1)`'s SIGTERM mid-apply: the same account as Ctrl-C."""
    code, lines = _interrupt_when(fresh_lab, tmp_path, "ssh", "push: written", signal.SIGTERM)
    try:
        assert code == 143, lines
        assert not any("Traceback" in line for line in lines), lines
        last = lines[-1]
        assert last.startswith("ghes-setup: terminated (SIGTERM) at "), lines
        assert "stored" in last, lines
        assert "ghes-setup config rollback " in last or "applied (" in last, lines
    finally:
        fresh_lab.wait_apply_idle()
