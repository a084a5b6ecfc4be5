"""appliance-reachable: the appliance answers and accepts our credentials."""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.transport import ApplianceInfo
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
    return reachable_outcome(info)


def reachable_outcome(info: ApplianceInfo) -> Outcome:
    """Pass, or warn when the run does not take the safe default path (`transport_note`):
    SSH only although auto could use the Manage API, or the API over plain HTTP."""
    details = {
        "via": info.via,
        "version": str(info.version),
        "topology": info.topology,
        "transport": info.via,
    }
    if info.transport_note is not None:
        return Outcome.warned(
            f"GHES {info.version} answers via {info.via}; {info.transport_note}",
            "give the admin password (GHES_SETUP_ADMIN_PASSWORD) and open TCP 8443 so that "
            'documented settings go through the Manage API, or set transport = "ssh" to '
            "choose the admin shell on purpose",
            details={**details, "transport_reason": info.transport_note},
        )
    return Outcome.passed(f"GHES {info.version} answers via {info.via}", details=details)
