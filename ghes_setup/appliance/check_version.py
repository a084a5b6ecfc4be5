"""appliance-version: the appliance's GHES release can run what ghes-setup sets up."""

from __future__ import annotations

from collections.abc import Mapping

from ghes_setup import facts
from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.preflight import untested_note
from ghes_setup.appliance.transport import ApplianceInfo
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
    return version_outcome(info, details)


def version_outcome(info: ApplianceInfo, details: Mapping[str, object]) -> Outcome:
    """Pass on a tested release (naming the description it is tested against); warn on a
    release newer than the newest tested one ("untested release", never a refusal)."""
    tested = facts.tested_release(info.version)
    details = dict(details)
    if tested is not None:
        details["tested_against"] = tested.description
    note = untested_note(info)
    if note is not None:
        return Outcome.warned(
            note,
            "expect it to work; if something fails, check for a newer ghes-setup and report "
            "the release",
            details={**details, "newest_tested": str(facts.NEWEST_TESTED)},
        )
    return Outcome.passed(f"GHES {info.version}", details=details)
