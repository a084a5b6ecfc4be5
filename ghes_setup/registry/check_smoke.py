"""Check `registry-smoke`: push a generated image, pull it back, verify every digest, clean up.

The work is in `registry.smoke`; this module makes it a `Check` for pipelines (`check`, `up`).
As a check it never raises: an appliance that cannot be reached, or a token that is refused,
is `error` with the reason (the `registry smoke` command itself exits 4 for those instead).
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError
from ghes_setup.registry.smoke import AREA, CHECK_ID, SmokeRequest, smoke_outcome


@check(CHECK_ID, area=AREA, requires=("registry-ping",))
def registry_smoke(request: SmokeRequest) -> Outcome:
    """Container registry: push, pull by tag and digest, verify, clean up."""
    try:
        return smoke_outcome(request)
    except GhesSetupError as exc:
        return Outcome.errored(exc.message, exc.hint, details={"registry": request.registry_host})
