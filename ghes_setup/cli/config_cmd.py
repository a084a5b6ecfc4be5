"""`ghes-setup config`: show, plan, apply and roll back appliance settings.

Parse options, call one `ghes_setup.appliance.service` function, render, exit. Service modules
are imported inside the commands so that `--help` stays fast. The TLS gate handed to
`config apply` is `ghes_setup.tls.service.run_tls_check` (the appliance area may not import the
TLS area; the CLI wires them).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ghes_setup.cli.common import (
    PLAIN_FORMATS,
    CaFileOpt,
    FormatOpt,
    NameserverOpt,
    OutputFormat,
    ResolveOpt,
    SiteOpt,
    load_site_for,
    make_resolver,
    output_format,
    state,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ghes_setup.appliance.plan import Plan
    from ghes_setup.appliance.service import ApplyOutcome, Confirm, Connect
    from ghes_setup.appliance.transport import ApplianceInfo
    from ghes_setup.checks import Report
    from ghes_setup.cli.progress_display import ConsoleProgress
    from ghes_setup.config.site import Site

app = typer.Typer(
    help=(
        "Show, plan, apply and roll back appliance settings (hostname, subdomain isolation, "
        "TLS) over the admin SSH shell or the Manage API.\n\n"
        "Example: ghes-setup config plan --site site.toml"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


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
    typer.Option("--timeout", metavar="S", help="Seconds to wait for the configuration run."),
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
then read back and verify. Nothing to change: nothing is written and no apply starts. Exits 6
naming the failing step and the snapshot to roll back to.

Example: ghes-setup config apply --site site.toml --yes
"""
ROLLBACK_HELP = """\
Restore a snapshot taken by config apply (default: the latest for the site's host) and apply
it.

Example: ghes-setup config rollback --site site.toml --yes
"""


def _abs(path: Path | None) -> Path | None:
    """Flag paths are relative to the current folder (the site file's are to its folder)."""
    return path.expanduser().absolute() if path is not None else None


