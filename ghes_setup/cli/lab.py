"""`ghes-setup lab`: The lab appliance: a stand-in GHES on loopback, built from real servers."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The lab appliance: a stand-in GHES on loopback, built from real servers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
