"""The flow of every command that changes the appliance through an apply (`config apply`,
`config rollback`, `packages enable`, `registry start`), around its service call: refuse a
--format it has no document for, ask before changing (unless --yes or --dry-run; never without
a terminal), connect, guard the connection before anything is read, run with the progress
display, hand the typed result to its presenters (`reporting/<topic>.py`), exit 0. Failures
are exceptions: `cli.main` turns them into the documented exit codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from ghes_setup.cli.appliance_options import (
    ConnectionArgs,
    confirmation,
    connect_with,
    progress,
)
from ghes_setup.cli.common import PLAIN_FORMATS, OutputFormat, output_format, present

if TYPE_CHECKING:
    from ghes_setup.appliance.service import Confirm, Connect
    from ghes_setup.progress import ProgressSink
    from ghes_setup.reporting.console import Console

R = TypeVar("R")


@dataclass(frozen=True)
class ApplyArgs:
    """The options of an apply command that `run_apply` reads."""

    site: Path | None
    fmt: OutputFormat | None
    conn: ConnectionArgs
    yes: bool = False
    dry_run: bool = False


def run_apply(
    ctx: typer.Context,
    command: str,
    args: ApplyArgs,
    apply: Callable[[Connect, Confirm | None, ProgressSink], R],
    human: Callable[[Console, R], None],
    document: Callable[[R], dict[str, Any]],
    guard: Callable[[Connect], None] | None = None,
) -> NoReturn:
    out = output_format(ctx, args.fmt, PLAIN_FORMATS)
    confirm = confirmation(ctx, command, yes=args.yes or args.dry_run, conn=args.conn)
    conn = connect_with(ctx, args.site, args.conn)
    if guard is not None:
        guard(conn)
    with progress(ctx) as display:
        result = apply(conn, confirm, display)
    present(ctx, out, result, human, document)
    raise typer.Exit(0)
