"""Shared test helpers: run the CLI in-process or as a subprocess and capture what it prints."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.cli.main import run

# Fixtures for the lab appliance live in tests/fixtures/lab.py.
pytest_plugins = ["tests.fixtures.lab"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return (
            f"CliResult(exit_code={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"
        )


CliRunner = Callable[..., CliResult]


@contextlib.contextmanager
def _patched_env(env: Mapping[str, str] | None, clear: bool) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        if clear:
            for key in list(os.environ):
                if key.startswith("GHES_SETUP_"):
                    del os.environ[key]
        if env:
            os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def cli() -> CliRunner:
    """Run `ghes-setup ARGS...` in-process; returns exit code, stdout and stderr.

    GHES_SETUP_* variables of the calling environment are removed unless `keep_env=True`.
    """

    def invoke(
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        keep_env: bool = False,
    ) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        stdin = io.StringIO(input or "")
        with (
            _patched_env({"COLUMNS": "200", **(env or {})}, clear=not keep_env),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            saved_stdin = sys.stdin
            sys.stdin = stdin
            try:
                code = run(list(args))
            finally:
                sys.stdin = saved_stdin
        return CliResult(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def cli_subprocess() -> CliRunner:
    """Run `python -m ghes_setup ARGS...` in a real process (for tracebacks, stdin, timing)."""

    def invoke(
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        keep_env: bool = False,
        timeout: float = 120,
    ) -> CliResult:
        base = {k: v for k, v in os.environ.items() if keep_env or not k.startswith("GHES_SETUP_")}
        proc = subprocess.run(
            [sys.executable, "-m", "ghes_setup", *args],
            capture_output=True,
            text=True,
            input=input,
            env={**base, "COLUMNS": "200", **(env or {})},
            timeout=timeout,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return invoke


def assert_no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.output, result.output
