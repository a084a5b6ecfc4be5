"""The flow of every command that changes the appliance through an apply (`config apply`,
`config rollback`, `packages enable`, `registry start`), around its service call: refuse a
--format it has no document for, ask before changing (unless --yes or --dry-run; never without
a terminal), connect, guard the connection before anything is read, run with the progress
display, hand the typed result to its presenters (`reporting/<topic>.py`), exit 0. Failures
are exceptions: `cli.main` turns them into the documented exit codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from ghes_setup.cli.appliance_options import (
    ConnectionArgs,
    RunArgs,
    confirmation,
    connect_with,
    progress,
)
from ghes_setup.cli.common import PLAIN_FORMATS, output_format, present

if TYPE_CHECKING:
    from ghes_setup.appliance.service import Confirm, Connect
    from ghes_setup.progress import ProgressSink
    from ghes_setup.reporting.console import Console

R = TypeVar("R")


def run_apply(
    ctx: typer.Context,
    command: str,
    run: RunArgs,
    conn: ConnectionArgs,
    apply: Callable[[Connect, Confirm | None, ProgressSink], R],
    human: Callable[[Console, R], None],
    document: Callable[[R], dict[str, Any]],
    guard: Callable[[Connect], None] | None = None,
) -> NoReturn:
    out = output_format(ctx, run.fmt, PLAIN_FORMATS)
    confirm = confirmation(ctx, command, yes=run.yes or run.dry_run, conn=conn)
    connect = connect_with(ctx, run.site, conn)
    if guard is not None:
        guard(connect)
    with progress(ctx) as display:
        result = apply(connect, confirm, display)
    present(ctx, out, result, human, document)
    raise typer.Exit(0)
