"""Progress reporting seam: services report long waits here; the CLI draws them (rich, stderr).

Library code never imports rich. A service takes a `ProgressSink` and calls it; the CLI passes
one that draws a live display on standard error (so JSON on standard output stays clean), tests
pass `RecordingProgress`, and everything else gets `NullProgress`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class ProgressSink(Protocol):
    def stage(self, name: str, detail: str = "") -> None:
        """A new step begins (e.g. "config apply", "push blobs")."""

    def advance(self, done: float, total: float | None = None, detail: str = "") -> None:
        """Progress within the current step (bytes, events, seconds waited...)."""

    def log(self, message: str) -> None:
        """A line worth showing (an apply event, a retry)."""

    def finish(self, ok: bool, detail: str = "") -> None:
        """The current step ended."""


class NullProgress:
    def stage(self, name: str, detail: str = "") -> None:
        pass

    def advance(self, done: float, total: float | None = None, detail: str = "") -> None:
        pass

    def log(self, message: str) -> None:
        pass

    def finish(self, ok: bool, detail: str = "") -> None:
        pass


@dataclass
class RecordingProgress:
    """Keeps every call, for tests and for reports of a run."""

    events: list[tuple[str, str]] = field(default_factory=list)

    def stage(self, name: str, detail: str = "") -> None:
        self.events.append(("stage", f"{name}: {detail}" if detail else name))

    def advance(self, done: float, total: float | None = None, detail: str = "") -> None:
        self.events.append(("advance", f"{done}/{total} {detail}".strip()))

    def log(self, message: str) -> None:
        self.events.append(("log", message))

    def finish(self, ok: bool, detail: str = "") -> None:
        self.events.append(("finish", f"{'ok' if ok else 'failed'} {detail}".strip()))
