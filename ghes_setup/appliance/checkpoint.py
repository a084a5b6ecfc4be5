"""Checkpoints: the settings before a change, kept locally so that a rollback can restore them.

`Checkpoint` is the code's name; users know the file as the apply *snapshot* (`--snapshot-dir`,
`config rollback SNAPSHOT`, the "snapshot" key of apply documents and error details), and the
messages below keep that word. It is not the upgrade snapshot (`runbooks/upgrade.py`, the
readings `ghes-setup snapshot` takes before an upgrade), which holds no secret and restores
nothing.

A checkpoint is a JSON file holding the current value of every setting a change touches (and
the rest of its scope), *including secrets* (the TLS private key, storage keys): a rollback
must be able to write them back. Hence:

- the folder is created 0700 (and tightened to 0700 if it is looser), default
  `$XDG_STATE_HOME/ghes-setup/snapshots` or `~/.local/state/ghes-setup/snapshots`;
- each file is created with mode 0600 from the start (`O_CREAT|O_EXCL`, never briefly
  readable by others) and never overwritten;
- its name is `<host>@<address>-<run id>.json`: the appliance it was taken from (the site's
  hostname and the address the tool connected to, so two labs or two appliances behind one
  name never share snapshots) and the configuration run that made it (run ids sort by time);
  snapshots taken before a rollback end in `-pre-rollback.json` and are not what
  `config rollback` picks by default.

A snapshot is also the tool's *run record* for that appliance: it names the settings the run
changed (`changed`), a SHA-256 digest of each value written (`targets`, so that a later run can
tell whether the write landed without keeping the new secrets twice), the appliance's latest
configuration run before the write (`previous_run`) and how far the run got (`state`:
snapshot -> written -> started -> succeeded | failed, or push-failed). `pending.py` reads it to
know whether stored settings were applied; `config rollback` restores only `changed`. The
settings part never changes; `mark` replaces the file atomically (same mode) to record the
state.

Treat snapshot files like the secrets they contain: delete old ones you no longer need.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ghes_setup.appliance.transport import Settings, SettingValue, normalise_pem, spec
from ghes_setup.errors import GhesSetupError, MaterialError
from ghes_setup.facts import SettingKind
from ghes_setup.files import private_dir, read_document, write_file
from ghes_setup.secrets import Secret

if TYPE_CHECKING:
    from ghes_setup.config.site import Site

CHECKPOINT_SCHEMA_VERSION: Final = 1
PRE_ROLLBACK: Final = "pre-rollback"


class RunState(StrEnum):
    """How far a run got (see the module docstring): the `state` of its snapshot file,
    written as these exact strings."""

    SAVED = "snapshot"
    WRITTEN = "written"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PUSH_FAILED = "push-failed"


# The module-level names callers used before the enum, in its order.
SAVED, WRITTEN, STARTED, SUCCEEDED, FAILED, PUSH_FAILED = RunState
# States after which nothing the run wrote can be pending.
SETTLED: Final = frozenset({RunState.SUCCEEDED, RunState.PUSH_FAILED})


@dataclass(frozen=True, slots=True)
class Checkpoint:
    host: str
    created: str  # ISO 8601 UTC
    via: str  # the transport that read the values
    reason: str  # "apply" | "pre-rollback"
    settings: Settings
    ghes_version: str | None = None
    path: Path | None = None
    appliance: str | None = None  # `appliance_key` of where it was taken
    run_id: str | None = None  # the run that made it
    changed: tuple[str, ...] | None = None  # None: an old snapshot, every setting counts
    targets: Mapping[str, str] | None = None  # setting -> digest of the value written
    previous_run: str | None = None  # the appliance's latest run before the write
    state: str = RunState.SAVED  # a RunState value (a file may hold one we do not know)
    step: str | None = None  # where a failed run stopped

    @property
    def restorable(self) -> Settings:
        """The values a rollback writes back: only what the run changed."""
        if self.changed is None:
            return self.settings
        return self.settings.subset(self.changed)


# The run ids `apply.new_run_id` makes: `ghes-setup-20261127T104500.123Z-1a2b`.
_RUN_ID = re.compile(r"^ghes-setup-(\d{8}T\d{6}\.\d{3})Z-[0-9a-f]+$")


def run_started(run_id: str | None) -> datetime | None:
    """When a run of ghes-setup started (UTC), read from its id; None for any other id."""
    match = _RUN_ID.match(run_id or "")
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)


def appliance_key(hostname: str, address: str) -> str:
    """`ghe.example.com@10.0.0.5`: the appliance a snapshot belongs to, safe in a file name."""
    key = f"{hostname}@{address}" if address and address != hostname else hostname
    return re.sub(r"[^A-Za-z0-9@._-]", "_", key)


def appliance_of(site: Site) -> str:
    """The key run records of this appliance are filed under (hostname and address)."""
    return appliance_key(site.hostname, site.connect_host)


def digest(name: str, value: SettingValue) -> str:
    """SHA-256 of a value as written (PEM normalised): compares without storing it twice."""
    if value is None:
        text = "\0unset"
    elif isinstance(value, Secret):
        revealed = value.reveal()
        text = normalise_pem(revealed) if "-----BEGIN " in revealed else revealed
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif spec(name).kind is SettingKind.PEM:
        text = normalise_pem(value)
    else:
        text = value
    return hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()


# Where every command looks for checkpoints and run records when --snapshot-dir is not given:
# `check` and `config plan` find a pending write only in the folder its run record is in.
SNAPSHOT_DIR_ENV: Final = "GHES_SETUP_SNAPSHOT_DIR"


def default_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$GHES_SETUP_SNAPSHOT_DIR, else $XDG_STATE_HOME/ghes-setup/snapshots, else
    ~/.local/state/ghes-setup/snapshots."""
    env = os.environ if environ is None else environ
    if env.get(SNAPSHOT_DIR_ENV):
        return Path(env[SNAPSHOT_DIR_ENV]).expanduser().absolute()
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
    appliance: str | None = None,
    run_id: str | None = None,
    changed: Mapping[str, SettingValue] | None = None,
    previous_run: str | None = None,
) -> Checkpoint:
    """Write a new snapshot file (0600 in a 0700 folder) and return it with its path.

    `changed` is what the run is about to write (names and new values): the record keeps the
    names and a digest of each value."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    created = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    folder = _private_dir(directory)
    stamp = when.strftime("%Y%m%dT%H%M%S.%fZ")
    suffix = f"-{PRE_ROLLBACK}" if reason == PRE_ROLLBACK else ""
    document = {
        "schema_version": CHECKPOINT_SCHEMA_VERSION,
        "host": host,
        "created": created,
        "via": via,
        "reason": reason,
        "ghes_version": ghes_version,
        "note": "contains secrets (rollback needs them): keep this file private",
        "settings": {name: _encode(name, value) for name, value in settings.items()},
        "appliance": appliance,
        "run_id": run_id,
        "changed": sorted(changed) if changed is not None else None,
        "targets": None,  # below
        "previous_run": previous_run,
        "state": RunState.SAVED.value,
        "step": None,
    }
    targets = {n: digest(n, v) for n, v in changed.items()} if changed is not None else None
    document["targets"] = targets
    data = (json.dumps(document, indent=2) + "\n").encode()
    prefix = f"{appliance or host}-{run_id or stamp}"
    for attempt in range(100):
        path = folder / f"{prefix}{suffix}{f'-{attempt}' if attempt else ''}.json"
        if path.exists() or path.is_symlink():
            continue
        # 0600 whatever the umask, atomic, never through a symlink (ghes_setup.files).
        write_file(path, data, overwrite=False, what="snapshot")
        return Checkpoint(
            host,
            created,
            via,
            reason,
            settings,
            ghes_version,
            path,
            appliance=appliance,
            run_id=run_id,
            changed=tuple(sorted(changed)) if changed is not None else None,
            targets=targets,
            previous_run=previous_run,
        )
    raise MaterialError(f"cannot find a free snapshot name in {folder}")  # pragma: no cover


def load(path: Path) -> Checkpoint:
    where = str(path)
    raw = read_document(
        path,
        what="snapshot",
        schema_version=CHECKPOINT_SCHEMA_VERSION,
        hint="list them in the snapshot folder",
    )
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise MaterialError(f"cannot read snapshot {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise MaterialError(
            f"snapshot {path} is readable by others (mode {mode:o}); it holds secrets",
            hint=f"chmod 600 {path}, and consider rotating the secrets it holds",
        )
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
    changed = raw.get("changed")
    targets = raw.get("targets")
    if changed is not None and (
        not isinstance(changed, list) or not all(n in settings for n in changed)
    ):
        raise MaterialError(f"snapshot {path}: 'changed' names settings it does not hold")
    if targets is not None and not isinstance(targets, dict):
        raise MaterialError(f"snapshot {path}: 'targets' is not a table")
    return Checkpoint(
        host=raw["host"],
        created=str(raw.get("created", "")),
        via=str(raw.get("via", "")),
        reason=str(raw.get("reason", "apply")),
        settings=Settings(settings),
        ghes_version=raw.get("ghes_version"),
        path=path,
        appliance=_text(raw.get("appliance")),
        run_id=_text(raw.get("run_id")),
        changed=tuple(changed) if changed is not None else None,
        targets={str(k): str(v) for k, v in targets.items()} if targets is not None else None,
        previous_run=_text(raw.get("previous_run")),
        state=str(raw.get("state") or RunState.SAVED.value),
        step=_text(raw.get("step")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def mark(snap: Checkpoint, state: str, step: str | None = None) -> Checkpoint:
    """Record how far the run got: rewrite the file atomically (a temporary 0600 file in the
    same folder, fsync, rename), so that a crash leaves the old state or the new, never half.
    Best effort: a run never fails because its record could not be updated."""
    if snap.path is None:
        return snap
    path = snap.path
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["state"] = state
        raw["step"] = step
        # 0600, atomic replace, never through a symlink (ghes_setup.files).
        write_file(path, json.dumps(raw, indent=2) + "\n", what="snapshot")
    except (OSError, ValueError, GhesSetupError):
        return snap
    return replace(snap, state=state, step=step)


def records(directory: Path, appliance: str) -> list[Path]:
    """Every snapshot (run record) of `appliance` in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob(f"{glob.escape(appliance)}-*.json") if _is_run(p, appliance)]
    return sorted(found, key=lambda p: p.name)


def _is_run(path: Path, appliance: str) -> bool:
    rest = path.name[len(appliance) + 1 :]
    return rest.startswith("ghes-setup-") or rest[:1].isdigit()


def latest_record(directory: Path, appliance: str) -> Checkpoint | None:
    """The record of the last run this tool made against `appliance` (rollbacks included)."""
    for path in reversed(records(directory, appliance)):
        try:
            return load(path)
        except MaterialError:
            continue
    return None


def latest(host: str, directory: Path, appliance: str | None = None) -> Path | None:
    """The newest snapshot taken before an apply to `appliance` (pre-rollback ones excluded);
    without `appliance`, or when it has none, to `host` (older snapshots were named by host
    and time only)."""
    for key in dict.fromkeys((appliance or host, host)):
        named = [p for p in records(directory, key) if not p.stem.endswith(PRE_ROLLBACK)]
        if named:
            return named[-1]
    return None
