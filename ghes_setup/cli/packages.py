"""`ghes-setup packages`: Enable GitHub Packages with its blob storage; report its state."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Enable GitHub Packages with its blob storage; report its state.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
