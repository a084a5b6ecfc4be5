"""Secrets: a type that never shows its value, and the only ways a secret may arrive.

A secret (admin password, PAT, storage key) comes from an environment variable, from a file
named by `<VAR>_FILE` or an option such as `--token-file`, or from standard input
(`--token-stdin`). Never from an option value: those end up in shell history and the process
list.

A secret given by the user must be one line of printable ASCII without surrounding spaces
(`check_value`): a PAT with a stray line break or tab would otherwise reach an HTTP header and
come back inside a library's error text, escaped, where a plain search for the value misses
it. A secret file's first line is the secret; further lines are ignored with a warning, and a
file that group or others may read gets a warning too, like ssh gives for a private key
(docs/security.md).

Every `Secret` made registers its value, and the forms it takes once escaped or encoded
(`repr`, JSON, HTML, percent-encoding, base64 at every alignment, e.g. inside a Basic
`Authorization` header), so that `scrub()` can remove it from any text (exception messages,
logs, JSON) as a last line of defence. `repr`, `str`, `format` and JSON encoding all print
`********`; `reveal()` is the one deliberate way to the value, and is called only where the
value is sent to the appliance.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final, TextIO, final
from urllib.parse import quote, quote_plus

from ghes_setup.errors import MaterialError, SecretInvalid, SecretMissing

REDACTED: Final = "********"

_known: set[str] = set()
_by_length: list[str] = []  # _known, longest first (a longer form may contain a shorter one)
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
            forms = encoded_forms(value)
            with _known_lock:
                if not forms <= _known:
                    _known.update(forms)
                    _by_length[:] = sorted(_known, key=len, reverse=True)

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
    """Replace every known secret value, and its escaped and encoded forms, by the marker."""
    with _known_lock:
        values = list(_by_length)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


# Escapes a value may go through on its way into a message: Python's repr (of str and of
# bytes, either quote), JSON and Prometheus label escaping, HTML, percent-encoding (upper and
# lower case hex). Applied up to twice (a repr of a JSON text, a URL inside a JSON string).
def _py_escape(value: str) -> str:
    return value.encode("unicode_escape").decode("ascii")


def _bytes_repr(value: str) -> str:
    return repr(value.encode("utf-8", "surrogatepass"))[2:-1]


def _lower_percent(value: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(value, safe=""))


_ESCAPES: Final[tuple[Callable[[str], str], ...]] = (
    lambda v: repr(v)[1:-1],
    _py_escape,
    lambda v: _py_escape(v).replace("'", "\\'"),
    lambda v: _py_escape(v).replace('"', '\\"'),
    _bytes_repr,
    lambda v: json.dumps(v)[1:-1],
    lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    html.escape,
    lambda v: quote(v, safe=""),
    quote,
    quote_plus,
    _lower_percent,
)
_MIN_FORM = 6  # shorter encoded fragments would scrub ordinary text by chance


def encoded_forms(value: str) -> set[str]:
    """The value and every form `_ESCAPES` (twice) and base64 give it."""
    forms = {value}
    for _ in range(2):
        forms |= {escape(form) for form in list(forms) for escape in _ESCAPES}
    raw = value.encode("utf-8", "surrogatepass")
    forms |= set(_base64_forms(raw))
    return {f for f in forms if f == value or len(f) >= _MIN_FORM}


def _base64_forms(raw: bytes) -> Iterable[str]:
    """Base64 of the value on its own, and the characters that encode only the value's bits
    when it sits at any of the three byte alignments inside a longer encoded text (e.g.
    `api_key:PASSWORD` in a Basic Authorization header)."""
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        yield whole
        yield whole.rstrip("=")
        for shift in range(3):
            text = encode(b"\0" * shift + raw).decode("ascii")
            first = -(-8 * shift // 6)  # the first character made of the value's bits only
            last = 8 * (shift + len(raw)) // 6  # one past the last such character
            yield text[first:last]


def from_env(
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    file: Path | None = None,
    stdin: TextIO | None = None,
    file_option: str | None = None,
    stdin_option: str | None = None,
) -> Secret | None:
    """Read the secret `name` from, in order: stdin (if given), `file`, `$name`, `$name_FILE`.

    Returns None when no source has it; `require()` turns that into `SecretMissing`. A value
    that is not one line of printable ASCII is `SecretInvalid`, naming the source. The option
    names (`--token-file`) only make the messages say where the secret came from.
    """
    env = os.environ if environ is None else environ
    if stdin is not None:
        where = f"standard input ({stdin_option})" if stdin_option else "standard input"
        line = stdin.readline(_MAX_SECRET_FILE + 1)
        value = line.removesuffix("\n").removesuffix("\r")
        if not value:
            raise SecretMissing(
                f"{name}: standard input was empty",
                hint=f"pipe the secret in to {stdin_option}" if stdin_option else "pipe it in",
            )
        check_value(value, where)
        return Secret(value, "stdin")
    if file is not None:
        return _read_file(file, f"{file_option} {file}" if file_option else f"file {file}")
    if env.get(name):
        check_value(env[name], name)
        return Secret(env[name], name)
    file_var = f"{name}_FILE"
    if env.get(file_var):
        path = Path(env[file_var]).expanduser()
        return _read_file(path, f"{file_var} ({path})")
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
    secret = from_env(
        name, environ, file=file, stdin=stdin, file_option=file_option, stdin_option=stdin_option
    )
    if secret is None:
        ways = [f"set {name}", f"or {name}_FILE=PATH"]
        if file_option:
            ways.append(f"or pass {file_option} PATH")
        if stdin_option:
            ways.append(f"or pipe it to {stdin_option}")
        raise SecretMissing(f"{purpose} needs a secret that was not given", hint=" ".join(ways))
    return secret


def check_value(value: str, source: str) -> None:
    """Refuse a secret that is not one line of printable ASCII without surrounding spaces.

    PATs, the admin password and storage keys are all printable ASCII in practice; anything
    else is a copy-and-paste accident (a trailing newline, a tab, a non-breaking space) that
    would fail later in a header or a command, with the value in the error. The message
    names `source`, never the value or where in it the bad character is.
    """
    problem = None
    for char in value:
        if char == "\n":
            problem = "a line break"
        elif char == "\r":
            problem = "a carriage return"
        elif char == "\t":
            problem = "a tab"
        elif not char.isascii():
            problem = "a non-ASCII character"
        elif not char.isprintable():
            problem = "a control character"
        if problem:
            break
    if problem is None and value != value.strip(" "):
        problem = "leading or trailing spaces"
    if problem:
        raise SecretInvalid(
            f"{source}: the secret contains {problem}; a secret must be one line of "
            "printable ASCII",
            hint=(
                "remove it (printf '%s' \"$VALUE\" writes no newline); "
                "see: ghes-setup explain security"
            ),
        )


# A secret is a line; a "file" that is a device (/dev/zero) must not be read without end.
_MAX_SECRET_FILE: Final = 64 * 1024


def _read_file(path: Path, source: str) -> Secret:
    try:
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())
            data = fh.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise MaterialError(
            f"cannot read {source}: {exc.strerror}", hint="check the path"
        ) from None
    if len(data) > _MAX_SECRET_FILE:
        raise SecretInvalid(
            f"{source}: more than {_MAX_SECRET_FILE // 1024} KiB; a secret file holds one line",
            hint="point it at the file that holds the secret",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # never quote the bytes: they are the secret
        raise MaterialError(
            f"{source} is not UTF-8 text", hint="write the secret as text"
        ) from None
    first, _, rest = text.partition("\n")
    value = first.removesuffix("\r")  # a CRLF line ending is a line ending
    if not value:
        what = "is empty" if not rest.strip() else "has an empty first line"
        raise SecretMissing(
            f"{source} {what}", hint="write the secret on the first line of the file"
        )
    check_value(value, source)
    extra = sum(1 for line in rest.splitlines() if line.strip())
    if extra:
        warn(f"{source}: only the first line is the secret; {extra} more line(s) ignored")
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
        warn(
            f"{source} is accessible by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); chmod 600 it, like an SSH private key"
        )
    return Secret(value, source)


def _stderr_warning(message: str) -> None:
    sys.stderr.write(f"ghes-setup: warning: {message}\n")


# Where warnings about secret sources go (standard error; tests may swap it).
warn: Callable[[str], None] = _stderr_warning


def stdin_stream() -> TextIO:
    """Standard input, for `--*-stdin` options (kept here so tests can swap it)."""
    return sys.stdin
