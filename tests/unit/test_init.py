"""`ghes-setup init`: the commented site file, generated from the site model."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path

import pytest

from ghes_setup.appliance.transport import ApplianceInfo
from ghes_setup.cli.init_cmd import appliance_values
from ghes_setup.config.site import load_site
from ghes_setup.config.template import KEY_HELP, model_keys, render
from ghes_setup.facts import GhesVersion
from tests.conftest import ROOT, CliRunner


def _documented_keys() -> set[str]:
    """Every key of the tables in docs/site-file.md, as section.key paths."""
    keys: set[str] = set()
    section = ""
    for line in (ROOT / "docs" / "site-file.md").read_text().splitlines():
        heading = re.match(r"### `\[(\w+)\]`", line)
        if heading:
            section = heading.group(1)
        elif line.startswith("### Top level"):
            section = ""
        row = re.match(r"\| `(\w+)` \|", line)
        if row:
            keys.add(f"{section}.{row.group(1)}" if section else row.group(1))
    return keys


def test_the_template_covers_exactly_the_model_and_the_documented_keys() -> None:
    documented = _documented_keys()
    assert len(documented) > 30
    assert set(model_keys()) == set(KEY_HELP) == documented


def test_init_writes_a_0600_file_that_loads_and_lists_every_documented_key(
    cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "site.toml"
    old = os.umask(0)
    try:
        result = cli("init", "ghe.example.com", "--out", str(out))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    for key in _documented_keys():
        name = key.rsplit(".", 1)[-1]
        section = key.split(".")[0] if "." in key else ""
        block = text.split(f"\n[{section}]\n", 1)[1] if section else text.split("\n[", 1)[0]
        block = block.split("\n[", 1)[0]
        assert re.search(rf"^(# )?{name} =", block, re.M), f"{key} missing"
    for secret in ("GHES_SETUP_ADMIN_PASSWORD", "GHES_SETUP_TOKEN", "GHES_SETUP_S3_SECRET_KEY",
                   "GHES_SETUP_AZURE_CONNECTION_STRING"):  # fmt: skip
        assert secret in text
    site = load_site(out, environ={})
    assert site.hostname == "ghe.example.com"
    assert site.connection == type(site.connection)()  # every other key at its default


def test_init_refuses_to_overwrite_without_force(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "site.toml"
    out.write_text("# mine\n")
    refused = cli("init", "ghe.example.com", "--out", str(out))
    assert refused.exit_code == 3 and "--force" in refused.stderr
    assert out.read_text() == "# mine\n"
    forced = cli("init", "ghe.example.com", "--out", str(out), "--force")
    assert forced.exit_code == 0, forced
    assert 'hostname = "ghe.example.com"' in out.read_text()


def test_init_writes_connection_values_given_as_flags_or_environment(
    cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "site.toml"
    result = cli(
        "init", "ghe.example.com", "--out", str(out), "--resolve", "ghe.example.com:10.0.0.5",
        env={"GHES_SETUP_CONNECTION_SSH_PORT": "2222", "GHES_SETUP_SITE": str(tmp_path / "x")},
    )  # fmt: skip
    assert result.exit_code == 0, result
    raw = tomllib.loads(out.read_text())
    assert raw["connection"] == {"ssh_port": 2222, "resolve": ["ghe.example.com:10.0.0.5"]}


def test_init_rejects_a_bad_hostname_and_writes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "site.toml"
    result = cli("init", "localhost", "--out", str(out))
    assert result.exit_code == 3, result
    assert not out.exists()


def _info() -> ApplianceInfo:
    return ApplianceInfo(version=GhesVersion.parse("3.17.4"), via="api")


@pytest.mark.parametrize(
    ("settings", "want"),
    [
        (
            {"packages.enabled": True, "packages.storage_type": "s3",
             "packages.service_url": "https://s3.us-west-2.amazonaws.com",
             "packages.bucket": "pk", "packages.aws_secret_key": "x"},
            {"packages.storage": "s3", "packages.bucket": "pk"},
        ),
        (
            {"packages.enabled": True, "packages.storage_type": "s3",
             "packages.service_url": "https://minio.corp:9000", "packages.bucket": "pk"},
            {"packages.storage": "minio", "packages.service_url": "https://minio.corp:9000"},
        ),
        (
            {"packages.enabled": False, "packages.storage_type": "azure",
             "packages.azure_container": "c",
             "packages.azure_connection_string": "DefaultEndpointsProtocol=https;AccountKey=k"},
            {"packages.storage": "azure", "packages.azure_container": "c",
             "packages.enabled": False},
        ),
    ],
)  # fmt: skip
def test_appliance_values_map_storage_and_never_take_a_secret(
    settings: dict[str, object], want: dict[str, object], tmp_path: Path
) -> None:
    values, notes = appliance_values(_info(), {"subdomain_isolation": True, **settings})
    assert values["ghes_version"] == "3.17"
    assert values["subdomain_isolation"] is True
    for key, value in want.items():
        assert values[key] == value
    text = render("ghe.example.com", values, notes=notes)
    assert "AccountKey" not in text and "aws_secret" not in text
    site_file = tmp_path / "site.toml"
    site_file.write_text(text)
    loaded = load_site(site_file, environ={})
    assert loaded.packages.storage == want["packages.storage"]


def test_init_into_a_missing_folder_is_exit_3_before_connecting(
    cli: CliRunner, tmp_path: Path
) -> None:
    # --from-appliance to an address nothing listens on: the folder is checked first.
    out = tmp_path / "nope" / "site.toml"
    result = cli("init", "ghe.example.com", "--out", str(out), "--from-appliance",
                 env={"GHES_SETUP_CONNECTION_ADDRESS": "127.0.0.1",
                      "GHES_SETUP_CONNECTION_SSH_PORT": "9"})  # fmt: skip
    assert result.exit_code == 3, result
    assert "does not exist" in result.stderr
