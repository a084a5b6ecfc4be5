"""appliance-pending: no setting stored but not applied.

GHES stores a setting when it is written (`ghe-config`, `PUT /manage/v1/config/settings`) and
applies it only in a configuration run (`ghe-config-apply`, `POST /manage/v1/config/apply`). A
write with no successful run after it leaves the appliance answering with the new value while
serving the old one; `appliance-config-apply` alone cannot see a run that never started.
`pending.read_pending` decides (the latest run, and the tool's run record of this appliance).
"""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.pending import read_pending
from ghes_setup.checks import Outcome, check


@check("appliance-pending", area="appliance", requires=("appliance-reachable",))
def appliance_pending(ctx: ApplianceContext) -> Outcome:
    """No setting is stored but not applied (a failed run, or a write whose run never ran)."""
    state = read_pending(
        ctx.transport, appliance=ctx.appliance, directory=ctx.state_dir, latest=ctx.latest_run()
    )
    pending = state.pending
    latest = state.latest
    details: dict[str, object] = {"latest_run": latest.run_id, "via": ctx.transport.name}
    if pending is None:
        where = f" (last run {latest.run_id} succeeded)" if latest.known else ""
        return Outcome.passed(f"no setting stored but not applied{where}", details=details)
    details.update(
        {
            "run_id": pending.run_id,
            "step": pending.step,
            "settings": list(pending.names),
            "snapshot": str(pending.snapshot) if pending.snapshot else None,
        }
    )
    if pending.running:
        return Outcome.warned(
            pending.summary, "wait for the run to finish, then check again", details=details
        )
    if not pending.known:
        return Outcome.warned(
            pending.summary,
            "give the Manage API (GHES_SETUP_ADMIN_PASSWORD) to read the appliance's latest "
            "configuration run, or run ghes-setup config apply once",
            details=details,
        )
    rollback = (
        f" or roll back: ghes-setup config rollback {pending.snapshot}" if pending.snapshot else ""
    )
    return Outcome.failed(
        f"pending: {pending.summary}",
        "fix the cause, then apply what is stored: ghes-setup config apply (or ghes-setup up);"
        + rollback,
        details=details,
    )
