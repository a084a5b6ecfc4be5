"""`ghes-setup registry`:

The Container registry at containers.HOSTNAME: status, start, smoke test."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The Container registry at containers.HOSTNAME: status, start, smoke test.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
