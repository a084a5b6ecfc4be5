"""The service that runs the appliance's read-only checks (the catalogue's `appliance check`
rows, checks.catalogue)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.checks import FunctionCheck, Report, run_checks
from ghes_setup.checks.catalogue import Pipeline, checks
from ghes_setup.config.site import Site

CHECKS: Final[tuple[FunctionCheck[ApplianceContext], ...]] = checks(Pipeline.APPLIANCE_CHECK)


def check_appliance(
    transport: ApplianceTransport,
    *,
    target: str | None = None,
    command: str = "appliance check",
    appliance: str | None = None,
    state_dir: Path | None = None,
    site: Site | None = None,
) -> Report:
    """Run every appliance check against `transport` (read-only); with `site`, the stored
    hostname, isolation and certificate are compared with it."""
    ctx = ApplianceContext(transport, appliance=appliance, state_dir=state_dir, site=site)
    results = run_checks(CHECKS, ctx)
    return Report(command, results, target)
