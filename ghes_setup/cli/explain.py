"""`ghes-setup explain`: a check's page (what it checks, why GHES needs it, how to fix it).

The pages are docs/checks/<id>.md, shipped inside the wheel with the rest of docs/, so an admin
on a host without the source repository reads the same text the hints point at: a hint says
`ghes-setup explain CHECK_ID` (or a page's name, `ghes-setup explain site-file`), never a path
of the repository.
"""

from __future__ import annotations

import textwrap
from typing import Annotated

import typer

from ghes_setup.checks.catalogue import CATALOGUE
from ghes_setup.cli.common import single_command


def ids_by_area() -> str:
    """The catalogue's ids by area, in report order, as a block click does not rewrap (`\\b`):
    a rewrapped paragraph would break an id at its hyphens."""
    areas: dict[str, list[str]] = {}
    for row in CATALOGUE:
        ids = areas.setdefault(row.area, [])
        if row.id not in ids:
            ids.append(str(row.id))
    width = max(len(a) for a in areas) + 4
    lines = ["\b"]
    for area, ids in areas.items():
        lines += textwrap.wrap(
            " ".join(ids),
            width=76,
            initial_indent=f"  {area}:".ljust(width),
            subsequent_indent=" " * width,
            break_on_hyphens=False,
            break_long_words=False,
        )
    return "\n".join(lines)


EXPLAIN_HELP = f"""\
Print a check's page: what it checks, why GHES needs it, how to fix each failure.

CHECK_ID is an id from a report (e.g. tls-chain-complete); --list prints every id, one per line.
The other pages print by name too (e.g. site-file, security, runbooks/upgrade; --pages lists
them).

Check ids (every id a report can have):

{ids_by_area()}

Example: ghes-setup explain tls-chain-complete | less
"""


def explain_cmd(
    check_id: Annotated[
        str | None, typer.Argument(metavar="CHECK_ID", help="A check id, e.g. tls-san.")
    ] = None,
    list_ids: Annotated[
        bool, typer.Option("--list", help="Print every check id, one per line, and exit.")
    ] = False,
    list_pages: Annotated[
        bool, typer.Option("--pages", help="Print the names of the other pages and exit.")
    ] = False,
) -> None:
    from ghes_setup.runbooks.catalogue import check_ids, page_path, topics

    if list_ids or list_pages:
        if check_id is not None or (list_ids and list_pages):
            raise typer.BadParameter("give one of CHECK_ID, --list or --pages")
        typer.echo("\n".join(check_ids() if list_ids else topics()))
        return
    if check_id is None:
        raise typer.BadParameter(
            "missing CHECK_ID (ghes-setup explain --list prints every id)",
            param_hint="CHECK_ID",
        )
    wanted = check_id.strip().lower()
    path = page_path(wanted)
    if path is None:
        import difflib

        close = difflib.get_close_matches(wanted, (*check_ids(), *topics()), n=1)
        maybe = f"did you mean {close[0]}? " if close else ""
        raise typer.BadParameter(
            f"no check {check_id!r}; {maybe}ghes-setup explain --list prints every id",
            param_hint="CHECK_ID",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        from ghes_setup.errors import InputError

        raise InputError(
            f"the page of {wanted} cannot be read ({path}: {exc.strerror})",
            hint="reinstall ghes-setup (pipx install --force ghes-setup)",
        ) from None
    typer.echo(text, nl=not text.endswith("\n"))


app = single_command("explain", EXPLAIN_HELP, explain_cmd, no_args_is_help=True)
