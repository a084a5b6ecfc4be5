"""`ghes-setup check`: the read-only checks, safe from cron every minute.

One `run_checks` call over every area (design.md §4 ids): the DNS records, the certificate
served for every SNI host, /status, the appliance's last configuration run and subdomain
isolation, Packages, the registry's /v2/ and, with `smoke`, a real push and pull. Checks run
concurrently; a check whose area cannot be reached is `error` ("could not check": Nagios
UNKNOWN), never a prompt, never a change to the appliance.
"""

from __future__ import annotations

from typing import Any, Final

from ghes_setup.appliance.check_status_endpoint import status_endpoint
from ghes_setup.appliance.status import CHECKS as APPLIANCE_CHECKS
from ghes_setup.checks import Report, run_checks
from ghes_setup.checks.protocol import AdaptedCheck, adapt
from ghes_setup.checks.runner import ResultCallback
from ghes_setup.dns.service import CHECKS as DNS_CHECKS
from ghes_setup.packages.check_enabled import packages_enabled
from ghes_setup.packages.check_storage import packages_storage
from ghes_setup.registry.check_ping import registry_ping
from ghes_setup.registry.check_smoke import registry_smoke
from ghes_setup.runbooks.context import PipelineContext
from ghes_setup.tls.check_served import tls_served

COMMAND: Final = "check"

Pipeline = tuple[AdaptedCheck[PipelineContext, Any], ...]

CHECKS: Final[Pipeline] = (
    *(adapt(c, PipelineContext.dns) for c in DNS_CHECKS),
    adapt(tls_served, PipelineContext.tls_served),
    adapt(status_endpoint, PipelineContext.status_endpoint),
    *(adapt(c, PipelineContext.appliance) for c in APPLIANCE_CHECKS),
    # After the appliance answered: its identify read the Packages settings too.
    adapt(packages_enabled, PipelineContext.packages, requires=("appliance-reachable",)),
    # The appliance's own storage test: a revoked key or a storage outage fails here.
    adapt(packages_storage, PipelineContext.packages, requires=("packages-enabled",)),
    adapt(registry_ping, PipelineContext.registry_ping),
)
SMOKE: Final[Pipeline] = (adapt(registry_smoke, PipelineContext.smoke),)


def run_check(
    ctx: PipelineContext, *, smoke: bool = False, on_result: ResultCallback | None = None
) -> Report:
    """Run every read-only check (and the smoke test with `smoke`) against the site."""
    table = CHECKS + (SMOKE if smoke else ())
    try:
        results = run_checks(table, ctx, on_result=on_result)
    finally:
        ctx.close()
    return Report(COMMAND, results, target=ctx.site.hostname)
