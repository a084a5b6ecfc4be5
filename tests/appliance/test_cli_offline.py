"""`ghes-setup config` against closed loopback ports: errors name host and port, exit 4, and
a password read from standard input never echoes. (Sockets, no server: not a unit test.)"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CliRunner, assert_no_traceback

SITE = (
    'hostname = "ghe.example.com"\n[connection]\naddress = "127.0.0.1"\nssh_port = 1\n'
    "api_port = 1\n"
)


def site(tmp_path: Path) -> str:
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    return str(path)


def test_unreachable_ssh_exits_4_naming_host_and_port(cli: CliRunner, tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("not a key")
    result = cli(
        "config", "show", "--site", site(tmp_path), "--transport", "ssh", "--identity", str(key)
    )
    assert result.exit_code == 4, result
    assert "ghe.example.com:1" in result.stderr
    assert_no_traceback(result)


def test_a_password_given_on_stdin_never_echoes(cli: CliRunner, tmp_path: Path) -> None:
    result = cli(
        "config",
        "show",
        "--site",
        site(tmp_path),
        "--transport",
        "api",
        "--password-stdin",
        input="s3cret-password-value\n",
    )
    assert result.exit_code == 4, result  # nothing listens on port 1
    assert "ghe.example.com:1" in result.stderr
    assert "s3cret-password-value" not in result.output
