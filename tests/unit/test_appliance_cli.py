"""`ghes-setup config` paths that need no appliance: help, refusals before connecting."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CliRunner, assert_no_traceback

SITE = 'hostname = "ghe.example.com"\n[connection]\naddress = "127.0.0.1"\nssh_port = 1\n'


def site(tmp_path: Path) -> str:
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    return str(path)


def test_every_config_command_has_help_with_an_example(cli: CliRunner) -> None:
    for command in ("show", "plan", "apply", "rollback"):
        result = cli("config", command, "--help")
        assert result.exit_code == 0, result
        assert "Example: ghes-setup config" in result.stdout
        for option in ("--transport", "--host-key", "--accept-new-host-key", "--password-stdin"):
            assert option in result.stdout


def test_apply_without_yes_off_a_terminal_refuses_with_a_hint(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli("config", "apply", "--site", site(tmp_path))
    assert result.exit_code == 2, result
    assert "pass --yes" in result.stderr
    assert_no_traceback(result)


def test_api_transport_without_a_password_exits_3(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("config", "show", "--site", site(tmp_path), "--transport", "api")
    assert result.exit_code == 3, result
    assert "GHES_SETUP_ADMIN_PASSWORD" in result.stderr
