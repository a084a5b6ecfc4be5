"""Secrets: a type that never shows its value, and the only ways a secret may arrive.

A secret (admin password, PAT, storage key) comes from an environment variable, from a file
named by `<VAR>_FILE` or an option such as `--token-file`, or from standard input
(`--token-stdin`). Never from an option value: those end up in shell history and the process
list.

Every `Secret` made registers its value so that `scrub()` can remove it from any text
(exception messages, logs, JSON) as a last line of defence. `repr`, `str`, `format` and JSON
encoding all print `********`; `reveal()` is the one deliberate way to the value, and is
called only where the value is sent to the appliance.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final, TextIO, final

from ghes_setup.errors import MaterialError, SecretMissing

REDACTED: Final = "********"

_known: set[str] = set()
_known_lock = threading.Lock()


@final
class Secret:
    """A string that redacts itself everywhere except `reveal()`."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "secret") -> None:
        self._value = value
        # Where it came from, e.g. "GHES_SETUP_TOKEN" or "file /etc/ghes/pat": safe to show.
        self.source = source
        if len(value) >= 4:  # very short values would scrub ordinary text
            with _known_lock:
                _known.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(source={self.source!r}, value={REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def scrub(text: str) -> str:
    """Replace every known secret value in `text` by the redaction marker."""
    with _known_lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def from_env(
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    file: Path | None = None,
    stdin: TextIO | None = None,
) -> Secret | None:
    """Read the secret `name` from, in order: stdin (if given), `file`, `$name`, `$name_FILE`.

    Returns None when no source has it; `require()` turns that into `SecretMissing`.
    """
    env = os.environ if environ is None else environ
    if stdin is not None:
        value = stdin.readline().rstrip("\r\n")
        if not value:
            raise SecretMissing(f"{name}: standard input was empty", hint="pipe the secret in")
        return Secret(value, "stdin")
    if file is not None:
        return _read_file(file)
    if env.get(name):
        return Secret(env[name], name)
    file_var = f"{name}_FILE"
    if env.get(file_var):
        return _read_file(Path(env[file_var]).expanduser())
    return None


def require(
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    file: Path | None = None,
    stdin: TextIO | None = None,
    purpose: str,
    stdin_option: str | None = None,
    file_option: str | None = None,
) -> Secret:
    """Like `from_env`, but a missing secret is an `InputError` (exit 3) saying where to put it."""
    secret = from_env(name, environ, file=file, stdin=stdin)
    if secret is None:
        ways = [f"set {name}", f"or {name}_FILE=PATH"]
        if file_option:
            ways.append(f"or pass {file_option} PATH")
        if stdin_option:
            ways.append(f"or pipe it to {stdin_option}")
        raise SecretMissing(f"{purpose} needs a secret that was not given", hint=" ".join(ways))
    return secret


def _read_file(path: Path) -> Secret:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:  # never quote the bytes: they are the secret
        raise MaterialError(
            f"secret file {path} is not UTF-8 text", hint="write the secret as text"
        ) from None
    except OSError as exc:
        raise MaterialError(
            f"cannot read secret file {path}: {exc.strerror}", hint="check the path"
        ) from None
    if not value:
        raise SecretMissing(f"secret file {path} is empty", hint="write the secret into it")
    return Secret(value, f"file {path}")


def stdin_stream() -> TextIO:
    """Standard input, for `--*-stdin` options (kept here so tests can swap it)."""
    return sys.stdin
