"""Checks: the one `Check` protocol, the result data, and the runner.

A check is measurement plus judgement for one stable id (docs/reference/architecture.md §4 lists
them). It returns data, never raises on purpose: "could not evaluate" is `Status.ERROR` with a
reason. The runner turns any exception that still escapes into such a result.
"""

from ghes_setup.checks.model import CheckResult, Outcome, Report, Status, worst
from ghes_setup.checks.protocol import Check, FunctionCheck, check
from ghes_setup.checks.runner import run_checks

__all__ = [
    "Check",
    "CheckResult",
    "FunctionCheck",
    "Outcome",
    "Report",
    "Status",
    "check",
    "run_checks",
    "worst",
]
