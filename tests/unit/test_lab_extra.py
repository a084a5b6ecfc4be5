"""The lab is the extra `ghes-setup[lab]`: without its libraries, `ghes-setup lab ...` says in
one line how to get them (exit 3), and the rest of the tool does not need them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import CliRunner

# Stands in for an install without the extra: `import jwt` fails as it would there.
_NO_JWT = "import sys; sys.modules['jwt'] = None; "


@pytest.mark.parametrize("command", [["lab", "status"], ["lab", "up", "--dir", "/nonexistent"]])
def test_lab_without_the_extra_says_how_to_get_it(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    result = cli(*command)
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "ghes-setup[lab]" in lines[0] and "pipx install" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["lab"], ["lab", "up"], ["lab", "status"]])
def test_lab_help_works_without_the_extra(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Usage: ghes-setup lab" in result.stdout


def test_the_tool_runs_without_the_lab_libraries() -> None:
    """A production command, in a fresh process where PyJWT cannot be imported."""
    script = (
        _NO_JWT + "from ghes_setup.cli.main import run; "
        "sys.exit(run(['explain', 'tls-san'])"
        " or run(['dns', 'records', 'ghe.example.com', '--address', '10.0.0.5']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "# tls-san" in done.stdout
    assert "ghe.example.com" in done.stdout
    assert "jwt" not in done.stderr
