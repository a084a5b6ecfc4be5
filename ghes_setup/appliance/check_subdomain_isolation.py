"""subdomain-isolation: the appliance has subdomain isolation turned on."""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.checks import Outcome, check


@check("subdomain-isolation", area="appliance", requires=("appliance-reachable",))
def subdomain_isolation(ctx: ApplianceContext) -> Outcome:
    """Subdomain isolation is on (the Container registry needs it)."""
    if not ctx.transport.supports("subdomain_isolation"):
        return Outcome.errored("no transport in use can read subdomain isolation")
    value = ctx.settings()["subdomain_isolation"]
    if value is True:
        return Outcome.passed("subdomain isolation is on")
    return Outcome.failed(
        "subdomain isolation is off",
        "set subdomain_isolation = true in the site file, then ghes-setup config apply",
        details={"value": value},
    )
