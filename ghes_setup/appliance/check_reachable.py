"""appliance-reachable: the appliance answers and accepts our credentials."""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.checks import Outcome, check
from ghes_setup.errors import AuthenticationFailed, HostKeyNotTrusted, Unreachable


@check("appliance-reachable", area="appliance")
def appliance_reachable(ctx: ApplianceContext) -> Outcome:
    """The appliance answers (SSH :122 / Manage API :8443) and accepts the credentials."""
    try:
        info = ctx.info()
    except (Unreachable, AuthenticationFailed, HostKeyNotTrusted) as exc:
        # "Could not check", not "checked and bad": monitoring says UNKNOWN for an appliance
        # it cannot reach or log in to (the Nagios convention, docs/exit-codes.md), CRITICAL only
        # for a finding. `up` and `config` commands raise instead (exit 4).
        return Outcome.errored(exc.message, exc.hint, details={"transport": ctx.transport.name})
    return Outcome.passed(
        f"GHES {info.version} answers via {info.via}",
        details={"via": info.via, "version": str(info.version), "topology": info.topology},
    )
