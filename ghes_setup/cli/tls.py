"""`ghes-setup tls`: Create, validate and probe the TLS certificate GHES needs."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Create, validate and probe the TLS certificate GHES needs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
