"""Options and helpers every command that talks to the appliance shares.

`config apply`, `packages enable/status` and `registry start` take the same connection options
(transport, host key, known_hosts, identity, CA, name resolution, admin password); they are
defined once here, with `connect_with()` turning them into an `appliance.service.Connect`, plus
the pieces around an apply: the progress display and the confirmation prompt. The plan table
and the apply's JSON document are presenters of `ghes_setup.reporting.appliance`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar, overload

import typer

from ghes_setup.cli.bundles import bundle, seconds
from ghes_setup.cli.common import (
    CaFileOpt,
    FormatOpt,
    NameserverOpt,
    ResolveOpt,
    SiteOpt,
    abs_path,
    load_site_for,
    make_resolver,
    option,
    state,
)
from ghes_setup.reporting.appliance import plan_human
from ghes_setup.reporting.console import make_console

if TYPE_CHECKING:
    from ghes_setup.appliance.plan import Plan
    from ghes_setup.appliance.service import ApplyOptions, Confirm, Connect
    from ghes_setup.reporting.progress_display import ConsoleProgress
    from ghes_setup.secrets import Secret


class TransportChoice(StrEnum):
    auto = "auto"
    ssh = "ssh"
    api = "api"


TransportOpt = Annotated[
    TransportChoice | None,
    option(
        "--transport",
        help="auto (API for its fields, SSH for the rest), ssh, or api. Default: the site's.",
    ),
]
HostKeyOpt = Annotated[
    str | None,
    option(
        "--host-key",
        metavar="SHA256:...",
        help="Trust only this SSH host key fingerprint (instead of known_hosts).",
    ),
]
_KNOWN_HOSTS_HELP = "known_hosts file to verify the SSH host key (default ~/.ssh/known_hosts)."
KnownHostsOpt = Annotated[
    Path | None, option("--known-hosts", metavar="FILE", help=_KNOWN_HOSTS_HELP)
]
AcceptNewOpt = Annotated[
    bool,
    typer.Option(
        "--accept-new-host-key",
        help="Trust an UNKNOWN host key and add it to known_hosts (never a changed one).",
    ),
]
_IDENTITY_HELP = "SSH private key for the admin shell (default: ssh-agent)."
IdentityOpt = Annotated[
    Path | None, option("--identity", "-i", metavar="FILE", help=_IDENTITY_HELP)
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the admin password (Manage API) from standard input.",
    ),
]
_ADMIN_FILE_HELP = "Read the admin password from FILE (default: $GHES_SETUP_ADMIN_PASSWORD)."
PasswordFileOpt = Annotated[
    Path | None, option("--password-file", metavar="FILE", help=_ADMIN_FILE_HELP)
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NoWaitOpt = Annotated[
    bool, typer.Option("--no-wait", help="Start the configuration run; do not follow it.")
]
TimeoutOpt = Annotated[float, seconds("Seconds to wait for the configuration run.")]
_SNAPSHOT_DIR_HELP = (
    "Where snapshots go (default $GHES_SETUP_SNAPSHOT_DIR, else"
    " ~/.local/state/ghes-setup/snapshots)."
)
SnapshotDirOpt = Annotated[
    Path | None, option("--snapshot-dir", metavar="DIR", help=_SNAPSHOT_DIR_HELP)
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Plan and check only; change nothing.")]


def progress(ctx: typer.Context, *, steps: bool = True) -> ConsoleProgress:
    from ghes_setup.cli.common import run_journal
    from ghes_setup.reporting.progress_display import ConsoleProgress

    return ConsoleProgress(state(ctx).err, steps=steps, journal=run_journal())


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
        plan_human(err, plan)
        what = f"{len(plan.changes)} change(s)" if plan.changes else "the pending settings"
        return typer.confirm(f"Apply {what} to {plan.host}?", default=False, err=True)

    return ask


# ---------------------------------------------------------------------------- option bundle

TokenStdinOpt = Annotated[
    bool, typer.Option("--token-stdin", help="Read the PAT (smoke test) from standard input.")
]
TokenFileOpt = Annotated[
    Path | None,
    option(
        "--token-file", metavar="FILE", help="Read the PAT from FILE (default: $GHES_SETUP_TOKEN)."
    ),
]


@dataclass(frozen=True)
class ConnectionArgs:
    """The connection and secret options docs/reference/architecture.md §4 gives every command that
    talks to the appliance; `with_connection` adds them to a command and hands them over as one
    value. Each field's annotation is its option (`bundles.bundle` reads them)."""

    transport: TransportOpt = None
    host_key: HostKeyOpt = None
    known_hosts: KnownHostsOpt = None
    accept_new_host_key: AcceptNewOpt = False
    identity: IdentityOpt = None
    ca_file: CaFileOpt = None
    nameserver: NameserverOpt = None
    resolve: ResolveOpt = None
    password_stdin: PasswordStdinOpt = False
    password_file: PasswordFileOpt = None
    token_stdin: TokenStdinOpt = False
    token_file: TokenFileOpt = None


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
    decorate: Callable[[F], F] = bundle(
        ConnectionArgs, name, keep=lambda option: tokens or not option.startswith("token_")
    )
    return decorate(fn) if fn is not None else decorate


