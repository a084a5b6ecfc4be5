"""The upgrade snapshot read back by `verify`: its shape is checked before the appliance is asked,
and the certificates compared are those of every address, not the first one's alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.checks import Outcome, Status
from ghes_setup.errors import MaterialError
from ghes_setup.exit_codes import for_error
from ghes_setup.runbooks.upgrade import KIND, SCHEMA_VERSION, _served, load_snapshot

A, B = "AA:" * 31 + "AA", "BB:" * 31 + "BB"


def snapshot(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "taken_at": "2026-12-01T10:00:00+00:00",
        "taken_by": "ghes-setup 0.1.0",
        "hostname": "ghe.example.com",
        "appliance": {"version": "3.17.4", "platform": None, "topology": "Single", "via": "ssh"},
        "settings": {"subdomain_isolation": "true", "packages.enabled": "true"},
        "unreadable": [],
        "served": {"ghe.example.com": A, "containers.ghe.example.com": A},
        "served_all": {"ghe.example.com": [A], "containers.ghe.example.com": [A]},
        "registry": {"ok": True, "answer": "401 Bearer", "realm": None, "service": None},
    }
    doc.update(changes)
    return doc


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "before.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_well_formed_snapshot_loads(tmp_path: Path) -> None:
    assert load_snapshot(write(tmp_path, snapshot()))["hostname"] == "ghe.example.com"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"appliance": None}, "no reading of the appliance"),
        ({"appliance": {"version": "next"}}, "not a GHES version"),
        ({"appliance": "3.17.4"}, "no version"),
        ({"settings": ["subdomain_isolation"]}, "'settings'"),
        ({"served": None}, "'served'"),
        ({"served": {"ghe.example.com": 5}}, "'served'"),
        ({"served_all": {"ghe.example.com": A}}, "'served_all'"),
        ({"registry": "up"}, "'registry'"),
        ({"hostname": 7}, "'hostname'"),
        ({"unreadable": "x"}, "'unreadable'"),
    ],
)
def test_a_snapshot_of_the_wrong_shape_is_bad_input_not_a_crash(
    tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(MaterialError) as caught:
        load_snapshot(write(tmp_path, snapshot(**changes)))
    assert words in caught.value.message
    assert caught.value.hint is not None
    assert int(for_error(caught.value)) == 3


LIVE = Outcome.passed("2 hosts serve a valid chain", details={})


def test_a_second_address_serving_another_certificate_is_a_difference() -> None:
    before = snapshot()
    after = snapshot(served_all={"ghe.example.com": [A], "containers.ghe.example.com": [A, B]})
    result = _served(before, after, LIVE)
    assert result.status is Status.FAIL, result
    assert result.details["differences"] == [
        {
            "what": "certificate served for containers.ghe.example.com",
            "before": A,
            "after": f"{A}, {B}",
        }
    ]


def test_an_older_snapshot_without_served_all_is_compared_with_every_address() -> None:
    before = snapshot()
    del before["served_all"]
    same = snapshot()
    assert _served(before, same, LIVE).status is Status.PASS
    other = snapshot(served_all={"ghe.example.com": [A, B], "containers.ghe.example.com": [A]})
    assert _served(before, other, LIVE).status is Status.FAIL


def test_a_snapshot_that_could_not_read_settings_says_verify_cannot_compare_them() -> None:
    from rich.console import Console

    from ghes_setup.reporting.upgrade import snapshot_human
    from ghes_setup.runbooks.upgrade import SnapshotTaken

    said = {}
    for name, unreadable in (("all read", []), ("api only", ["packages.enabled"])):
        console = Console(width=300, record=True, color_system=None)
        snapshot_human(console, SnapshotTaken(Path("before.json"), snapshot(unreadable=unreadable)))
        said[name] = console.export_text()
    assert "Warning" not in said["all read"]
    assert "1 setting(s) could not be read (packages.enabled)" in said["api only"]
    assert "SSH" in said["api only"]
