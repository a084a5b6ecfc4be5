"""subdomain-isolation: the appliance has subdomain isolation turned on, for the site's hostname.

With a site file, the stored hostname must be the site's (isolation serves the subdomains of
the stored one), and a site file that turns isolation off fails when it is on: the appliance
differs from the site file either way.
"""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.checks import Outcome, check
from ghes_setup.net import comparable

_APPLY = "ghes-setup config apply --site SITE"


@check("subdomain-isolation", area="appliance", requires=("appliance-reachable",))
def subdomain_isolation(ctx: ApplianceContext) -> Outcome:
    """Subdomain isolation is on (the Container registry needs it)."""
    if not ctx.transport.supports("subdomain_isolation"):
        return Outcome.errored("no transport in use can read subdomain isolation")
    settings = ctx.settings()
    value = settings["subdomain_isolation"]
    site = ctx.site
    stored = settings.get("hostname") if site is not None else None
    if (
        site is not None
        and isinstance(stored, str)
        and stored.strip()
        and comparable(stored) != comparable(site.hostname)
    ):
        return Outcome.failed(
            f"the appliance's hostname is {stored}, the site file's {site.hostname}",
            "check that the site file is this appliance's; GitHub does not support "
            "changing the hostname of an existing instance",
            details={"value": value, "hostname": stored},
        )
    if site is not None and not site.subdomain_isolation and value is True:
        return Outcome.failed(
            "subdomain isolation is on; the site file turns it off",
            f"{_APPLY} turns it off (the Container registry needs it on: set "
            "subdomain_isolation = true in the site file to keep it)",
            details={"value": value},
        )
    if value is True:
        return Outcome.passed("subdomain isolation is on")
    return Outcome.failed(
        "subdomain isolation is off",
        "set subdomain_isolation = true in the site file, then ghes-setup config apply",
        details={"value": value},
    )
