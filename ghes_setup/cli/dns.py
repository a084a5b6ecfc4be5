"""`ghes-setup dns`:

Check the DNS records subdomain isolation needs; print the records to create."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Check the DNS records subdomain isolation needs; print the records to create.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
