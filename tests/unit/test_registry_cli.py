"""`ghes-setup registry smoke` option handling that needs no network (exit 2 and 3 paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner, assert_no_traceback


def test_help_names_every_option_and_an_example(cli: CliRunner) -> None:
    result = cli("registry", "smoke", "--help")
    assert result.exit_code == 0
    for option in (
        "--site",
        "--user",
        "--namespace",
        "--image",
        "--size",
        "--keep",
        "--chunk-size",
        "--token-stdin",
        "--token-file",
        "--ca-file",
        "--nameserver",
        "--resolve",
        "--format",
        "--textfile",
    ):
        assert option in result.stdout, option
    assert "Example:" in result.stdout


def test_token_stdin_and_token_file_together_is_a_usage_error(
    cli: CliRunner, tmp_path: Path
) -> None:
    token = tmp_path / "pat"
    token.write_text("x" * 40)
    result = cli(
        "registry", "smoke", "ghe.example.com", "--token-stdin", "--token-file", str(token)
    )
    assert result.exit_code == 2
    assert_no_traceback(result)


@pytest.mark.parametrize("option", ["--size", "--chunk-size"])
def test_unparseable_size_is_a_usage_error(cli: CliRunner, option: str) -> None:
    result = cli("registry", "smoke", "ghe.example.com", option, "lots")
    assert result.exit_code == 2
    assert "not a size" in result.output


def test_missing_token_exits_3_saying_where_to_put_it(cli: CliRunner) -> None:
    result = cli("registry", "smoke", "ghe.example.com")
    assert result.exit_code == 3
    assert "GHES_SETUP_TOKEN" in result.stderr and "--token-stdin" in result.stderr
    assert_no_traceback(result)


def test_missing_hostname_exits_3(cli: CliRunner) -> None:
    result = cli("registry", "smoke", env={"GHES_SETUP_TOKEN": "x" * 40})
    assert result.exit_code == 3
    assert "hostname" in result.stderr


def test_empty_token_on_stdin_exits_3(cli: CliRunner) -> None:
    result = cli("registry", "smoke", "ghe.example.com", "--token-stdin", input="\n")
    assert result.exit_code == 3
    assert "standard input was empty" in result.stderr


def test_invalid_image_name_exits_3_before_any_connection(cli: CliRunner) -> None:
    result = cli(
        "registry",
        "smoke",
        "ghe.example.com",
        "--image",
        "Not Valid",
        env={"GHES_SETUP_TOKEN": "x" * 40},
    )
    assert result.exit_code == 3
    assert "not a valid repository name" in result.stderr
