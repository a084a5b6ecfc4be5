"""`ghes-setup packages`: enable GitHub Packages with its blob storage; report its state.

Parse options, call one `ghes_setup.packages.service` function, render, exit. Service modules
are imported inside the commands so that `--help` stays fast. The connection options are the
ones `config apply` takes (`cli/appliance_options.py`).
"""

from __future__ import annotations

import typer

from ghes_setup.cli.appliance_options import (
    NO_OPTIONS,
    NO_RUN_ARGS,
    ConnectionArgs,
    RunArgs,
    connect_with,
    progress,
    with_connection,
    with_run,
)
from ghes_setup.cli.apply_flow import run_apply
from ghes_setup.cli.bundles import NO_REPORT_ARGS, ReportArgs, with_report
from ghes_setup.cli.common import SiteOpt

app = typer.Typer(
    help=(
        "Enable GitHub Packages with its blob storage (S3, MinIO or Azure) and report its "
        "state. Packages is configured with ghe-config over the admin SSH shell: the Manage "
        "API has no Packages fields.\n\n"
        "Example: ghes-setup packages enable --site site.toml --yes"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

ENABLE_HELP = """\
Enable GitHub Packages as the site file's [packages] says: storage (s3, minio or azure),
service_url, bucket or azure_container, ecosystems. Storage credentials come from
GHES_SETUP_S3_ACCESS_KEY and GHES_SETUP_S3_SECRET_KEY (s3, minio) or
GHES_SETUP_AZURE_CONNECTION_STRING (azure), or their _FILE variants; never from an option.

Steps: plan the Packages keys; run ghe-packages-precheck on the appliance BEFORE anything is
written (a failing precheck stops there, exit 3, nothing written); snapshot; write the keys
with ghe-config over SSH (all or nothing); config apply, followed; verify; then
ghe-check-blob-connection must print "All Storage tests passed" (exit 1 otherwise, the
settings stay applied). Settings stored but not applied are applied. Nothing to change and
nothing pending: no precheck, nothing written, no apply.

Needs the admin SSH shell (--identity or ssh-agent). With --transport auto and the admin
password, the configuration run goes through the Manage API.

Exit codes: 0 done (or nothing to do); 1 blob storage check failed after the apply; 3 site
file, storage secret or precheck refused (nothing written); 4 appliance unreachable or
authentication failed; 6 config apply failed (names the snapshot to roll back to).

Example: ghes-setup packages enable --site site.toml --yes   (with GHES_SETUP_S3_ACCESS_KEY
and GHES_SETUP_S3_SECRET_KEY_FILE=~/.s3-secret in the environment)
"""
STATUS_HELP = """\
Report GitHub Packages (read-only): packages-storage-config (the storage lint: no SAS or
key-less Azure connection string, a regional AWS endpoint, MinIO over TLS), packages-enabled
(app.packages.enabled, blob storage set with credentials and matching the site file, the
ecosystems as desired: container enabled unless the site says otherwise) and packages-storage
(ghe-check-blob-connection on the appliance passes). Needs the admin SSH shell.

Example: ghes-setup packages status --site site.toml --format nagios
"""


@app.command("enable", help=ENABLE_HELP)
@with_connection(tokens=False, name="conn_args")
@with_run
def enable_cmd(
    ctx: typer.Context,
    run: RunArgs = NO_RUN_ARGS,
    conn_args: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.packages.service import enable_packages
    from ghes_setup.reporting import packages as presenter

    options = run.options()
    run_apply(
        ctx,
        "packages enable",
        run,
        conn_args,
        lambda conn, confirm, display: enable_packages(
            conn, options=options, confirm=confirm, progress=display
        ),
        presenter.human,
        presenter.document,
    )


@app.command("status", help=STATUS_HELP)
@with_connection(tokens=False, name="conn_args")
@with_report
def status_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    output: ReportArgs = NO_REPORT_ARGS,
    conn_args: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.packages.service import packages_status

    out = output.format(ctx)
    conn = connect_with(ctx, site, conn_args)
    with progress(ctx, steps=False) as display:
        report = packages_status(conn, progress=display)
    output.exit(ctx, out, report)
