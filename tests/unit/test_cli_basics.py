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


def test_nagios_usage_error_prints_an_unknown_line_and_exits_3(cli: CliRunner) -> None:
    result = cli("check", "--format", "nagios", "--no-such-option")
    assert result.exit_code == 3
    assert result.stdout.startswith("GHES-SETUP UNKNOWN - ")
    assert_no_traceback(result)


def test_nagios_input_error_prints_an_unknown_line_and_exits_3(cli: CliRunner, tmp_path) -> None:
    result = cli("check", "--format", "nagios", "--site", str(tmp_path / "missing.toml"))
    assert result.exit_code == 3
    assert result.stdout.startswith("GHES-SETUP UNKNOWN - site file")
    assert "does not exist" in result.stderr


def test_failed_run_replaces_the_prometheus_textfile_with_an_error_status(
    cli: CliRunner, tmp_path
) -> None:
    from tests.unit.test_reporters import parse_exposition

    target = tmp_path / "ghes.prom"
    target.write_text('ghes_setup_run_status{status="pass"} 1\n')  # the last good run
    result = cli("check", "--site", str(tmp_path / "missing.toml"),
                 "--format", "prometheus", "--textfile", str(target))  # fmt: skip
    assert result.exit_code == 3
    samples = parse_exposition(target.read_text())
    assert samples['ghes_setup_run_status{command="check",host="",status="error"}'] == 1
    assert samples['ghes_setup_run_status{command="check",host="",status="pass"}'] == 0


def test_internal_error_is_one_line_and_the_traceback_only_with_verbose(
    cli: CliRunner, monkeypatch
) -> None:
    import ghes_setup.dns.service as service

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(service, "records_for", broken)
    quiet = cli("dns", "records", "ghe.example.com", "--address", "10.0.0.5")
    assert quiet.exit_code == 70
    assert (
        quiet.stderr.count("\n") == 1 and "internal error: ZeroDivisionError: a bug" in quiet.stderr
    )
    assert_no_traceback(quiet)
    loud = cli("dns", "records", "ghe.example.com", "--address", "10.0.0.5", "--verbose")
    assert loud.exit_code == 70
    assert "Traceback" in loud.stderr


def test_verbose_is_accepted_after_the_subcommand(cli: CliRunner) -> None:
    result = cli("dns", "records", "ghe.example.com", "--address", "10.0.0.5", "-v")
    assert result.exit_code == 0, result
    assert "*.ghe.example.com." in result.stdout
