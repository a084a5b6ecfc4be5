"""Top-level pipelines: `up`, `check`, `snapshot`, `verify`, `schedule` (design.md §2).

These commands take everything about the appliance from the site file (and GHES_SETUP_*
environment): they are what cron, runbooks and playbooks run, where the site file is the
interface. Secrets come from the environment (GHES_SETUP_ADMIN_PASSWORD, GHES_SETUP_TOKEN, the
storage keys) or their `_FILE` variants.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ghes_setup.cli import schedule
from ghes_setup.cli.common import (
    FormatOpt,
    SiteOpt,
    StrictOpt,
    TextfileOpt,
    emit_report,
    load_site_for,
    make_resolver,
    output_format,
)

if TYPE_CHECKING:
    from ghes_setup.runbooks.context import PipelineContext

TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", metavar="S", help="Network timeout per operation, seconds."),
]

CHECK_HELP = """\
Run the read-only checks, safe from cron every minute: DNS (dns-*), the certificate served for
every SNI host (tls-served, thresholds from the site's [tls] warn_days/crit_days),
https://HOSTNAME/status, the last configuration run, subdomain isolation, Packages, the
registry's /v2/, and with --smoke a real push and pull (registry-smoke). Never prompts, never
changes the appliance. Checks that cannot be evaluated are `error` (Nagios UNKNOWN).

Examples:
  ghes-setup check --site site.toml
  ghes-setup check --site site.toml --format nagios
  ghes-setup check --site site.toml --format prometheus --textfile /var/lib/node_exporter/ghes.prom
"""


def pipeline_context(
    ctx: typer.Context, site: Path | None, *, timeout: float, token_needed: bool = False
) -> PipelineContext:
    """The site, the resolver and the secrets from the environment, as the pipelines use them."""
    from ghes_setup.runbooks.context import PipelineContext
    from ghes_setup.secrets import from_env, require

    spec = load_site_for(ctx, site)
    token = (
        require("GHES_SETUP_TOKEN", purpose="the smoke test (registry-smoke)")
        if token_needed
        else from_env("GHES_SETUP_TOKEN")
    )
    return PipelineContext(
        site=spec,
        resolver=make_resolver(None, None, spec),
        password=from_env("GHES_SETUP_ADMIN_PASSWORD"),
        token=token,
        timeout=timeout,
    )


def check_cmd(
    ctx: typer.Context,
    site: SiteOpt = None,
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Also push and pull a test image (needs a PAT).")
    ] = False,
    strict: StrictOpt = False,
    timeout: TimeoutOpt = 10.0,
) -> None:
    from ghes_setup.runbooks.check import run_check

    out = output_format(ctx, fmt)
    pipeline = pipeline_context(ctx, site, timeout=timeout, token_needed=smoke)
    report = run_check(pipeline, smoke=smoke)
    raise typer.Exit(emit_report(ctx, report, out, textfile=textfile, strict=strict))


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to the root app."""
    app.command("check", help=CHECK_HELP)(check_cmd)
    schedule.register(app)  # ghes-setup schedule (cli/schedule.py)
