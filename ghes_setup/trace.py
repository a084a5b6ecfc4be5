"""The debug trace (`--debug`, `--log-file FILE`): one line per HTTP request and response,
SSH command and DNS query, for a support case.

Off by default: `event` costs one test when no sink is set. The CLI turns it on with `enable`
(standard error for `--debug`, a 0600 file for `--log-file`, docs/debug.md). Every line goes
through `secrets.scrub` on its way out, so a secret that reached a URL, a header or a message
is replaced by the marker in every form the scrubber knows (raw, percent-encoded, base64,
JSON/HTML/repr escaped); the callers also never pass values on purpose (request bodies,
headers and SSH standard input are not traced at all; an SSH command is traced by its
script's name). Thread-safe: the DNS resolver and the registry trace from worker threads.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from ghes_setup.secrets import scrub

Sink = Callable[[str], object]

_lock = threading.Lock()
_sinks: list[Sink] = []
_start = time.monotonic()


def enable(*sinks: Sink) -> None:
    """Send trace lines to `sinks` (each gets whole lines ending in a newline)."""
    global _start
    with _lock:
        _sinks[:] = list(sinks)
        _start = time.monotonic()


def disable() -> None:
    with _lock:
        _sinks.clear()


def enabled() -> bool:
    return bool(_sinks)


def event(kind: str, text: str) -> None:
    """One trace line: `+SECONDS KIND TEXT`, scrubbed. `kind`: http, ssh, dns, proxy."""
    if not _sinks:
        return
    line = scrub(f"+{time.monotonic() - _start:8.3f}s {kind:<4} {text}".replace("\n", " "))
    with _lock:
        for sink in _sinks:
            # A closed stream never breaks the run it traces.
            with contextlib.suppress(OSError, ValueError):
                sink(line + "\n")


# Query parameters whose values are traced: the registry's and its token service's, which
# name repositories, digests and pages, never credentials. Every other value is replaced.
_TRACED_VALUES: Final = frozenset({"scope", "service", "n", "last", "digest", "page", "per_page"})


def safe_url(url: str) -> str:
    """A URL fit for the trace: no user information, no query values that may be credentials.

    - user information goes: `https://user:pass@proxy` -> `https://***@proxy`;
    - the query keeps every parameter's name but only the values of `_TRACED_VALUES`
      (`scope=`, `service=`, `digest=`, `n=`, `last=`, `page=`, `per_page=`); any other value
      becomes `***`, whatever the host: a blob redirect's presigned storage URL carries its
      credential in the query (S3 `X-Amz-Credential`/`X-Amz-Signature`, Azure SAS `sig=`, GCS
      `X-Goog-Signature`), an upload URL its session (`_state`), and the trace cannot tell
      the registry's hosts from storage's. A parameter without `=` is replaced whole;
    - the fragment goes.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    # `;` separates parameters too (HTML 4, and some servers): `?n=1;sig=abc` has two.
    query = "".join(
        piece if piece in ("&", ";") else _safe_parameter(piece)
        for piece in re.split(r"([&;])", parts.query)
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=""))


def _safe_parameter(parameter: str) -> str:
    name, equals, _ = parameter.partition("=")
    if not equals:
        return parameter if unquote_plus(name) in _TRACED_VALUES or not name else "***"
    return parameter if unquote_plus(name) in _TRACED_VALUES else f"{name}=***"
