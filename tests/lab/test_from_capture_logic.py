"""`lab up --from-capture`'s settings, without starting a lab: what is copied, what replaced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ghes_setup import facts
from ghes_setup.errors import InputError
from ghes_setup.lab import settings as keys
from ghes_setup.lab.from_capture import lab_settings, up_from_capture
from ghes_setup.lab.layout import LabConfig, Layout
from ghes_setup.lab.service import UpOptions, new_config

CAPTURE = (
    Path(__file__).resolve().parent.parent
    / "contract"
    / "captures"
    / f"lab-{facts.NEWEST_TESTED}.json"
)


def _lab(tmp_path: Path) -> tuple[LabConfig, Layout]:
    layout = Layout(tmp_path)
    layout.site_certs.mkdir(parents=True)
    layout.site_cert.write_text("LAB CERT\n")
    layout.site_key.write_text("LAB KEY\n")
    config = new_config(UpOptions(tmp_path, "ghe.lab.test", "3.19.1", "127.77.209.1"))
    return config, layout


def _capture() -> dict[str, Any]:
    return dict(json.loads(CAPTURE.read_text(encoding="utf-8")))


def test_settings_are_copied_and_secrets_and_addresses_replaced(tmp_path: Path) -> None:
    config, layout = _lab(tmp_path)
    doc = _capture()
    doc["ghe_config"]["entries"]["app.custom.setting"] = "kept"
    doc["ghe_config"]["entries"]["secrets.custom.token"] = "<redacted:token>"
    values, replaced, dropped = lab_settings(doc, config, layout)
    assert values[keys.ISOLATION] == "true" and values["app.custom.setting"] == "kept"
    assert values[keys.SSL_KEY] == "LAB KEY\n" and values[keys.SSL_CERT] == "LAB CERT\n"
    assert values[keys.SECRET_KEY] == config.s3_secret_key
    assert values[keys.SERVICE_URL] == config.service_url
    assert {keys.SSL_KEY, keys.SSL_CERT, keys.SECRET_KEY, keys.ACCESS_KEY} <= set(replaced)
    assert dropped == ["secrets.custom.token"]
    assert not any(v.startswith("<redacted:") for v in values.values())


def test_an_api_only_capture_gives_the_manage_api_settings(tmp_path: Path) -> None:
    config, layout = _lab(tmp_path)
    doc = _capture()
    doc["ghe_config"] = None
    doc["settings"]["smtp"]["enabled"] = True
    values, _, _ = lab_settings(doc, config, layout)
    assert values[keys.ISOLATION] == "true"
    assert values[keys.SSL_KEY] == "LAB KEY\n"  # the captured key was redacted
    smtp = json.loads(values[f"{keys.EXTRA_SECTION}.smtp.json"])
    assert smtp["enabled"] is True and smtp.get("password", "") == ""


def test_a_capture_without_a_version_is_refused_before_anything_starts(tmp_path: Path) -> None:
    doc = _capture()
    doc["identity"]["version"] = None
    path = tmp_path / "cap.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="version"):
        up_from_capture(path, tmp_path / "lab")
    assert not (tmp_path / "lab").exists()
