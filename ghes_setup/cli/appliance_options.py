"""Options and helpers every command that talks to the appliance shares.

`config apply`, `packages enable/status` and `registry start` take the same connection options
(transport, host key, known_hosts, identity, CA, name resolution, admin password); they are
defined once here, with `connect()` turning them into an `appliance.service.Connect`, plus the
pieces around an apply: the progress display, the confirmation prompt, the plan table and the
TLS gate (`tls check` before a certificate is pushed).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar, get_type_hints, overload

import typer

from ghes_setup.cli.common import (
    CaFileOpt,
    NameserverOpt,
    ResolveOpt,
    abs_path,
    check_seconds,
    load_site_for,
    make_resolver,
    state,
)
from ghes_setup.reporting.console import make_console

if TYPE_CHECKING:
    from ghes_setup.appliance.plan import Plan
    from ghes_setup.appliance.service import ApplyOutcome, Confirm, Connect
    from ghes_setup.appliance.transport import ApplianceInfo
    from ghes_setup.reporting.console import Console
    from ghes_setup.reporting.progress_display import ConsoleProgress


class TransportChoice(StrEnum):
    auto = "auto"
    ssh = "ssh"
    api = "api"


TransportOpt = Annotated[
    TransportChoice | None,
    typer.Option(
        "--transport",
        help="auto (API for its fields, SSH for the rest), ssh, or api. Default: the site's.",
        show_default=False,
    ),
]
HostKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--host-key",
        metavar="SHA256:...",
        help="Trust only this SSH host key fingerprint (instead of known_hosts).",
        show_default=False,
    ),
]
KnownHostsOpt = Annotated[
    Path | None,
    typer.Option(
        "--known-hosts",
        metavar="FILE",
        help="known_hosts file to verify the SSH host key (default ~/.ssh/known_hosts).",
        show_default=False,
    ),
]
AcceptNewOpt = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-key",
        help="Trust an UNKNOWN host key and add it to known_hosts (never a changed one).",
    ),
]
IdentityOpt = Annotated[
    Path | None,
    typer.Option(
        "--identity",
        "-i",
        metavar="FILE",
        help="SSH private key for the admin shell (default: ssh-agent).",
        show_default=False,
    ),
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the admin password (Manage API) from standard input.",
    ),
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        metavar="FILE",
        help="Read the admin password from FILE (default: $GHES_SETUP_ADMIN_PASSWORD).",
        show_default=False,
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Start the configuration run; do not follow it.")
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="S",
        help="Seconds to wait for the configuration run.",
        callback=check_seconds,
    ),
]
SnapshotDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--snapshot-dir",
        metavar="DIR",
        help="Where snapshots go (default ~/.local/state/ghes-setup/snapshots).",
        show_default=False,
    ),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Plan and check only; change nothing.")]


def connect(
    ctx: typer.Context,
    *,
    site: Path | None,
    transport: TransportChoice | None,
    host_key: str | None,
    known_hosts: Path | None,
    accept_new_host_key: bool,
    identity: Path | None,
    ca_file: Path | None,
    nameserver: list[str] | None,
    resolve: list[str] | None,
    password_stdin: bool,
    password_file: Path | None,
) -> Connect:
    """The connection options (flags > env > site file) as a `Connect`."""
    from ghes_setup.appliance.service import Connect
    from ghes_setup.config.site import SiteOverrides
    from ghes_setup.secrets import from_env, stdin_stream

    overrides = SiteOverrides(
        transport=transport.value if transport else None,
        host_key=host_key,
        known_hosts=abs_path(known_hosts),
        accept_new_host_key=True if accept_new_host_key else None,
        ssh_identity=abs_path(identity),
        ca_file=abs_path(ca_file),
    )
    spec = load_site_for(ctx, site, overrides=overrides)
    if password_stdin and password_file:
        raise typer.BadParameter(
            "give --password-stdin or --password-file, not both", param_hint="--password-file"
        )
    password = from_env(
        "GHES_SETUP_ADMIN_PASSWORD",
        file=abs_path(password_file),
        stdin=stdin_stream() if password_stdin else None,
        file_option="--password-file",
        stdin_option="--password-stdin",
    )
    return Connect(site=spec, resolver=make_resolver(nameserver, resolve, spec), password=password)


def progress(ctx: typer.Context, *, steps: bool = True) -> ConsoleProgress:
    from ghes_setup.cli.common import run_journal
    from ghes_setup.reporting.progress_display import ConsoleProgress

    return ConsoleProgress(state(ctx).err, steps=steps, journal=run_journal())


def write_json(document: dict[str, Any]) -> None:
    from ghes_setup.reporting.json_report import dumps

    sys.stdout.write(dumps(document))


def info_document(info: ApplianceInfo) -> dict[str, Any]:
    return {
        "ghes_version": str(info.version),
        "via": info.via,
        "platform": info.platform,
        "topology": info.topology,
        "is_replica": info.is_replica,
        # Why the run is not on the safe default path (SSH instead of the Manage API, or
        # the API over plain HTTP); None when it is.
        "transport_note": info.transport_note,
    }


def apply_document(outcome: ApplyOutcome, command: str | None = None) -> dict[str, Any]:
    """An apply's JSON document: the plan, the appliance, what ran (never a secret value)."""
    from ghes_setup.appliance.plan import plan_document

    return {
        "schema_version": 1,
        "command": command or outcome.command,
        **plan_document(outcome.plan),
        **info_document(outcome.info),
        "dry_run": outcome.dry_run,
        "changed": outcome.changed,
        "snapshot": str(outcome.snapshot) if outcome.snapshot else None,
        "run_id": outcome.run.run_id if outcome.run else None,
        "run_successful": outcome.status.successful if outcome.status else None,
        "verified": list(outcome.verified),
    }


