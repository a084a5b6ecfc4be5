"""Top-level pipelines: `up`, `check`, `snapshot`, `verify`, and `schedule` beside them in
cli/schedule.py (docs/reference/architecture.md §2).

These commands take everything about the appliance from the site file (and GHES_SETUP_*
environment): they are what cron, runbooks and playbooks run, where the site file is the
interface. Secrets come from the environment (GHES_SETUP_ADMIN_PASSWORD, GHES_SETUP_TOKEN, the
storage keys) or their `_FILE` variants.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ghes_setup.cli.appliance_options import (
    NO_OPTIONS,
    ConnectionArgs,
    connect_with,
    with_connection,
)
from ghes_setup.cli.appliance_options import TimeoutOpt as ApplyTimeoutOpt
from ghes_setup.cli.bundles import seconds
from ghes_setup.cli.common import (
    FormatOpt,
    SiteOpt,
    StrictOpt,
    TextfileOpt,
    abs_path,
    emit_report,
    option,
    output_format,
    personal_token,
    single_command,
    token_inputs,
)
from ghes_setup.cli.facts import FactsFromOpt, guard_facts
from ghes_setup.cli.invocation import command_line

if TYPE_CHECKING:
    from ghes_setup.runbooks.context import PipelineContext

TimeoutOpt = Annotated[float, seconds("Network timeout per operation, seconds.")]

ReportOpt = Annotated[
    Path | None,
    option(
        "--report",
        metavar="FILE",
        help="Also write a report of the run (tool version, command line, operator, start time "
        "and duration, every result): Markdown, or HTML for a .html name.",
    ),
]

HostLabelOpt = Annotated[
    str | None,
    option(
        "--host-label",
        metavar="NAME",
        help="With --textfile: the host label of the metrics when the run ends before the site "
        "file's hostname is known (ghes-setup schedule sets it).",
    ),
]

CHECK_HELP = """\
Run the read-only checks, safe from cron every minute: DNS (dns-*), the certificate served for
every SNI host (tls-served, thresholds from the site's [tls] warn_days/crit_days),
https://HOSTNAME/status, the last configuration run, subdomain isolation, Packages, the
registry's /v2/, and with --smoke a real push and pull (registry-smoke). Never prompts, never
changes the appliance. Checks that cannot be evaluated are `error` (Nagios UNKNOWN).

\b
Examples:
  ghes-setup check --site site.toml
  ghes-setup check --site site.toml --format nagios
  ghes-setup check --site site.toml --format prometheus \\
      --textfile /var/lib/prometheus/node-exporter/ghes.prom
"""


def pipeline_context(
    ctx: typer.Context,
    site: Path | None,
    conn: ConnectionArgs,
    *,
    timeout: float,
    token_needed: bool = False,
) -> PipelineContext:
    """The site (flags > env > file), the resolver and the secrets, as the pipelines use them."""
    from ghes_setup.net import SystemResolver
    from ghes_setup.runbooks.context import PipelineContext

    connect = connect_with(ctx, site, conn)
    token = personal_token(
        token_inputs(conn.token_stdin, conn.token_file),
        "the smoke test (registry-smoke)" if token_needed else None,
    )
    return PipelineContext(
        site=connect.site,
        resolver=connect.resolver or SystemResolver(),
        password=connect.password,
        token=token,
        timeout=timeout,
        nameservers=tuple(conn.nameserver or ()),
        resolve=tuple(conn.resolve or ()),
    )


@with_connection
def check_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
    host_label: HostLabelOpt = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Also push and pull a test image (needs a PAT).")
    ] = False,
    strict: StrictOpt = False,
    timeout: TimeoutOpt = 10.0,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.runbooks.check import run_check

    # --host-label is read by cli.main, for a run that ends without a report: with a report,
    # the site's hostname is the label.
    del host_label
    out = output_format(ctx, fmt)
    pipeline = pipeline_context(ctx, site, conn, timeout=timeout, token_needed=smoke)
    report = run_check(pipeline, smoke=smoke)
    raise typer.Exit(emit_report(ctx, report, out, textfile=textfile, strict=strict))


UP_HELP = """\
Take the appliance to the site file's state and prove it, end to end: preflight (reach it,
identify GHES, 3.5+), DNS (HOSTNAME, *.HOSTNAME, every isolation subdomain), TLS (the site's
certificate and key), plan (desired vs current, core and Packages settings), push (storage
precheck, snapshot, all or nothing), apply (one configuration run, followed to its end; blob
storage check), registry (containers.HOSTNAME/v2/ answers), smoke (push, pull, verify a real
image). Stops at the first step that fails and says what to fix; run it again after the fix:
finished steps find nothing to change, what is stored but not applied is applied. A --report
folder that does not exist is refused before anything changes. Secrets from the environment:
GHES_SETUP_ADMIN_PASSWORD (Manage API), GHES_SETUP_TOKEN (PAT with write:packages, for the
smoke test), the storage keys.

\b
Examples:
  ghes-setup up --site site.toml --dry-run
  ghes-setup up --site site.toml --yes --report up-report.md
