"""Snapshots: private files, secrets kept for rollback, the default pick."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ghes_setup.appliance import checkpoint
from ghes_setup.appliance.transport import Settings
from ghes_setup.errors import MaterialError
from ghes_setup.secrets import Secret

SETTINGS = Settings(
    {
        "subdomain_isolation": False,
        "tls.key": Secret("-----BEGIN KEY-----\nk3y\n"),
        "tls.cert": None,
    }
)


def test_a_snapshot_is_0600_in_a_0700_folder_and_round_trips_secrets(tmp_path: Path) -> None:
    folder = tmp_path / "snaps"
    saved = checkpoint.save(SETTINGS, host="ghe.example.com", via="ssh", directory=folder)
    assert saved.path is not None
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    loaded = checkpoint.load(saved.path)
    assert loaded.host == "ghe.example.com" and loaded.reason == "apply"
    assert loaded.settings == SETTINGS
    key = loaded.settings["tls.key"]
    assert isinstance(key, Secret) and key.reveal() == "-----BEGIN KEY-----\nk3y\n"


def test_a_loose_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "snaps"
    folder.mkdir()
    os.chmod(folder, 0o750)  # noqa: S103 - looser on purpose: save() must tighten it
    checkpoint.save(SETTINGS, host="ghe.example.com", via="ssh", directory=folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_snapshot_readable_by_others_is_refused(tmp_path: Path) -> None:
    saved = checkpoint.save(SETTINGS, host="ghe.example.com", via="ssh", directory=tmp_path)
    assert saved.path is not None
    saved.path.chmod(0o644)
    with pytest.raises(MaterialError, match="readable by others"):
        checkpoint.load(saved.path)


def test_latest_is_the_newest_apply_snapshot_of_that_host(tmp_path: Path) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def save(host: str, minutes: int, reason: str = "apply") -> Path:
        snap = checkpoint.save(
            SETTINGS,
            host=host,
            via="api",
            directory=tmp_path,
            reason=reason,
            now=t0 + timedelta(minutes=minutes),
        )
        assert snap.path is not None
        return snap.path

    save("ghe.example.com", 1)
    newest = save("ghe.example.com", 2)
    save("ghe.example.com", 3, reason=checkpoint.PRE_ROLLBACK)
    save("other.example.com", 4)
    save("ghe.example.com.evil.test", 5)
    assert checkpoint.latest("ghe.example.com", tmp_path) == newest
    assert checkpoint.latest("none.example.com", tmp_path) is None


def test_garbage_is_a_material_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(MaterialError, match="not JSON"):
        checkpoint.load(path)
    with pytest.raises(MaterialError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.json")


def test_the_default_folder_is_the_env_one_then_xdg_then_home(tmp_path: Path) -> None:
    assert (
        checkpoint.default_dir({"GHES_SETUP_SNAPSHOT_DIR": str(tmp_path / "s")}) == tmp_path / "s"
    )
    both = {"GHES_SETUP_SNAPSHOT_DIR": str(tmp_path / "s"), "XDG_STATE_HOME": str(tmp_path / "x")}
    assert checkpoint.default_dir(both) == tmp_path / "s"
    xdg = {"XDG_STATE_HOME": str(tmp_path / "x")}
    assert checkpoint.default_dir(xdg) == tmp_path / "x" / "ghes-setup" / "snapshots"
    home = checkpoint.default_dir({"GHES_SETUP_SNAPSHOT_DIR": ""})
    assert home == Path("~/.local/state/ghes-setup/snapshots").expanduser()
