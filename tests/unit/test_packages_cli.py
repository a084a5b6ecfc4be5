"""`packages` and `registry status/start` on the command line, where no appliance is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner, assert_no_traceback

SECRET = "s3-secret-never-shown-9f8e"


def write_site(tmp_path: Path, packages: str, extra: str = "") -> Path:
    site = tmp_path / "site.toml"
    site.write_text(
        f"""hostname = "ghe.example.com"
{extra}
[connection]
address = "192.0.2.10"

[packages]
{packages}
"""
    )
    return site


MINIO = """enabled = true
storage = "minio"
service_url = "http://minio.example.com:9000"
bucket = "pkgs"
"""
ENV = {"GHES_SETUP_S3_ACCESS_KEY": "AKIAEXAMPLE1", "GHES_SETUP_S3_SECRET_KEY": SECRET}


@pytest.mark.parametrize(
    "args",
    [
        ("packages", "enable", "--help"),
        ("packages", "status", "--help"),
        ("registry", "status", "--help"),
        ("registry", "start", "--help"),
    ],
)
def test_every_command_has_help_with_an_example(cli: CliRunner, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result
    assert "Example: ghes-setup" in result.stdout


def test_enable_help_lists_the_connection_options_of_config_apply(cli: CliRunner) -> None:
    text = cli("packages", "enable", "--help").stdout
    for option in ("--transport", "--identity", "--host-key", "--known-hosts", "--dry-run"):
        assert option in text
    assert "--password" not in text.replace("--password-file", "").replace("--password-stdin", "")


def test_enable_without_the_storage_secret_exits_3_naming_the_variable(
    cli: CliRunner, tmp_path: Path
) -> None:
    site = write_site(tmp_path, MINIO)
    result = cli(
        "packages",
        "enable",
        "--site",
        str(site),
        "--yes",
        "--identity",
        str(tmp_path / "no-key"),
        env={"GHES_SETUP_S3_ACCESS_KEY": "AKIAEXAMPLE1"},
    )
    assert result.exit_code == 3, result
    assert "GHES_SETUP_S3_SECRET_KEY" in result.stderr
    assert_no_traceback(result)


def test_enable_over_the_api_only_exits_3_saying_packages_needs_ssh(
    cli: CliRunner, tmp_path: Path
) -> None:
    site = write_site(tmp_path, MINIO)
    result = cli(
        "packages",
        "enable",
        "--site",
        str(site),
        "--yes",
        "--transport",
        "api",
        env={**ENV, "GHES_SETUP_ADMIN_PASSWORD": "admin-password-1234"},
    )
    assert result.exit_code == 3, result
    assert "admin SSH shell" in result.stderr and "Manage API has no Packages" in result.stderr
    assert SECRET not in result.output and "admin-password-1234" not in result.output


def test_enable_refuses_a_site_that_turns_packages_off(cli: CliRunner, tmp_path: Path) -> None:
    site = write_site(tmp_path, 'enabled = false\nstorage = "s3"\nbucket = "b"')
    result = cli("packages", "enable", "--site", str(site), "--yes", "--identity", "/dev/null")
    assert result.exit_code == 3, result
    assert "enabled = false" in result.stderr


def test_enable_without_a_terminal_or_yes_refuses_to_prompt(cli: CliRunner, tmp_path: Path) -> None:
    site = write_site(tmp_path, MINIO)
    result = cli("packages", "enable", "--site", str(site), env=ENV)
    assert result.exit_code == 2, result
    assert "--yes" in result.stderr


def test_registry_start_refuses_a_site_without_isolation(cli: CliRunner, tmp_path: Path) -> None:
    site = write_site(tmp_path, MINIO, extra="subdomain_isolation = false")
    result = cli(
        "registry", "start", "--site", str(site), "--yes", "--identity", "/dev/null", env=ENV
    )
    assert result.exit_code == 3, result
    assert "subdomain isolation" in result.stderr


def test_registry_start_refuses_a_disabled_container_ecosystem(
    cli: CliRunner, tmp_path: Path
) -> None:
    site = write_site(tmp_path, MINIO + 'ecosystems = { container = "disabled" }')
    result = cli(
        "registry", "start", "--site", str(site), "--yes", "--identity", "/dev/null", env=ENV
    )
    assert result.exit_code == 3, result
    assert "container ecosystem" in result.stderr


def test_registry_status_needs_a_hostname(cli: CliRunner) -> None:
    result = cli("registry", "status")
    assert result.exit_code == 3, result
    assert "hostname" in result.stderr