def render_outcome(console: Console, outcome: ApplyOutcome) -> None:
    """An apply for humans: the plan, then what happened."""

    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    render_plan(console, outcome.plan)
    if outcome.plan.empty:
        say("Nothing to change; no configuration run started.")
    elif outcome.dry_run:
        say("Dry run: nothing was changed.")
    elif not outcome.plan.needs_run:
        say("No configuration run started: the state above could not be settled from here.")
    else:
        if outcome.plan.changes:
            say(f"Snapshot: {outcome.snapshot}")
        if outcome.run and outcome.status is None:
            say(f"Configuration run {outcome.run.run_id} started (not waiting for it).")
        elif outcome.run:
            say(
                f"Configuration run {outcome.run.run_id} succeeded; verified "
                f"{len(outcome.verified)} setting(s)."
            )


def confirmation(
    ctx: typer.Context, command: str, *, yes: bool, conn: ConnectionArgs
) -> Confirm | None:
    """None when --yes; a prompt on a terminal; otherwise refuse (cron must never hang).

    Standard input that carries a secret (`--password-stdin`, `--token-stdin`) cannot answer.
    """
    if yes:
        return None
    if conn.password_stdin or conn.token_stdin or not sys.stdin.isatty():
        make_console(stderr=True).print(  # an error: shown even with --quiet
            f"ghes-setup: {command} changes the appliance and there is no terminal to confirm "
            "on (standard input is not one, or carries the password). Hint: pass --yes (or "
            "--dry-run to only look).",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)

    def ask(plan: Plan) -> bool:
        err = make_console(stderr=True)  # the plan is what is confirmed: even with --quiet
        render_plan(err, plan)
        what = f"{len(plan.changes)} change(s)" if plan.changes else "the pending settings"
        return typer.confirm(f"Apply {what} to {plan.host}?", default=False, err=True)

    return ask


