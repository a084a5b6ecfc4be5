"""packages-storage: the appliance's own blob storage check passes.

Runs `ghe-check-blob-connection` on the appliance over the admin SSH shell; it must exit 0 and
print "All Storage tests passed" (command-line-utilities.md, `facts.BLOB_CHECK_SUCCESS`).
`fail` when it reports a storage problem (its first error line is the summary); `error` when
it cannot be run at all (no SSH shell in this run, the utility missing, the connection lost).
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError
from ghes_setup.packages.context import PackagesContext
from ghes_setup.packages.storage import BLOB_CHECK


@check("packages-storage", area="packages", requires=("packages-enabled",))
def packages_storage(ctx: PackagesContext) -> Outcome:
    """Packages blob storage answers the appliance's own storage tests."""
    try:
        result = ctx.storage_test()
    except GhesSetupError as exc:
        return Outcome.errored(f"cannot run {BLOB_CHECK}: {exc.message}", exc.hint)
    details = result.document()
    if not result.runnable:
        return Outcome.errored(
            f"{BLOB_CHECK} cannot run on the appliance: {result.reason}",
            "check the storage from the Management Console (Packages tab)",
            details=details,
        )
    if result.passed:
        return Outcome.passed(f"{BLOB_CHECK}: {result.lines[-1]}", details=details)
    return Outcome.failed(
        f"{BLOB_CHECK} failed: {result.reason}",
        "check the storage service, bucket and credentials (ghe-config.log on the appliance "
        "names the failure); correct them with ghes-setup packages enable",
        details=details,
    )
