"""`ghes-setup facts list|verify`: what ghes-setup assumes about GHES, and a capture's verdict.

Parse, call `ghes_setup.capture.verify`, hand the result to `ghes_setup.reporting.facts`.
`verify` exits 0 when no fact is contradicted, 1 when one is, 3 when the capture file is not
a capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ghes_setup.cli.common import (
    PLAIN_FORMATS,
    FormatOpt,
    OutputFormat,
    option,
    output_format,
    state,
)
from ghes_setup.reporting.jsondoc import emit

if TYPE_CHECKING:
    from ghes_setup.config.site import Site

app = typer.Typer(
    help=(
        "The facts about GHES that ghes-setup relies on (ghes_setup/facts.py), and which of "
        "the UNVERIFIED ones a capture of your appliance confirms or contradicts.\n\n"
        "Example: ghes-setup facts verify capture.json"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

LIST_HELP = """\
List every fact of ghes_setup/facts.py: its id, value, source and whether an official source
verifies it.

Example: ghes-setup facts list --format json
"""
VERIFY_HELP = """\
Judge every UNVERIFIED fact from a capture (ghes-setup capture --out FILE): confirmed,
contradicted (with what the appliance showed) or unknown (the capture cannot tell). Exit 0
when nothing is contradicted, 1 when something is, 3 when CAPTURE is not a capture.

Example: ghes-setup facts verify capture.json --format json
"""

CaptureArg = Annotated[Path, typer.Argument(metavar="CAPTURE", help="A capture file.")]


@app.command("list", help=LIST_HELP)
def list_cmd(ctx: typer.Context, fmt: FormatOpt = None) -> None:
    from ghes_setup.capture.verify import facts_list
    from ghes_setup.reporting.facts import list_document, list_human

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    result = facts_list()
    emit(out is OutputFormat.json, state(ctx).console, result, list_human, list_document)
    raise typer.Exit(0)


@app.command("verify", help=VERIFY_HELP)
def verify_cmd(ctx: typer.Context, capture: CaptureArg, fmt: FormatOpt = None) -> None:
    from ghes_setup.capture.verify import verify_file
    from ghes_setup.reporting.facts import verify_document, verify_human

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    result = verify_file(capture)
    emit(out is OutputFormat.json, state(ctx).console, result, verify_human, verify_document)
    raise typer.Exit(1 if result.contradicted else 0)


# ---------------------------------------------------------------- --facts-from (up, config apply)
FactsFromOpt = Annotated[
    Path | None,
    option(
        "--facts-from",
        metavar="CAPTURE",
        help="Refuse to write over SSH a ghe-config key this capture contradicts (exit 3).",
    ),
]


def guard_facts(capture: Path | None, site: Site, *, password_given: bool) -> None:
    """Stop before anything connects when the run would write a contradicted key over SSH."""
    if capture is None:
        return
    from ghes_setup.capture.verify import guard_site, load_capture

    guard_site(load_capture(capture), site, password_given=password_given)
