"""The one way ghes-setup writes a file: private, atomic, never through a symbolic link.

Snapshots, reports, keys and the Prometheus textfile hold secrets or describe the appliance,
and a half-written or world-readable one is worse than none. So every write here:

- creates a temporary file in the target's own folder with `O_CREAT | O_EXCL | O_NOFOLLOW`
  and sets its mode with `fchmod` (0600 unless asked otherwise), so the umask neither widens
  nor narrows it and no other user can open it before it is complete;
- writes, `fsync`s, and renames it over the target (`rename(2)` is atomic within a
  filesystem, so a reader sees the old file or the new one, never half of either), then
  `fsync`s the folder so the rename survives a crash; without `overwrite` the last step is a
  hard link, which fails if the target appeared meanwhile;
- refuses a target that is a symbolic link (someone may have planted it to make us overwrite
  another file), and creates missing folders 0700.

Errors: a target that cannot be used as given (folder missing, a symlink, an existing file
without `overwrite`) is an `InputError` (exit 3), raised before any byte is written; a write
that fails (disk full, quota, read-only filesystem, permission) is an `OutputError` (exit 74).
What must not do: decide where files go or what goes in them (callers do).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets as _random
import stat
from pathlib import Path
from typing import Any, TextIO

from ghes_setup.errors import InputError, MaterialError, OutputError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def private_dir(path: Path, *, what: str = "folder") -> Path:
    """Create `path` (and its parents) 0700, or tighten an existing folder that others may use.

    A symbolic link to a folder is refused: the tool would otherwise create its secrets
    wherever the link points.
    """
    try:
        if path.is_symlink():
            raise InputError(
                f"{what} {path} is a symbolic link; refusing to write through it",
                hint="give the real path of the folder",
            )
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise InputError(f"{what} {path} is not a folder")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077 or mode & 0o700 != 0o700:  # others may use it, or the umask narrowed it
            path.chmod(PRIVATE_DIR)
    except OSError as exc:
        raise _write_error(exc, what, path) from None
    return path


def write_file(
    path: Path,
    data: bytes | str,
    *,
    mode: int = PRIVATE_FILE,
    overwrite: bool = True,
    make_dirs: bool = False,
    what: str = "file",
) -> Path:
    """Write `data` to `path` atomically with exactly `mode` (module docstring). `what` names
    the file in messages (`--report`, `snapshot`)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent if str(path.parent) else Path(".")
    if make_dirs:
        private_dir(folder, what=f"{what} folder")
    _check_target(path, folder, what)
    if not overwrite and path.exists():
        raise InputError(f"refusing to overwrite {what} {path}", hint="pass --force to replace it")
    tmp = folder / f".{path.name}.{_random.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW, mode)
    except OSError as exc:
        raise _write_error(exc, what, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # exactly `mode`, whatever the umask
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(
                    f"refusing to overwrite {what} {path}", hint="pass --force to replace it"
                ) from None
        _fsync_dir(folder)
    except OSError as exc:
        raise _write_error(exc, what, path) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def read_document(
    path: Path, *, what: str, schema_version: int, kind: str | None = None, hint: str | None = None
) -> dict[str, Any]:
    """A JSON document ghes-setup wrote (a capture, an upgrade snapshot, a run record), read
    back: an object with this version's `schema_version`, and `kind` when given. Anything else
    is a `MaterialError` (exit 3) that names the file and what is wrong with it; `hint` says
    how to get a good one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MaterialError(f"{what} {path} does not exist", hint=hint) from None
    except OSError as exc:
        raise MaterialError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError:  # not JSON, or not UTF-8
        raise MaterialError(f"{what} {path} is not JSON", hint=hint) from None
    if not isinstance(document, dict) or (kind is not None and document.get("kind") != kind):
        raise MaterialError(f"{path} is not a ghes-setup {what}", hint=hint)
    found = document.get("schema_version")
    if found != schema_version:
        raise MaterialError(
            f"{what} {path}: schema_version {found!r}, expected {schema_version}",
            hint="use the version of ghes-setup that wrote it, or make it again with this one",
        )
    return document


def _check_target(path: Path, folder: Path, what: str) -> None:
    """Refuse a target we must not write: a missing folder, a symbolic link (a planted one is
    also refused by O_NOFOLLOW at open), or something that is not a regular file."""
    if not folder.is_dir():
        raise InputError(
            f"{what} {path}: folder {folder} does not exist", hint="create it or pick another path"
        )
    if path.is_symlink():
        raise InputError(
            f"{what} {path} is a symbolic link; refusing to write through it",
            hint="remove the link or give the real path",
        )
    if path.exists() and not path.is_file():
        raise InputError(f"{what} {path} exists and is not a regular file")


def open_private_log(path: Path, *, what: str = "log file") -> TextIO:
    """Open `path` for appending, 0600, never through a symbolic link: a log written as the
    run goes (`--log-file`), so not atomic, but with the same guarantees on who can read it.

    An existing file is appended to and tightened to 0600 (it may already hold a trace);
    `O_NOFOLLOW` refuses a planted link even if it appears after the check.
    """
    folder = path.parent if str(path.parent) else Path(".")
    _check_target(path, folder, what)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | _NOFOLLOW
    try:
        fd = os.open(path, flags, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(
                f"{what} {path} is a symbolic link; refusing to write through it",
                hint="remove the link or give the real path",
            ) from None
        raise _write_error(exc, what, path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{what} {path} exists and is not a regular file")
        os.fchmod(fd, PRIVATE_FILE)
        return os.fdopen(fd, "a", encoding="utf-8", errors="replace", buffering=1)
    except OSError as exc:
        os.close(fd)
        raise _write_error(exc, what, path) from None
    except InputError:
        os.close(fd)
        raise


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsync-ed
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_HINTS = {
    errno.ENOSPC: "free some space on that filesystem (or pick another path) and run again",
    errno.EDQUOT: "your disk quota is used up: free some space and run again",
    errno.EROFS: "the filesystem is read-only: pick another path",
    errno.EACCES: "pick a path you may write to",
    errno.EPERM: "pick a path you may write to",
}


def _write_error(exc: OSError, what: str, path: Path) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(
        f"cannot write {what} {path}: {reason}",
        hint=_HINTS.get(exc.errno or 0, "check the path and the filesystem"),
    )
