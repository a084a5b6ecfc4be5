"""Snapshots: the settings before a change, kept locally so that a rollback can restore them.

A snapshot is a JSON file holding the current value of every setting a change touches (and
the rest of its scope), *including secrets* (the TLS private key, storage keys): a rollback
must be able to write them back. Hence:

- the folder is created 0700 (and tightened to 0700 if it is looser), default
  `$XDG_STATE_HOME/ghes-setup/snapshots` or `~/.local/state/ghes-setup/snapshots`;
- each file is created with mode 0600 from the start (`O_CREAT|O_EXCL`, never briefly
  readable by others) and never overwritten;
- its name is `<host>-<UTC time>.json`; snapshots taken before a rollback end in
  `-pre-rollback.json` and are not what `config rollback` picks by default.

Treat snapshot files like the secrets they contain: delete old ones you no longer need.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ghes_setup.appliance.transport import Settings, SettingValue, spec
from ghes_setup.errors import MaterialError
from ghes_setup.facts import SettingKind
from ghes_setup.files import private_dir, write_file
from ghes_setup.secrets import Secret

SNAPSHOT_SCHEMA_VERSION: Final = 1
PRE_ROLLBACK: Final = "pre-rollback"


@dataclass(frozen=True, slots=True)
class Snapshot:
    host: str
    created: str  # ISO 8601 UTC
    via: str  # the transport that read the values
    reason: str  # "apply" | "pre-rollback"
    settings: Settings
    ghes_version: str | None = None
    path: Path | None = None


def default_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else None
    base = base or Path("~/.local/state").expanduser()
    return base / "ghes-setup" / "snapshots"


def _private_dir(directory: Path) -> Path:
    # 0700 (tightened if looser), never a symlink (ghes_setup.files).
    return private_dir(directory, what="snapshot folder (--snapshot-dir)")


def _encode(name: str, value: SettingValue) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    return value


def _decode(name: str, raw: Any, where: str) -> SettingValue:
    kind = spec(name).kind
    if raw is None:
        return None
    if kind is SettingKind.BOOL and isinstance(raw, bool):
        return raw
    if kind is not SettingKind.BOOL and isinstance(raw, str):
        return Secret(raw, f"snapshot {where}") if kind is SettingKind.SECRET else raw
    raise MaterialError(f"snapshot {where}: {name} has a value of the wrong type")


def save(
    settings: Settings,
    *,
    host: str,
    via: str,
    directory: Path,
    reason: str = "apply",
    ghes_version: str | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """Write a new snapshot file (0600 in a 0700 folder) and return it with its path."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    created = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    folder = _private_dir(directory)
    stamp = when.strftime("%Y%m%dT%H%M%S.%fZ")
    suffix = f"-{PRE_ROLLBACK}" if reason == PRE_ROLLBACK else ""
    document = {
        "schema_version": SNAPSHOT_SCHEMA_VERSION,
        "host": host,
        "created": created,
        "via": via,
        "reason": reason,
        "ghes_version": ghes_version,
        "note": "contains secrets (rollback needs them): keep this file private",
        "settings": {name: _encode(name, value) for name, value in settings.items()},
    }
    data = (json.dumps(document, indent=2) + "\n").encode()
    for attempt in range(100):
        path = folder / f"{host}-{stamp}{suffix}{f'-{attempt}' if attempt else ''}.json"
        if path.exists() or path.is_symlink():
            continue
        # 0600 whatever the umask, atomic, never through a symlink (ghes_setup.files).
        write_file(path, data, overwrite=False, what="snapshot")
        return Snapshot(host, created, via, reason, settings, ghes_version, path)
    raise MaterialError(f"cannot find a free snapshot name in {folder}")  # pragma: no cover


def load(path: Path) -> Snapshot:
    where = str(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MaterialError(
            f"snapshot {path} does not exist", hint="list them in the snapshot folder"
        ) from None
    except OSError as exc:
        raise MaterialError(f"cannot read snapshot {path}: {exc.strerror}") from None
    except ValueError:
        raise MaterialError(f"snapshot {path} is not JSON", hint="was it edited?") from None
    if mode & 0o077:
        raise MaterialError(
            f"snapshot {path} is readable by others (mode {mode:o}); it holds secrets",
            hint=f"chmod 600 {path}, and consider rotating the secrets it holds",
        )
    if not isinstance(raw, dict) or raw.get("schema_version") != SNAPSHOT_SCHEMA_VERSION:
        raise MaterialError(f"snapshot {path}: unknown format (schema_version)")
    values = raw.get("settings")
    if not isinstance(values, dict) or not isinstance(raw.get("host"), str):
        raise MaterialError(f"snapshot {path}: missing host or settings")
    settings: dict[str, SettingValue] = {}
    for name, value in values.items():
        try:
            spec(name)
        except KeyError:
            raise MaterialError(f"snapshot {path}: unknown setting {name!r}") from None
        settings[name] = _decode(name, value, where)
    return Snapshot(
        host=raw["host"],
        created=str(raw.get("created", "")),
        via=str(raw.get("via", "")),
        reason=str(raw.get("reason", "apply")),
        settings=Settings(settings),
        ghes_version=raw.get("ghes_version"),
        path=path,
    )


def latest(host: str, directory: Path) -> Path | None:
    """The newest snapshot taken before an apply to `host` (pre-rollback ones excluded)."""
    if not directory.is_dir():
        return None
    candidates = [
        p
        for p in directory.glob(f"{host}-*.json")
        if not p.name.endswith(f"-{PRE_ROLLBACK}.json") and p.name[len(host) + 1 :][:1].isdigit()
    ]
    return max(candidates, key=lambda p: p.name, default=None)
