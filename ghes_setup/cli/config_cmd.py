"""`ghes-setup config`: Show, plan, apply and roll back appliance settings."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Show, plan, apply and roll back appliance settings.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