def render_plan(console: Console, plan: Plan) -> None:
    from rich.table import Table
    from rich.text import Text

    if plan.empty:
        console.print(
            f"No changes: {plan.host} matches the site file.", highlight=False, soft_wrap=True
        )
        return
    if plan.pending is not None:
        console.print(
            Text(f"pending: {plan.pending.summary}", style="yellow"),
            highlight=False,
            soft_wrap=True,
        )
    if not plan.changes:
        return
    table = Table(title=f"Plan for {plan.host}", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("current", overflow="fold")
    table.add_column("desired", overflow="fold")
    for change in plan.changes:
        desired = Text(change.new_text, style="green")
        if change.note:
            desired.append(f"\n! {change.note}", style="yellow")
        table.add_row(change.setting, Text(change.old_text, style="red"), desired)
    console.print(table)


# ---------------------------------------------------------------------------- option bundle

TokenStdinOpt = Annotated[
    bool, typer.Option("--token-stdin", help="Read the PAT (smoke test) from standard input.")
]
TokenFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        metavar="FILE",
        help="Read the PAT from FILE (default: $GHES_SETUP_TOKEN).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class ConnectionArgs:
    """The connection and secret options docs/reference/architecture.md §4 gives every command that
    talks to the appliance; `with_connection` adds them to a command and hands them over as one
    value."""

    transport: TransportChoice | None = None
    host_key: str | None = None
    known_hosts: Path | None = None
    accept_new_host_key: bool = False
    identity: Path | None = None
    ca_file: Path | None = None
    nameserver: list[str] | None = None
    resolve: list[str] | None = None
    password_stdin: bool = False
    password_file: Path | None = None
    token_stdin: bool = False
    token_file: Path | None = None


_CONNECTION_PARAMS: tuple[tuple[str, Any, Any], ...] = (
    ("transport", TransportOpt, None),
    ("host_key", HostKeyOpt, None),
    ("known_hosts", KnownHostsOpt, None),
    ("accept_new_host_key", AcceptNewOpt, False),
    ("identity", IdentityOpt, None),
    ("ca_file", CaFileOpt, None),
    ("nameserver", NameserverOpt, None),
    ("resolve", ResolveOpt, None),
    ("password_stdin", PasswordStdinOpt, False),
    ("password_file", PasswordFileOpt, None),
    ("token_stdin", TokenStdinOpt, False),
    ("token_file", TokenFileOpt, None),
)

F = TypeVar("F", bound=Callable[..., Any])


NO_OPTIONS: Final = ConnectionArgs()  # the default `with_connection` replaces


@overload
def with_connection(fn: F) -> F: ...


@overload
def with_connection(*, tokens: bool = True, name: str = "conn") -> Callable[[F], F]: ...


def with_connection(
    fn: F | None = None, *, tokens: bool = True, name: str = "conn"
) -> F | Callable[[F], F]:
    """Add the `ConnectionArgs` options to a Typer command whose parameter `name` (default
    `conn`) is a `ConnectionArgs`, so they are declared once, not pasted into every signature.
    `tokens=False` leaves out --token-stdin/--token-file (commands that push no image)."""
    params = tuple(p for p in _CONNECTION_PARAMS if tokens or not p[0].startswith("token_"))

    def decorate(fn: F) -> F:
        hints = get_type_hints(fn, include_extras=True)
        signature = inspect.signature(fn)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != name
        ]
        extra = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
            for n, hint, default in params
        ]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {n: kwargs.pop(n) for n, _, _ in params}
            return fn(*args, **{name: ConnectionArgs(**values)}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            **{p.name: p.annotation for p in own},
            **{n: hint for n, hint, _ in params},
        }
        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def connect_with(ctx: typer.Context, site: Path | None, conn: ConnectionArgs) -> Connect:
    """`connect()` for a command decorated with `with_connection`."""
    if conn.password_stdin and conn.token_stdin:
        raise typer.BadParameter(
            "standard input can carry one secret: give --password-stdin or --token-stdin",
            param_hint="--token-stdin",
        )
    return connect(
        ctx,
        site=site,
        transport=conn.transport,
        host_key=conn.host_key,
        known_hosts=conn.known_hosts,
        accept_new_host_key=conn.accept_new_host_key,
        identity=conn.identity,
        ca_file=conn.ca_file,
        nameserver=conn.nameserver,
        resolve=conn.resolve,
        password_stdin=conn.password_stdin,
        password_file=conn.password_file,
    )
