"""The appliance's read-only checks, wired in one table, and the service that runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ghes_setup.appliance.check_config_apply import appliance_config_apply
from ghes_setup.appliance.check_pending import appliance_pending
from ghes_setup.appliance.check_reachable import appliance_reachable
from ghes_setup.appliance.check_subdomain_isolation import subdomain_isolation
from ghes_setup.appliance.check_tls_enabled import tls_enabled
from ghes_setup.appliance.check_version import appliance_version
from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.checks import FunctionCheck, Report, run_checks

CHECKS: Final[tuple[FunctionCheck[ApplianceContext], ...]] = (
    appliance_reachable,
    appliance_version,
    appliance_config_apply,
    appliance_pending,
    subdomain_isolation,
    tls_enabled,
)


def check_appliance(
    transport: ApplianceTransport,
    *,
    target: str | None = None,
    command: str = "appliance check",
    appliance: str | None = None,
    state_dir: Path | None = None,
) -> Report:
    """Run every appliance check against `transport` (read-only)."""
    ctx = ApplianceContext(transport, appliance=appliance, state_dir=state_dir)
    results = run_checks(CHECKS, ctx)
    return Report(command, results, target)
