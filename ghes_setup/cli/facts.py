"""`ghes-setup facts list|verify`: what ghes-setup assumes about GHES, and a capture's verdict.

Parse, call `ghes_setup.capture.verify`, render. `verify` exits 0 when no fact is
contradicted, 1 when one is, 3 when the capture file is not a capture.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ghes_setup.cli.common import PLAIN_FORMATS, FormatOpt, OutputFormat, output_format, state

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
    from ghes_setup.capture.verify import catalogue

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    rows = catalogue()
    if out is OutputFormat.json:
        doc = {
            "schema_version": 1,
            "facts": [
                {"id": r.id, "value": r.value, "source": r.source, "verified": r.verified}
                for r in rows
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        raise typer.Exit(0)
    console = state(ctx).console
    for r in rows:
        mark = "verified  " if r.verified else "UNVERIFIED"
        console.print(f"{mark} {r.id} = {r.value}", highlight=False, markup=False, soft_wrap=True)
        console.print(
            f"           source: {r.source}", highlight=False, markup=False, soft_wrap=True
        )
    unverified = sum(1 for r in rows if not r.verified)
    console.print(
        f"{len(rows)} facts, {unverified} UNVERIFIED: settle them with "
        "`ghes-setup capture --out FILE` then `ghes-setup facts verify FILE`.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(0)


@app.command("verify", help=VERIFY_HELP)
def verify_cmd(ctx: typer.Context, capture: CaptureArg, fmt: FormatOpt = None) -> None:
    from ghes_setup.capture.verify import (
        CONTRADICTED,
        fact_line,
        load_capture,
        verify,
        verify_document,
    )

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    doc = load_capture(capture)
    verdicts = verify(doc)
    bad = [v for v in verdicts if v.verdict == CONTRADICTED]
    code = 1 if bad else 0
    if out is OutputFormat.json:
        sys.stdout.write(json.dumps(verify_document(verdicts), indent=2) + "\n")
        raise typer.Exit(code)
    console = state(ctx).console

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    say(
        f"Facts judged from {capture} ({doc.get('hostname')}, GHES "
        f"{doc.get('identity', {}).get('version') or 'unknown'}):"
    )
    for v in verdicts:
        say(f"  {v.verdict:<12} {v.id}: {v.evidence}")
    counts = {
        k: sum(1 for v in verdicts if v.verdict == k)
        for k in ("confirmed", "contradicted", "unknown")
    }
    say(
        f"{counts['confirmed']} confirmed, {counts['contradicted']} contradicted, "
        f"{counts['unknown']} unknown."
    )
    if bad:
        say("What to do with a contradiction:")
        for v in bad:
            say(f"  - {v.id}: change {fact_line(v.id)} to what the appliance shows")
        say(
            "  Until then, `up` and `config apply` with --facts-from "
            f"{capture} refuse to write a contradicted key over SSH."
        )
        say(
            "  Please report it (the fact id, the evidence line and the GHES version; never "
            "the capture's secrets, which are redacted anyway) in an issue of the ghes-setup "
            "repository, or contribute the redacted capture (`ghes-setup explain fidelity`)."
        )
    else:
        say(
            "Nothing contradicted. If a contradiction shows up: change the fact's line in "
            "ghes_setup/facts.py and report it with the redacted capture "
            "(`ghes-setup explain fidelity`)."
        )
    raise typer.Exit(code)


# ---------------------------------------------------------------- --facts-from (up, config apply)
FactsFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--facts-from",
        metavar="CAPTURE",
        help="Refuse to write over SSH a ghe-config key this capture contradicts (exit 3).",
        show_default=False,
    ),
]


def guard_facts(capture: Path | None, site: Site, *, password_given: bool) -> None:
    """Stop before anything connects when the run would write a contradicted key over SSH."""
    if capture is None:
        return
    from ghes_setup.capture.verify import guard_site, load_capture

    guard_site(load_capture(capture), site, password_given=password_given)
