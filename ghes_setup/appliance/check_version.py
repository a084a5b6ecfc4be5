"""appliance-version: the appliance's GHES release can run what ghes-setup sets up."""

from __future__ import annotations

from ghes_setup import facts
from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.checks import Outcome, check


@check("appliance-version", area="appliance", requires=("appliance-reachable",))
def appliance_version(ctx: ApplianceContext) -> Outcome:
    """GHES is new enough for the Container registry (3.5+) and the Manage API (3.12+)."""
    info = ctx.info()
    details = {"version": str(info.version), "platform": info.platform, "build": info.build}
    if info.version < facts.CONTAINER_REGISTRY_SINCE:
        return Outcome.failed(
            f"GHES {info.version} has no Container registry "
            f"(needs {facts.CONTAINER_REGISTRY_SINCE}+)",
            "upgrade the appliance",
            details=details,
        )
    if info.version < facts.MANAGE_API_SINCE:
        return Outcome.warned(
            f"GHES {info.version} predates the Manage API ({facts.MANAGE_API_SINCE}+); "
            "ghes-setup configures it over SSH only",
            "upgrade the appliance to use the Manage API",
            details=details,
        )
    return Outcome.passed(f"GHES {info.version}", details=details)
