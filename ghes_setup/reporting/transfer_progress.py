"""The registry smoke test's `ProgressSink`: step lines and a byte bar on standard error.

rich.progress is imported only when a bar is drawn (a terminal, a transfer of
`BAR_MIN_BYTES` or more), so that a smoke run from cron never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ghes_setup.secrets import scrub

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ghes_setup.reporting.console import Console

# Below this a transfer is over before a bar could be read.
BAR_MIN_BYTES: Final = 8 * 1024 * 1024


class TransferProgress:
    """A `ProgressSink` for transfers: step lines and a byte bar on standard error.

    On a terminal: each step, retries and a bar (bytes, speed, time left) for transfers of
    `BAR_MIN_BYTES` or more. Elsewhere (cron) it stays silent unless --verbose, so that the
    only output is the report.
    """

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.lines = console.is_terminal or verbose
        self.bar = console.is_terminal
        self._stage = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def stage(self, name: str, detail: str = "") -> None:
        self._stop()
        self._stage = name
        if self.lines:
            self._print(f"> {name}" + (f": {detail}" if detail else ""))

    def advance(self, done: float, total: float | None = None, detail: str = "") -> None:
        if not self.bar or total is None or total < BAR_MIN_BYTES:
            return
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("  {task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._stage, total=total)
        if self._task is not None:
            self._progress.update(self._task, completed=done, total=total)

    def log(self, message: str) -> None:
        if self.lines:
            self._print(f"  {message}")

    def finish(self, ok: bool, detail: str = "") -> None:
        self._stop()
        if self.lines:
            self._print(
                f"  {'ok' if ok else 'FAILED'} {self._stage}" + (f": {detail}" if detail else "")
            )

    def close(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def _print(self, text: str) -> None:
        self.console.print(scrub(text), highlight=False, markup=False)
