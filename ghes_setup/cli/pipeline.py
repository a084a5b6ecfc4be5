"""Top-level pipelines: `up`, `check`, `snapshot`, `verify`, `schedule` (design.md §2)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to the root app (filled in by the end-to-end issue)."""
