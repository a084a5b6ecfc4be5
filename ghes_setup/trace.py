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
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

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


def safe_url(url: str) -> str:
    """A URL without user information (`https://user:pass@proxy` -> `https://***@proxy`)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))