# ---------------------------------------------------------------------------- apply bundle


@dataclass(frozen=True)
class RunArgs:
    """The options of a command that applies settings, in their --help order: --dry-run, --yes,
    --no-wait, --timeout, --snapshot-dir, --site and --format (`with_run` adds them)."""

    dry_run: DryRunOpt = False
    yes: YesOpt = False
    no_wait: NoWaitOpt = False
    timeout: TimeoutOpt = 1800.0
    snapshot_dir: SnapshotDirOpt = None
    site: SiteOpt = None
    fmt: FormatOpt = None

    def options(self) -> ApplyOptions:
        from ghes_setup.appliance.service import ApplyOptions

        return ApplyOptions(
            dry_run=self.dry_run,
            wait=not self.no_wait,
            timeout_s=self.timeout,
            snapshot_dir=abs_path(self.snapshot_dir),
        )


NO_RUN_ARGS: Final = RunArgs()  # the default `with_run` replaces
_WAIT_OPTIONS: Final = ("no_wait", "timeout")


@overload
def with_run(fn: F) -> F: ...


@overload
def with_run(*, dry_run: bool = True, wait: bool = True) -> Callable[[F], F]: ...


def with_run(
    fn: F | None = None, *, dry_run: bool = True, wait: bool = True
) -> F | Callable[[F], F]:
    """Add the `RunArgs` options in the place of the command's `run: RunArgs`.
    `dry_run=False` leaves out --dry-run (`config rollback`); `wait=False` leaves out --no-wait
    and --timeout (`registry start`, whose own --timeout also bounds the wait for /v2/)."""

    def keep(option: str) -> bool:
        if option == "dry_run":
            return dry_run
        return wait or option not in _WAIT_OPTIONS

    decorate: Callable[[F], F] = bundle(RunArgs, "run", keep=keep)
    return decorate(fn) if fn is not None else decorate


def connect_with(ctx: typer.Context, site: Path | None, conn: ConnectionArgs) -> Connect:
    """The connection options of a command decorated with `with_connection` (flags > env >
    site file) as a `Connect`."""
    # From the selector, where it is defined: `appliance.service` (which re-exports it) loads
    # the apply machinery, which a `check` run never uses.
    from ghes_setup.appliance.selector import Connect
    from ghes_setup.config.site import SiteOverrides

    if conn.password_stdin and conn.token_stdin:
        raise typer.BadParameter(
            "standard input can carry one secret: give --password-stdin or --token-stdin",
            param_hint="--token-stdin",
        )
    overrides = SiteOverrides(
        transport=conn.transport.value if conn.transport else None,
        host_key=conn.host_key,
        known_hosts=abs_path(conn.known_hosts),
        accept_new_host_key=True if conn.accept_new_host_key else None,
        ssh_identity=abs_path(conn.identity),
        ca_file=abs_path(conn.ca_file),
    )
    spec = load_site_for(ctx, site, overrides=overrides)
    password = admin_password(conn)
    return Connect(
        site=spec, resolver=make_resolver(conn.nameserver, conn.resolve, spec), password=password
    )


def admin_password(conn: ConnectionArgs) -> Secret | None:
    """The admin password: --password-stdin, --password-file, else $GHES_SETUP_ADMIN_PASSWORD
    (or its _FILE); both flags at once is a usage error."""
    from ghes_setup.secrets import from_env, stdin_stream

    if conn.password_stdin and conn.password_file:
        raise typer.BadParameter(
            "give --password-stdin or --password-file, not both", param_hint="--password-file"
        )
    return from_env(
        "GHES_SETUP_ADMIN_PASSWORD",
        file=abs_path(conn.password_file),
        stdin=stdin_stream() if conn.password_stdin else None,
        file_option="--password-file",
        stdin_option="--password-stdin",
    )
