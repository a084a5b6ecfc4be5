"""Presenters of `schedule`'s result (`runbooks.schedule.Schedule`): the files themselves (a
cron.d file, or a systemd service and timer) to copy into place, or, with --out-dir, the paths
they were written to. No JSON: the output is the files (`--format` there is what the scheduled
check prints)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ghes_setup.reporting.console import Console
    from ghes_setup.runbooks.schedule import Schedule


def notes(console: Console, lines: Iterable[str]) -> None:
    """What the admin should know about the request (e.g. the site file is not on this host)."""
    for note in lines:
        console.print(f"note: {note}", markup=False)


def files(result: Schedule) -> None:
    sys.stdout.write("\n".join(f.content for f in result.files))


def written(paths: Iterable[Path]) -> None:
    for path in paths:
        sys.stdout.write(f"{path}\n")
