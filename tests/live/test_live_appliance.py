"""Opt-in checks against a real GHES appliance (marker `live`; never in CI).

    GHES_SETUP_LIVE_SITE=site.toml GHES_SETUP_ADMIN_PASSWORD=... GHES_SETUP_TOKEN=... \\
        .venv/bin/python -m pytest -m live tests/live

Read-only except the smoke test's push (which cleans up after itself). These are the checks
that settle the UNVERIFIED rows of ghes_setup/facts.py: run them on a staging appliance and
correct the table where they disagree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.schema import assert_valid_report

pytestmark = pytest.mark.live


@pytest.fixture
def live_site() -> Path:
    site = os.environ.get("GHES_SETUP_LIVE_SITE")
    if not site:
        pytest.fail("set GHES_SETUP_LIVE_SITE to a site file of a real (staging) appliance")
    return Path(site)


def test_read_only_check_passes_on_the_live_appliance(cli: CliRunner, live_site: Path) -> None:
    result = cli("check", "--site", str(live_site), "--format", "json", keep_env=True)
    assert_valid_report(result.json())
    assert result.exit_code == 0, result.stdout


def test_config_show_reads_every_setting_the_facts_table_names(
    cli: CliRunner, live_site: Path
) -> None:
    result = cli("config", "show", "--site", str(live_site), "--format", "json", keep_env=True)
    assert result.exit_code == 0, result.stderr


def test_smoke_push_and_pull_on_the_live_registry(cli: CliRunner, live_site: Path) -> None:
    result = cli("registry", "smoke", "--site", str(live_site), "--format", "json", keep_env=True)
    assert result.exit_code == 0, result.stdout
    details = result.json()["results"][0]["details"]
    assert details["manifest_digest"].startswith("sha256:")
