"""One rule for an exception that ends a check or a pipeline step: `ErrorReason` and
`error_result`, used by the runner (`run_checks`), `up` (a step that raised) and the
`registry smoke` command alike.

A check or a step that raises did not deliver its answer; the reason says why, in the terms
of the exit-code table (docs/exit-codes.md): the reason of an error and its exit code name the
same distinction, so the table of error classes is here, once, and `exit_codes.for_error` maps
the reason to its code (this module is below `exit_codes` in the layers).

Two callers, two judgements, one function:
- a *check* that raised could not be evaluated, whatever the reason: `error` (Nagios
  UNKNOWN), never `fail` -- the runner and `registry smoke`; no details, as ever;
- a *step* of a pipeline (`up`) that raised was refused (a failed apply, a failed storage
  precheck, an unsupported release): `fail`, unless the reason is that the appliance could not
  be reached or understood (`unreachable`, `not-evaluated`): `error`. Its details name the
  error class (and where an apply stopped: `step`, `snapshot`, `rolled_back`).
Summaries and remedies are scrubbed of secrets (secrets.scrub) on every path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from ghes_setup import errors
from ghes_setup.checks.model import CheckResult, Status
from ghes_setup.secrets import scrub

INTERNAL_REMEDY = "this is a bug in ghes-setup; please report it with --verbose output"


class ErrorReason(StrEnum):
    """Why a check or a step did not deliver its answer (its exit code in brackets)."""

    BAD_INPUT = "bad-input"  # [3] the site file, a secret or an input file is unusable
    UNREACHABLE = "unreachable"  # [4] no connection, credentials refused, host key untrusted
    UNSUPPORTED = "unsupported"  # [5] the release cannot do it, or the target must not change
    APPLY_FAILED = "apply-failed"  # [6] a configuration apply failed (rolled back or not)
    NOT_EVALUATED = "not-evaluated"  # [7] the appliance answered in a way we cannot read
    FAILED = "failed"  # [1] any other error raised on purpose: the step ran and said no
    INTERNAL = "internal"  # [70] not raised on purpose: a bug

    @property
    def could_not_check(self) -> bool:
        """The answer is unknown (not "no"): a pipeline step reports `error`, not `fail`."""
        return self in (ErrorReason.UNREACHABLE, ErrorReason.NOT_EVALUATED)


# Most specific class first: the first match wins.
_REASONS: tuple[tuple[type[errors.GhesSetupError], ErrorReason], ...] = (
    (errors.InputError, ErrorReason.BAD_INPUT),
    (errors.Unreachable, ErrorReason.UNREACHABLE),
    (errors.AuthenticationFailed, ErrorReason.UNREACHABLE),
    (errors.HostKeyNotTrusted, ErrorReason.UNREACHABLE),
    (errors.UnsupportedVersion, ErrorReason.UNSUPPORTED),
    (errors.RefusedTarget, ErrorReason.UNSUPPORTED),
    (errors.ApplyFailed, ErrorReason.APPLY_FAILED),
    (errors.ApplianceResponseError, ErrorReason.NOT_EVALUATED),
)


def reason_of(exc: BaseException) -> ErrorReason:
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    if isinstance(exc, errors.GhesSetupError):
        return ErrorReason.FAILED
    return ErrorReason.INTERNAL


def error_result(
    check_id: str,
    area: str,
    exc: BaseException,
    *,
    step: bool = False,
    duration_s: float = 0.0,
) -> CheckResult:
    """The result of `check_id` when `exc` ended it: a check (`step=False`) or a pipeline
    step (`step=True`); see the module's docstring for the two judgements."""
    reason = reason_of(exc)
    if isinstance(exc, errors.GhesSetupError):
        summary, remedy = exc.message, exc.hint
    else:
        summary = f"internal error in check: {type(exc).__name__}: {exc}"
        remedy = INTERNAL_REMEDY
    details: dict[str, Any] = {}
    status = Status.ERROR
    if step:
        status = Status.ERROR if reason.could_not_check else Status.FAIL
        details["error"] = type(exc).__name__
        if isinstance(exc, errors.ApplyFailed):
            details.update(
                {"step": exc.step, "snapshot": exc.snapshot, "rolled_back": exc.rolled_back}
            )
    return CheckResult(
        id=check_id,
        area=area,
        status=status,
        summary=scrub(summary),
        remedy=scrub(remedy) if remedy else None,
        details=details,
        duration_s=duration_s,
    )
