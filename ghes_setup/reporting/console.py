"""The run's consoles: rich for humans on a terminal, plain text everywhere else.

A console is made per run (never at import time, so tests and terminal width behave); the CLI
asks for one on standard output (results) and one on standard error (progress and notes).
Off a terminal (cron mail, Ansible, CI, a pipe) the console is plain: no colour, tables
without box drawing, no wrapping at a guessed width, no trailing blanks.

rich is imported only when a console is made, so that a run that prints no human output
(`--format json|nagios|prometheus`) never loads it (docs/performance.md,
bench/check_process_bench.py). `Console` is exported here for annotations: modules outside
`reporting/` name the type without importing rich.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console as Console

# Off a terminal a table may be as wide as its content: no line is wrapped at a guess.
PLAIN_WIDTH = 10_000


def is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):
        return False


class _RstripLines(io.TextIOBase):
    """Writes through to the real stream (looked up at each write, so tests that swap
    sys.stdout see the text) without the blanks rich pads table cells with."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr

    def _stream(self) -> Any:
        return sys.stderr if self._stderr else sys.stdout

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        cleaned = "\n".join(line.rstrip(" ") for line in text.split("\n"))
        self._stream().write(cleaned)
        return len(text)

    def flush(self) -> None:
        self._stream().flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream(), "encoding", None) or "utf-8")


def make_console(*, stderr: bool) -> Console:
    from rich.console import Console, Group
    from rich.table import Table

    plain = not is_terminal(sys.stderr if stderr else sys.stdout)

    def unboxed(item: Any) -> Any:
        if isinstance(item, Table):
            item.box = None
            item.show_edge = False
            item.pad_edge = False
        elif isinstance(item, Group):
            for inner in item.renderables:
                unboxed(inner)
        return item

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            """rich's default points fd 1 at /dev/null and exits 1 without a word; cli.main
            must see the EPIPE to end with its one line and exit 74 (docs/exit-codes.md).
            Progress on a dead standard error is dropped, the run goes on."""
            self.quiet = True
            if not stderr:
                raise BrokenPipeError(errno.EPIPE, "standard output was closed")

        def print(self, *objects: Any, **kwargs: Any) -> None:
            if plain:
                objects = tuple(unboxed(o) for o in objects)
            super().print(*objects, **kwargs)

    if plain:
        return _Console(
            file=_RstripLines(stderr),  # type: ignore[arg-type]
            width=PLAIN_WIDTH,
            highlight=False,
            soft_wrap=False,
            color_system=None,
            force_terminal=False,
            safe_box=True,
            emoji=False,
        )
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
    return _Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def say(console: Console, text: str) -> None:
    """One line (or paragraph) of our own text: markup read, nothing highlighted, not wrapped
    at the console's width."""
    console.print(text, highlight=False, soft_wrap=True)


def say_plain(console: Console, text: str) -> None:
    """Text from elsewhere (a server, a path): shown as it is, never read as markup."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)
