"""Ctrl-C at a step seen in the tool's own progress lines: one line naming the step and what
the appliance was left with, exit 130, no traceback (reporting/interrupt.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.ports import silent_port

pytestmark = pytest.mark.lab


def _interrupt_when(
    lab: LabHandle,
    tmp_path: Path,
    transport: str,
    trigger: str,
    signum: signal.Signals = signal.SIGINT,
    *,
    command: tuple[str, ...] = ("config", "apply", "--yes"),
    extra_env: dict[str, str] | None = None,
    after: float = 0.0,
) -> tuple[int, list[str], float]:
    """Run `command` (`config apply --yes`), send `signum` `after` seconds after a stderr line
    contains `trigger`; the exit code, the stderr lines and the seconds from the signal to the
    exit."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GHES_SETUP_")},
        **lab.env,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "COLUMNS": "200",
        **(extra_env or {}),
    }
    lines: list[str] = []
    sent = False
    sent_at = 0.0
    with subprocess.Popen(
        [sys.executable, "-m", "ghes_setup", *command, "--transport", transport],
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
                time.sleep(after)
                proc.send_signal(signum)
                sent, sent_at = True, time.monotonic()
        proc.wait(timeout=120)
    assert sent, lines
    return proc.returncode, lines, time.monotonic() - sent_at


@pytest.mark.parametrize("transport", ["ssh", "api"])
def test_ctrl_c_after_push_written_says_stored_not_applied_or_the_run_left_running(
    fresh_lab: LabHandle, tmp_path: Path, transport: str
) -> None:
    code, lines, _ = _interrupt_when(fresh_lab, tmp_path, transport, "push: written")
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
    code, lines, _ = _interrupt_when(fresh_lab, tmp_path, "ssh", "▸ plan")
    assert code == 130, lines
    assert lines[-1].startswith("ghes-setup: interrupted at "), lines
    assert lines[-1].endswith("the appliance was not changed."), lines
    assert fresh_lab.settings() == before


def test_sigterm_after_push_written_is_the_same_line_and_143(
    fresh_lab: LabHandle, tmp_path: Path
) -> None:
    """A service manager's or `timeout(1)`'s SIGTERM mid-apply: the same account as Ctrl-C."""
    code, lines, _ = _interrupt_when(fresh_lab, tmp_path, "ssh", "push: written", signal.SIGTERM)
    try:
        assert code == 143, lines
        assert not any("Traceback" in line for line in lines), lines
        last = lines[-1]
        assert last.startswith("ghes-setup: terminated (SIGTERM) at "), lines
        assert "stored" in last, lines
        assert "ghes-setup config rollback " in last or "applied (" in last, lines
    finally:
        fresh_lab.wait_apply_idle()


def test_ctrl_c_while_the_ssh_read_ahead_hangs_ends_at_once(
    fresh_lab: LabHandle, tmp_path: Path
) -> None:
    """The Manage API answered; SSH, read ahead for the Packages keys, accepts TCP but never
    answers. Ctrl-C ends the run at once: nothing waits out the SSH timeout (10 s here)."""
    with silent_port(fresh_lab.address) as port:
        code, lines, waited = _interrupt_when(
            fresh_lab,
            tmp_path,
            "auto",
            "▸ plan",
            command=("packages", "enable", "--yes"),
            extra_env={"GHES_SETUP_CONNECTION_SSH_PORT": str(port)},
            after=0.5,  # the plan is waiting for the Packages keys by then
        )
    assert code == 130, lines
    assert waited < 3, (waited, lines)
    assert not any("Traceback" in line for line in lines), lines
    assert lines[-1] == "ghes-setup: interrupted at plan; the appliance was not changed.", lines


def test_sigterm_while_a_check_hangs_ends_at_once_with_a_failure_textfile(
    fresh_lab: LabHandle, tmp_path: Path
) -> None:
    """cron's `timeout` sends SIGTERM while a check waits on a Manage API that accepts TCP and
    never answers: the run ends at once (not when the check's read times out, after which the
    SIGKILL would come first) and its textfile says it could not run, instead of keeping the
    last good run's `ghes_setup_up 1` until the stale alert."""
    textfile = tmp_path / "ghes.prom"
    textfile.write_text("ghes_setup_up 1\n", encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GHES_SETUP_")},
        **fresh_lab.env,
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    with silent_port(fresh_lab.address) as port:
        env["GHES_SETUP_CONNECTION_API_PORT"] = str(port)
        with subprocess.Popen(
            [sys.executable, "-m", "ghes_setup", "check", "--transport", "api", "--format",
             "prometheus", "--textfile", str(textfile), "--timeout", "30"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env=env,
        ) as proc:  # fmt: skip
            time.sleep(2.5)  # started, and waiting on the silent Manage API
            assert proc.poll() is None, "check ended before the signal"
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            _, stderr = proc.communicate(timeout=60)
            waited = time.monotonic() - sent
    assert proc.returncode == 143, stderr
    assert waited < 3, (waited, stderr)
    assert "Traceback" not in stderr, stderr
    text = textfile.read_text(encoding="utf-8")
    assert re.search(r"^ghes_setup_up\{[^}]*\} 0$", text, re.M), text
    assert re.search(r"^ghes_setup_run_exit_code\{[^}]*\} 143$", text, re.M), text
