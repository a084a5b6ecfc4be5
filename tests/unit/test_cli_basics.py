"""The command line's own contract: version, help, usage errors."""

from __future__ import annotations

from ghes_setup import __version__
from tests.conftest import CliRunner, assert_no_traceback


def test_version_prints_name_and_version(cli: CliRunner) -> None:
    result = cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"ghes-setup {__version__}\n")


def test_help_lists_commands_and_exit_codes(cli: CliRunner) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for word in ("dns", "tls", "config", "packages", "registry", "lab", "Exit codes", "130"):
        assert word in result.stdout


def test_unknown_option_is_a_usage_error_exit_2(cli: CliRunner) -> None:
    result = cli("--no-such-option")
    assert result.exit_code == 2
    assert_no_traceback(result)


def test_python_dash_m_works(cli_subprocess: CliRunner) -> None:
    result = cli_subprocess("--version")
    assert (result.exit_code, result.stdout) == (0, f"ghes-setup {__version__}\n")


HEAVY = ("paramiko", "httpx", "cryptography", "dns", "OpenSSL", "jinja2", "jwt", "ghes_setup.lab")


def test_help_and_version_import_no_heavy_library() -> None:
    """--help/--version must start fast: service libraries are imported inside commands."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from ghes_setup.cli.main import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    run(['--help'])\n"
        "    for group in ('dns', 'tls', 'config', 'packages', 'registry', 'lab'):\n"
        "        run([group, '--help'])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
