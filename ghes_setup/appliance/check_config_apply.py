"""appliance-config-apply: the last configuration run succeeded and none is running."""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.checks import Outcome, check


@check("appliance-config-apply", area="appliance", requires=("appliance-reachable",))
def appliance_config_apply(ctx: ApplianceContext) -> Outcome:
    """The last configuration run (ghe-config-apply) succeeded and none is running."""
    status = ctx.latest_run()
    details = {"run_id": status.run_id}
    if not status.known:
        return Outcome.passed("no configuration run on record", details=details)
    if status.running:
        return Outcome.warned(
            f"configuration run {status.run_id} is in progress",
            "wait for it to finish; services may restart meanwhile",
            details=details,
        )
    if not status.successful:
        detail = status.detail or _first_error(ctx)
        return Outcome.failed(
            f"the last configuration run ({status.run_id}) failed"
            + (f": {detail}" if detail else ""),
            "read ghe-config.log on the appliance, fix the cause, and apply again "
            "(or ghes-setup config rollback)",
            details=details,
        )
    return Outcome.passed(
        f"the last configuration run ({status.run_id}) succeeded", details=details
    )


def _first_error(ctx: ApplianceContext) -> str | None:
    """The cause of a failed run, from its events (the Manage API's status does not say)."""
    events = ctx.transport.apply_events(None).events
    return next((e.body for e in events if e.is_error), None)
