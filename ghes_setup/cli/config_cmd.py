"""`ghes-setup config`: show, plan, apply and roll back appliance settings.

Parse options, call one `ghes_setup.appliance.service` function, hand the result to its
presenter (`ghes_setup.reporting.appliance`), exit; the commands that change the appliance
go through `cli/apply_flow.run_apply`. Service modules are imported inside the commands so
that `--help` stays fast. The TLS gate handed to `config apply` is
`ghes_setup.tls.service.run_tls_check` (the appliance area may not import the TLS area; the
CLI wires them). The connection options are shared with `packages` and `registry start`: they
live in `cli/appliance_options.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ghes_setup.cli.appliance_options import (
    NO_OPTIONS,
    NO_RUN_ARGS,
    ConnectionArgs,
    RunArgs,
    connect_with,
    with_connection,
    with_run,
)
from ghes_setup.cli.appliance_options import progress as _progress
from ghes_setup.cli.apply_flow import run_apply
from ghes_setup.cli.common import PLAIN_FORMATS, FormatOpt, SiteOpt, output_format, present
from ghes_setup.cli.common import abs_path as _abs
from ghes_setup.cli.facts import FactsFromOpt, guard_facts
from ghes_setup.reporting import appliance as presenter

if TYPE_CHECKING:
    from ghes_setup.appliance.service import Connect, PlanResult, ShowResult
    from ghes_setup.reporting.console import Console
    from ghes_setup.reporting.progress_display import ConsoleProgress

R = TypeVar("R")

app = typer.Typer(
    help=(
        "Show, plan, apply and roll back appliance settings (hostname, subdomain isolation, "
        "TLS) over the admin SSH shell or the Manage API.\n\n"
        "Example: ghes-setup config plan --site site.toml"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


SHOW_HELP = """\
Show the appliance's current settings (secrets are never shown, only whether they are set).

Example: ghes-setup config show --site site.toml --transport ssh
"""
PLAN_HELP = """\
Compare the site file with the appliance: the settings that would change (secrets shown as
changed/unchanged, certificates by subject, expiry and fingerprint). Changes nothing.

Example: ghes-setup config plan --site site.toml
"""
APPLY_HELP = """\
Make the appliance match the site file: plan, check the certificate (tls check), snapshot the
current settings (0600 file), write the changes all-or-nothing, run config apply and follow it,
then read back and verify. Settings stored but not applied (a failed or interrupted earlier
run) are part of the plan and applied. Nothing to change and nothing pending: nothing is
written and no apply starts. A hostname different from the configured appliance's, a bad
--timeout or certificate are refused (exit 3) before anything is written. Exits 6 naming the
failing step and the snapshot to roll back to.

Example: ghes-setup config apply --site site.toml --yes
"""
ROLLBACK_HELP = """\
Restore a snapshot taken by config apply (default: the one of the last run ghes-setup made
against this appliance) and apply it: only the settings that run changed, validated like a
site file; the plan is shown before anything changes.

Example: ghes-setup config rollback --site site.toml --yes
"""


# ---------------------------------------------------------------------------- commands


def _read_only(
    name: str,
    help_text: str,
    read: Callable[[Connect, ConsoleProgress], R],
    human: Callable[[Console, R], None],
    document: Callable[[R], dict[str, Any]],
) -> Any:
    """`config show` and `config plan`: connect, `read(connect, progress)` the appliance,
    present the result. Nothing is written."""

    @app.command(name, help=help_text)
    @with_connection(tokens=False)
    def command(
        ctx: typer.Context,
        site: SiteOpt = None,
        fmt: FormatOpt = None,
        conn: ConnectionArgs = NO_OPTIONS,
    ) -> None:
        out = output_format(ctx, fmt, PLAIN_FORMATS)  # refused before connecting
        connect = connect_with(ctx, site, conn)
        with _progress(ctx, steps=False) as progress:
            result = read(connect, progress)
        present(ctx, out, result, human, document)
        raise typer.Exit(0)

    return command


def _show(connect: Connect, progress: ConsoleProgress) -> ShowResult:
    from ghes_setup.appliance.service import config_show

    return config_show(connect, progress=progress)


def _plan(connect: Connect, progress: ConsoleProgress) -> PlanResult:
    from ghes_setup.appliance.service import config_plan

    return config_plan(connect, progress=progress)


show_cmd = _read_only("show", SHOW_HELP, _show, presenter.show_human, presenter.show_document)
plan_cmd = _read_only(
    "plan", PLAN_HELP, _plan, presenter.plan_result_human, presenter.plan_result_document
)


@app.command("apply", help=APPLY_HELP)
@with_connection(tokens=False)
@with_run
def apply_cmd(
    ctx: typer.Context,
    run: RunArgs = NO_RUN_ARGS,
    facts_from: FactsFromOpt = None,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.appliance.service import config_apply
    from ghes_setup.runbooks.gates import tls_gate

    def guard(connect: Connect) -> None:
        guard_facts(_abs(facts_from), connect.site, password_given=connect.password is not None)

    run_apply(
        ctx,
        "config apply",
        run,
        conn,
        lambda connect, confirm, progress: config_apply(
            connect,
            tls_gate=tls_gate,
            options=run.options(),
            confirm=confirm,
            progress=progress,
        ),
        presenter.outcome_human,
        presenter.apply_document,
        guard,
    )


@app.command("rollback", help=ROLLBACK_HELP)
@with_connection(tokens=False)
@with_run(dry_run=False)
def rollback_cmd(
    ctx: typer.Context,
    snapshot: Annotated[
        Path | None,
        typer.Argument(
            help="Snapshot file (default: the latest for the host).", show_default=False
        ),
    ] = None,
    run: RunArgs = NO_RUN_ARGS,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.appliance.service import config_rollback

    run_apply(
        ctx,
        "config rollback",
        run,
        conn,
        lambda connect, confirm, progress: config_rollback(
            connect, _abs(snapshot), options=run.options(), confirm=confirm, progress=progress
        ),
        presenter.outcome_human,
        presenter.apply_document,
    )