"""


@with_connection
def up_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run the read-only steps and show the plan.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before changing.")] = False,
    fmt: FormatOpt = None,
    report: ReportOpt = None,
    no_smoke: Annotated[bool, typer.Option("--no-smoke", help="Skip the smoke test.")] = False,
    timeout: ApplyTimeoutOpt = 1800.0,
    registry_timeout: Annotated[
        float, seconds("Seconds to wait for /v2/ to answer.", "--registry-timeout")
    ] = 600.0,
    facts_from: FactsFromOpt = None,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.appliance.apply import ApplyOptions
    from ghes_setup.cli.appliance_options import confirmation, progress
    from ghes_setup.cli.common import PLAIN_FORMATS, present, state
    from ghes_setup.reporting import up as presenter
    from ghes_setup.runbooks.report import RunInfo, check_report_path
    from ghes_setup.runbooks.up import UpOptions, run_up

    clock = RunInfo.started(command_line(ctx))
    out = output_format(ctx, fmt, PLAIN_FORMATS)
    if report is not None:
        check_report_path(report)
    pipeline = pipeline_context(
        ctx, site, conn, timeout=10.0, token_needed=not no_smoke and not dry_run
    )
    guard_facts(abs_path(facts_from), pipeline.site, password_given=pipeline.password is not None)
    options = UpOptions(
        dry_run=dry_run,
        smoke=not no_smoke,
        apply=ApplyOptions(timeout_s=timeout),
        registry_wait_s=registry_timeout,
    )
    confirm = confirmation(ctx, "up", yes=yes or dry_run, conn=conn)
    with progress(ctx) as sink:
        result = run_up(pipeline, options, confirm=confirm, progress=sink)
    if report is not None:
        from ghes_setup.runbooks.report import write_report

        write_report(result, report, clock.finish())
    st = state(ctx)
    # (A confirmation prompt already showed the plan on standard error.)
    human = partial(presenter.human, show_plan=confirm is None, verbose=st.verbose, quiet=st.quiet)
    present(ctx, out, result, human, presenter.document)
    raise typer.Exit(result.exit_code)


SNAPSHOT_HELP = """\
Record what matters before an upgrade: the GHES version, subdomain isolation and TLS (the
certificate's fingerprint), Packages with its storage and ecosystems (never a secret), the
certificate served for every SNI host, and what the registry's /v2/ answers. Written as JSON,
mode 0600; an existing file is never replaced unless --force. Compare after the upgrade with
`ghes-setup verify --against FILE` (ghes-setup explain runbooks/upgrade).

Example: ghes-setup snapshot --site site.toml --out before-3.18.json
"""

VERIFY_HELP = """\
Prove the appliance still does what it did when the snapshot was taken: the version did not go
backwards, subdomain isolation is on, Packages has the same storage and ecosystems, the same
certificate is served for every host, the registry answers, and a smoke push and pull works
(--no-smoke to skip). Lists every difference; exit 0 when there is none and every check
passed, 1 when a difference or a failed check is found, 3 when the file is not a snapshot, 4
when the appliance cannot be reached, 7 when a check could not be evaluated. DNS records are
not part of a snapshot: run `ghes-setup check` after it.
--report FILE writes the same as a Markdown (or .html) document for the upgrade ticket.

Example: ghes-setup verify --site site.toml --against before-3.18.json --report verify.md
"""


@with_connection
def snapshot_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="Where to write the snapshot (JSON).")
    ],
    site: SiteOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    fmt: FormatOpt = None,
    timeout: TimeoutOpt = 10.0,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.cli.common import PLAIN_FORMATS, present
    from ghes_setup.reporting import upgrade as presenter
    from ghes_setup.runbooks.upgrade import snapshot_to

    output = output_format(ctx, fmt, PLAIN_FORMATS)
    pipeline = pipeline_context(ctx, site, conn, timeout=timeout)
    taken = snapshot_to(pipeline, out, force=force)
    present(ctx, output, taken, presenter.snapshot_human, presenter.snapshot_document)
    raise typer.Exit(0)


@with_connection
def verify_cmd(
    ctx: typer.Context,
    against: Annotated[
        Path,
        typer.Option("--against", metavar="FILE", help="The snapshot taken before the upgrade."),
    ],
    site: SiteOpt = None,
    no_smoke: Annotated[bool, typer.Option("--no-smoke", help="Skip the smoke test.")] = False,
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
    host_label: HostLabelOpt = None,
    strict: StrictOpt = False,
    report_file: ReportOpt = None,
    timeout: TimeoutOpt = 10.0,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.cli.common import OutputFormat, state
    from ghes_setup.errors import GhesSetupError
    from ghes_setup.reporting.upgrade import differences_human
    from ghes_setup.runbooks.report import RunInfo, check_report_path
    from ghes_setup.runbooks.upgrade import VerifyDifferences, load_snapshot, verify

    del host_label  # read by cli.main, as in check
    clock = RunInfo.started(command_line(ctx))
    out = output_format(ctx, fmt)
    if report_file is not None:
        check_report_path(report_file)
    before = load_snapshot(against)
    pipeline = pipeline_context(ctx, site, conn, timeout=timeout, token_needed=not no_smoke)
    try:
        report = verify(pipeline, before, smoke=not no_smoke)
    except GhesSetupError as exc:
        # The appliance did not come back (unreachable, refused): that is the ticket's news.
        if report_file is not None:
            from ghes_setup.runbooks.report import write_verify_failure

            write_verify_failure(
                pipeline.site.hostname, before, against, exc, report_file, clock.finish()
            )
        raise
    code = emit_report(ctx, report, out, textfile=textfile, strict=strict)
    found = VerifyDifferences.of(report, against)
    if report_file is not None:
        from ghes_setup.runbooks.report import write_verify_report

        write_verify_report(
            report, before, against, found.differences, report_file, clock.finish(), exit_code=code
        )
    if out is OutputFormat.human:
        differences_human(state(ctx).console, found)
    raise typer.Exit(code)


up_app = single_command("up", UP_HELP, up_cmd)
check_app = single_command("check", CHECK_HELP, check_cmd)
snapshot_app = single_command("snapshot", SNAPSHOT_HELP, snapshot_cmd)
verify_app = single_command("verify", VERIFY_HELP, verify_cmd)
