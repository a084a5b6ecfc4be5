"""The function that runs the Packages checks (read-only): the catalogue's `packages status`
rows (checks.catalogue)."""

from __future__ import annotations

from typing import Final

from ghes_setup.appliance import checkpoint as checkpoints
from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.checks import FunctionCheck, Report, run_checks
from ghes_setup.checks.catalogue import Pipeline, checks
from ghes_setup.config.site import Site
from ghes_setup.packages.context import PackagesContext

CHECKS: Final[tuple[FunctionCheck[PackagesContext], ...]] = checks(
    Pipeline.PACKAGES_STATUS, area="packages"
)
# ... and then `appliance-pending`, against the appliance's own context.
PENDING: Final[tuple[FunctionCheck[ApplianceContext], ...]] = checks(
    Pipeline.PACKAGES_STATUS, area="appliance"
)


def check_packages(
    transport: ApplianceTransport,
    site: Site,
    *,
    target: str | None = None,
    command: str = "packages status",
) -> Report:
    """Run `packages-storage-config`, `packages-enabled` and `packages-storage` against
    `transport`, and `appliance-pending`: Packages settings that are stored but not applied do
    not work yet, so `packages status` never says OK while a write waits for its configuration
    run."""
    results = run_checks(CHECKS, PackagesContext(transport, site))
    pending = run_checks(
        PENDING,
        ApplianceContext(
            transport,
            (),
            appliance=checkpoints.appliance_of(site),
            state_dir=checkpoints.default_dir(),
        ),
    )
    return Report(command, results + pending, target)
