"""The live tier starts here: capture the real appliance, then judge the UNVERIFIED facts.

    GHES_SETUP_LIVE_SITE=site.toml GHES_SETUP_ADMIN_PASSWORD=... GHES_SETUP_TOKEN=... \\
        .venv/bin/python -m pytest -m live tests/live/test_capture_live.py

One run on a staging appliance settles the facts: a failure of the verify test names each
contradicted fact and what the appliance showed; correct ghes_setup/facts.py and contribute
the capture (docs/fidelity.md). The capture is read-only and left in pytest's tmp folder.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.conftest import CliRunner

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def live_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ghes_setup.cli.main import run

    site = os.environ.get("GHES_SETUP_LIVE_SITE")
    if not site:
        pytest.fail("set GHES_SETUP_LIVE_SITE to a site file of a real (staging) appliance")
    out = tmp_path_factory.mktemp("live") / "capture.json"
    code = run(["capture", "--site", site, "--out", str(out)])
    assert code == 0
    return out


def test_capture_of_the_live_appliance_is_written_private_and_redacted(
    live_capture: Path,
) -> None:
    assert stat.S_IMODE(live_capture.stat().st_mode) == 0o600
    text = live_capture.read_text(encoding="utf-8")
    for name in ("GHES_SETUP_ADMIN_PASSWORD", "GHES_SETUP_TOKEN"):
        value = os.environ.get(name)
        if value:
            assert value not in text, f"{name} leaked into the capture"
    doc = json.loads(text)
    assert doc["identity"]["version"], doc["probes"]
    failed = {n: p["error"] for n, p in doc["probes"].items() if p["ok"] is False}
    print(f"failed probes: {failed}")


def test_facts_verify_on_the_live_capture_contradicts_nothing(
    cli: CliRunner, live_capture: Path
) -> None:
    result = cli("facts", "verify", str(live_capture), "--format", "json")
    facts = result.json()["facts"]
    contradicted = [f for f in facts if f["verdict"] == "contradicted"]
    assert result.exit_code == (1 if contradicted else 0)
    assert not contradicted, "\n".join(f"{f['id']}: {f['evidence']}" for f in contradicted)
