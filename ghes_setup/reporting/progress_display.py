"""The CLI's `ProgressSink`: steps, events and waits drawn with rich on standard error.

Standard output stays for the result (human table or JSON); progress goes to standard error so
`--format json > out.json` stays clean and cron mail shows what happened. On a terminal a
spinner shows long waits; elsewhere the same information comes as plain lines. Every line is
scrubbed of secrets.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from rich.markup import escape

from ghes_setup.progress import RecordingProgress
from ghes_setup.secrets import scrub

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status


class ConsoleProgress:
    """Implements `ghes_setup.progress.ProgressSink` on a rich console (stderr).

    `steps=False` (read-only commands) shows only the notices (`log`: retries, a host key
    added, a fallback to SSH), not every step.
    """

    def __init__(
        self, console: Console, *, steps: bool = True, journal: RecordingProgress | None = None
    ) -> None:
        self.console = console
        self.steps = steps
        # Every event is also kept here, so that an interrupted run can say where it was
        # (ghes_setup.reporting.interrupt), whether or not the step was drawn.
        self.journal = journal if journal is not None else RecordingProgress()
        self._stage = ""
        self._status: Status | None = None

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def stage(self, name: str, detail: str = "") -> None:
        self.journal.stage(name, scrub(detail))
        self._stop_spinner()
        self._stage = name
        if self.steps:
            text = f"[bold]{escape(name)}[/bold]" + (f": {escape(scrub(detail))}" if detail else "")
            self.console.print(f"▸ {text}", highlight=False, soft_wrap=True)

    def advance(self, done: float, total: float | None = None, detail: str = "") -> None:
        if not self.steps or not self.console.is_terminal:
            return
        label = f"{scrub(detail) or self._stage} ({done:.0f} s"
        label += f" of {total:.0f} s)" if total else ")"
        if self._status is None:
            self._status = self.console.status(label)
            self._status.start()
        else:
            self._status.update(label)

    def log(self, message: str) -> None:
        self.journal.log(scrub(message))
        self._stop_spinner()
        self.console.print(f"  {scrub(message)}", highlight=False, markup=False, soft_wrap=True)

    def finish(self, ok: bool, detail: str = "") -> None:
        self.journal.finish(ok, scrub(detail))
        self._stop_spinner()
        if not self.steps:
            return
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        name = self._stage or "done"
        tail = f": {escape(scrub(detail))}" if detail else ""
        self.console.print(f"  {mark} {escape(name)}{tail}", highlight=False, soft_wrap=True)

    def close(self) -> None:
        self._stop_spinner()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
