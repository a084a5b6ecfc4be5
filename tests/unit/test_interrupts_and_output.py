"""Ctrl-C, a closed or broken standard output and a full disk end with one line and a
documented code, never a traceback (docs/exit-codes.md).

The interrupted line is derived from the run's progress events (reporting/interrupt.py);
against the lab, tests/e2e/test_interrupts_lab.py interrupts real runs at real steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.progress import RecordingProgress
from ghes_setup.reporting.interrupt import interrupted_line


def _events(*calls: tuple[str, Any]) -> list[tuple[str, str]]:
    rec = RecordingProgress()
    for method, args in calls:
        getattr(rec, method)(*args)
    return rec.events


PLAN = (("stage", ("plan", "reading current settings")), ("finish", (True, "2 change(s)")))
SNAP = (
    ("stage", ("snapshot", "saving the current settings")),
    ("finish", (True, "/s/ghe.example.com-1.json")),
)
PUSH = (("stage", ("push", "writing 2 setting(s) via ssh")),)
WRITTEN = (*PUSH, ("finish", (True, "written")))
ANNOUNCED = (*WRITTEN, ("stage", ("config apply", "starting run r-42")))
STARTED = (*ANNOUNCED, ("advance", (1.0, 1800.0, "waiting for config apply")))
SUCCEEDED = (*STARTED, ("finish", (True, "run r-42 succeeded")))
# A run that applies what an earlier one stored (pending): no push of its own.
PENDING_RUN = (
    ("stage", ("config apply", "applying the pending settings in run r-43")),
    ("advance", (1.0, 1800.0, "waiting for config apply")),
)


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ((), ["interrupted; the appliance was not changed"]),
        (PLAN, ["interrupted at plan; the appliance was not changed"]),
        (
            (*PLAN, *SNAP, *PUSH),
            ["interrupted at push;", "possibly written, not applied", "rollback /s/ghe"],
        ),
        (
            (*PLAN, *SNAP, *WRITTEN),
            [
                "interrupted at push;",
                "stored but not applied",
                "no configuration run started",
                "config rollback /s/ghe.example.com-1.json",
            ],
        ),
        (
            (*PLAN, *SNAP, *ANNOUNCED),
            ["interrupted at config apply;", "run r-42 may not have started", "rollback /s/"],
        ),
        (
            (*PLAN, *SNAP, *STARTED),
            ["interrupted at config apply;", "run r-42 still running", "rollback /s/ghe"],
        ),
        (
            (*PLAN, *SNAP, *SUCCEEDED, ("stage", ("registry", "waiting for /v2/"))),
            ["interrupted at registry;", "stored and applied", "run r-42 succeeded"],
        ),
        (
            (*PLAN, *SNAP, *STARTED, ("finish", (False, "service failed"))),
            ["interrupted at config apply;", "stored but not applied", "r-42 failed"],
        ),
        (
            (*PLAN, *PENDING_RUN),
            ["interrupted at config apply;", "run r-43 still running", "settings are stored"],
        ),
    ],
    ids=[
        "nothing",
        "plan",
        "pushing",
        "written",
        "announced",
        "running",
        "applied",
        "failed",
        "pending-run",
    ],
)
def test_interrupted_line_says_the_step_and_what_was_left(
    calls: tuple[tuple[str, Any], ...], expected: list[str]
) -> None:
    line = interrupted_line(_events(*calls))
    for piece in expected:
        assert piece in line, line
    assert "\n" not in line


def _site(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text('hostname = "ghe.example.com"\n')
    return path


def _child(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ghes_setup", *args],
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        **kwargs,
    )


@pytest.mark.parametrize(
    ("signum", "fmt", "code", "said"),
    [
        (signal.SIGINT, "human", 130, "interrupted"),
        (signal.SIGINT, "nagios", 3, "interrupted"),
        (signal.SIGTERM, "human", 143, "terminated (SIGTERM)"),
        (signal.SIGTERM, "nagios", 3, "terminated (SIGTERM)"),
    ],
)
def test_ctrl_c_or_sigterm_is_one_line_and_130_143_or_a_nagios_unknown(
    tmp_path: Path, signum: signal.Signals, fmt: str, code: int, said: str
) -> None:
    """The run blocks reading the password from standard input; Ctrl-C (SIGINT) or a
    SIGTERM (cron's or systemd's timeout, `timeout(1)`) then."""
    proc = _child(
        "check",
        "--format",
        fmt,
        "--site",
        str(_site(tmp_path)),
        "--password-stdin",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.5)  # started and waiting on stdin (an early signal is also a clean interrupt)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, (out, err)
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"ghes-setup: {said}"), err
    assert "the appliance was not changed" in err
    if fmt == "nagios":
        assert out.startswith(f"GHES-SETUP UNKNOWN - {said}"), out
        assert len(out.strip().splitlines()) == 1


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[str, ...]:
    from ghes_setup.cli.main import run

    ca, out = tmp_path / "ca", tmp_path / "out"
    with open(os.devnull, "w") as null:
        saved = sys.stdout
        sys.stdout = null
        try:
            assert run(["tls", "ca", "create", "--out", str(ca), "--name", "Test CA"]) == 0
            assert run(["tls", "issue", "ghe.example.com", "--ca", str(ca), "--out", str(out)]) == 0
        finally:
            sys.stdout = saved
    return (
        "tls",
        "check",
        "--cert",
        str(out / "ghe.example.com-chain.pem"),
        "--key",
        str(out / "ghe.example.com.key"),
        "--ca-file",
        str(ca / "ca.pem"),
        "--hostname",
        "ghe.example.com",
    )


def _broken_pipe() -> tuple[int, Callable[[], None]]:
    read, write = os.pipe()
    os.close(read)  # nobody will ever read: every write is EPIPE

    def close() -> None:
        os.close(write)

    return write, close


STDOUTS = ["broken pipe", "closed", "disk full"]


def _run_with_stdout(kind: str, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    if kind == "broken pipe":
        fd, close = _broken_pipe()
        try:
            return subprocess.run(
                [sys.executable, "-m", "ghes_setup", *args],
                stdout=fd,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
                timeout=120,
            )
        finally:
            close()
    if kind == "closed":
        return subprocess.run(
            [sys.executable, "-m", "ghes_setup", *args],
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
            preexec_fn=lambda: os.close(1),  # the child starts with fd 1 closed
        )
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, "-m", "ghes_setup", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.mark.parametrize("kind", STDOUTS)
@pytest.mark.parametrize("fmt", ["human", "json", "nagios", "prometheus"])
def test_unwritable_stdout_is_one_line_and_74_or_nagios_unknown(
    tls_files: tuple[str, ...], kind: str, fmt: str
) -> None:
    proc = _run_with_stdout(kind, (*tls_files, "--format", fmt))
    assert proc.returncode == (3 if fmt == "nagios" else 74), proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    if kind == "disk full":
        assert "cannot write standard output: No space left on device" in lines[0]
    else:
        assert "standard output was closed" in lines[0]


@pytest.mark.parametrize("kind", STDOUTS)
@pytest.mark.parametrize("args", [("--version",), ("--help",), ("tls", "--help")])
def test_unwritable_stdout_for_version_and_help_is_74(kind: str, args: tuple[str, ...]) -> None:
    proc = _run_with_stdout(kind, args)
    assert proc.returncode == 74, proc
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