def _connect(
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
    from ghes_setup.appliance.service import Connect
    from ghes_setup.secrets import from_env, stdin_stream

    overrides: dict[str, Any] = {
        "connection.transport": transport.value if transport else None,
        "connection.host_key": host_key,
        "connection.known_hosts": _abs(known_hosts),
        "connection.accept_new_host_key": True if accept_new_host_key else None,
        "connection.ssh_identity": _abs(identity),
        "connection.ca_file": _abs(ca_file),
    }
    spec = load_site_for(ctx, site, overrides=overrides)
    if password_stdin and password_file:
        raise typer.BadParameter(
            "give --password-stdin or --password-file, not both", param_hint="--password-file"
        )
    password = from_env(
        "GHES_SETUP_ADMIN_PASSWORD",
        file=_abs(password_file),
        stdin=stdin_stream() if password_stdin else None,
    )
    return Connect(site=spec, resolver=make_resolver(nameserver, resolve, spec), password=password)


def _progress(ctx: typer.Context, *, steps: bool = True) -> ConsoleProgress:
    from ghes_setup.cli.progress_display import ConsoleProgress

    return ConsoleProgress(state(ctx).err, steps=steps)


def _tls_gate(site: Site) -> Report:
    """`tls check` on the site's certificate and key (the gate before a certificate push)."""
    from ghes_setup.tls.service import TlsCheckRequest, run_tls_check

    assert site.tls.cert is not None and site.tls.key is not None
    return run_tls_check(
        TlsCheckRequest(
            cert=site.tls.cert,
            key=site.tls.key,
            hostname=site.hostname,
            ca_file=site.connection.ca_file,
            warn_days=site.tls.warn_days,
            crit_days=site.tls.crit_days,
            ghes_version=site.ghes_version,
        )
    )


def _write_json(document: dict[str, Any]) -> None:
    from ghes_setup.reporting.json_report import dumps

    sys.stdout.write(dumps(document))


def _info_document(info: ApplianceInfo) -> dict[str, Any]:
    return {
        "ghes_version": str(info.version),
        "via": info.via,
        "platform": info.platform,
        "topology": info.topology,
        "is_replica": info.is_replica,
    }


# ---------------------------------------------------------------------------- commands


@app.command("show", help=SHOW_HELP)
def show_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    transport: TransportOpt = None,
    host_key: HostKeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    accept_new_host_key: AcceptNewOpt = False,
    identity: IdentityOpt = None,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.appliance.plan import settings_document
    from ghes_setup.appliance.service import config_show

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    connect = _connect(
        ctx,
        site=site,
        transport=transport,
        host_key=host_key,
        known_hosts=known_hosts,
        accept_new_host_key=accept_new_host_key,
        identity=identity,
        ca_file=ca_file,
        nameserver=nameserver,
        resolve=resolve,
        password_stdin=password_stdin,
        password_file=password_file,
    )
    info, settings = config_show(connect, progress=_progress(ctx, steps=False))
    if out is OutputFormat.json:
        _write_json(
            {
                "schema_version": 1,
                "command": "config show",
                "host": connect.site.hostname,
                **_info_document(info),
                "settings": settings_document(settings),
            }
        )
    else:
        _render_show(state(ctx).console, connect.site.hostname, info, settings)
    raise typer.Exit(0)


@app.command("plan", help=PLAN_HELP)
def plan_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    transport: TransportOpt = None,
    host_key: HostKeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    accept_new_host_key: AcceptNewOpt = False,
    identity: IdentityOpt = None,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.appliance.plan import plan_document
    from ghes_setup.appliance.service import config_plan

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    connect = _connect(
        ctx,
        site=site,
        transport=transport,
        host_key=host_key,
        known_hosts=known_hosts,
        accept_new_host_key=accept_new_host_key,
        identity=identity,
        ca_file=ca_file,
        nameserver=nameserver,
        resolve=resolve,
        password_stdin=password_stdin,
        password_file=password_file,
    )
    info, plan = config_plan(connect, progress=_progress(ctx, steps=False))
    if out is OutputFormat.json:
        _write_json(
            {
                "schema_version": 1,
                "command": "config plan",
                **plan_document(plan),
                **_info_document(info),
            }
        )
    else:
        _render_plan(state(ctx).console, plan)
    raise typer.Exit(0)


@app.command("apply", help=APPLY_HELP)
def apply_cmd(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and check only; change nothing.")
    ] = False,
    yes: YesOpt = False,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 1800.0,
    snapshot_dir: SnapshotDirOpt = None,
    site: SiteOpt = None,
    transport: TransportOpt = None,
    host_key: HostKeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    accept_new_host_key: AcceptNewOpt = False,
    identity: IdentityOpt = None,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.appliance.service import ApplyOptions, config_apply

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    confirm = _confirmation(ctx, "config apply", yes=yes or dry_run, password_stdin=password_stdin)
    connect = _connect(
        ctx,
        site=site,
        transport=transport,
        host_key=host_key,
        known_hosts=known_hosts,
        accept_new_host_key=accept_new_host_key,
        identity=identity,
        ca_file=ca_file,
        nameserver=nameserver,
        resolve=resolve,
        password_stdin=password_stdin,
        password_file=password_file,
    )
    progress = _progress(ctx)
    options = ApplyOptions(
        dry_run=dry_run, wait=not no_wait, timeout_s=timeout, snapshot_dir=_abs(snapshot_dir)
    )
    try:
        outcome = config_apply(
            connect, tls_gate=_tls_gate, options=options, confirm=confirm, progress=progress
        )
    finally:
        progress.close()
    _emit_outcome(ctx, out, outcome)
    raise typer.Exit(0)


@app.command("rollback", help=ROLLBACK_HELP)
def rollback_cmd(
    ctx: typer.Context,
    snapshot: Annotated[
        Path | None,
        typer.Argument(
            help="Snapshot file (default: the latest for the host).", show_default=False
        ),
    ] = None,
    yes: YesOpt = False,
    no_wait: NoWaitOpt = False,
    timeout: TimeoutOpt = 1800.0,
    snapshot_dir: SnapshotDirOpt = None,
    site: SiteOpt = None,
    transport: TransportOpt = None,
    host_key: HostKeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    accept_new_host_key: AcceptNewOpt = False,
    identity: IdentityOpt = None,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    password_stdin: PasswordStdinOpt = False,
    password_file: PasswordFileOpt = None,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.appliance.service import ApplyOptions, config_rollback

    out = output_format(ctx, fmt, PLAIN_FORMATS)
    confirm = _confirmation(ctx, "config rollback", yes=yes, password_stdin=password_stdin)
    connect = _connect(
        ctx,
        site=site,
        transport=transport,
        host_key=host_key,
        known_hosts=known_hosts,
        accept_new_host_key=accept_new_host_key,
        identity=identity,
        ca_file=ca_file,
        nameserver=nameserver,
        resolve=resolve,
        password_stdin=password_stdin,
        password_file=password_file,
    )
    progress = _progress(ctx)
    options = ApplyOptions(wait=not no_wait, timeout_s=timeout, snapshot_dir=_abs(snapshot_dir))
    try:
        outcome = config_rollback(
            connect, _abs(snapshot), options=options, confirm=confirm, progress=progress
        )
    finally:
        progress.close()
    _emit_outcome(ctx, out, outcome)
    raise typer.Exit(0)


def _confirmation(
    ctx: typer.Context, command: str, *, yes: bool, password_stdin: bool
) -> Confirm | None:
    """None when --yes; a prompt on a terminal; otherwise refuse (cron must never hang)."""
    if yes:
        return None
    if password_stdin or not sys.stdin.isatty():
        state(ctx).err.print(
            f"ghes-setup: {command} changes the appliance and there is no terminal to confirm "
            "on (standard input is not one, or carries the password). Hint: pass --yes (or "
            "--dry-run to only look).",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)

    def ask(plan: Plan) -> bool:
        err = state(ctx).err
        _render_plan(err, plan)
        return typer.confirm(
            f"Apply {len(plan.changes)} change(s) to {plan.host}?", default=False, err=True
        )

    return ask


# ---------------------------------------------------------------------------- rendering


def _render_show(console: Console, host: str, info: ApplianceInfo, settings: Any) -> None:
    from rich.table import Table

    from ghes_setup.appliance.plan import describe

    table = Table(title=f"{host} — GHES {info.version} via {info.via}", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in settings.items():
        table.add_row(name, describe(name, value))
    console.print(table)


def _render_plan(console: Console, plan: Plan) -> None:
    from rich.table import Table
    from rich.text import Text

    if plan.empty:
        console.print(
            f"No changes: {plan.host} matches the site file.", highlight=False, soft_wrap=True
        )
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


def _emit_outcome(ctx: typer.Context, fmt: OutputFormat, outcome: ApplyOutcome) -> None:
    from ghes_setup.appliance.plan import plan_document

    if fmt is OutputFormat.json:
        _write_json(
            {
                "schema_version": 1,
                "command": outcome.command,
                **plan_document(outcome.plan),
                **_info_document(outcome.info),
                "dry_run": outcome.dry_run,
                "changed": outcome.changed,
                "snapshot": str(outcome.snapshot) if outcome.snapshot else None,
                "run_id": outcome.run.run_id if outcome.run else None,
                "run_successful": outcome.status.successful if outcome.status else None,
                "verified": list(outcome.verified),
            }
        )
        return
    console = state(ctx).console
    _render_plan(console, outcome.plan)
    if outcome.plan.empty:
        console.print(
            "Nothing to change; no configuration run started.", highlight=False, soft_wrap=True
        )
    elif outcome.dry_run:
        console.print("Dry run: nothing was changed.", highlight=False, soft_wrap=True)
    else:
        console.print(f"Snapshot: {outcome.snapshot}", highlight=False, soft_wrap=True)
        if outcome.run and outcome.status is None:
            console.print(
                f"Configuration run {outcome.run.run_id} started (not waiting for it).",
                highlight=False,
                soft_wrap=True,
            )
        elif outcome.run:
            console.print(
                f"Configuration run {outcome.run.run_id} succeeded; verified "
                f"{len(outcome.verified)} setting(s).",
                highlight=False,
                soft_wrap=True,
            )
