"""Checks: the one `Check` protocol, the result data, the runner and the catalogue.

A check is measurement plus judgement for one stable id (`CheckId`; the one table of checks is
`checks.catalogue`). It returns data, never raises on purpose: "could not evaluate"
is `Status.ERROR` with a reason. The runner turns any exception that still escapes into such a
result (`checks.failure`).

The names below are imported on first use: `ghes-setup --help` lists the check ids
(`checks.catalogue`) without loading the runner and its thread pool.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ghes_setup.checks.catalogue import CheckId
    from ghes_setup.checks.model import CheckResult, Outcome, Report, Status, worst
    from ghes_setup.checks.protocol import Check, FunctionCheck, check
    from ghes_setup.checks.runner import run_checks

_HOME = {
    "CheckId": "catalogue",
    "CheckResult": "model",
    "Outcome": "model",
    "Report": "model",
    "Status": "model",
    "worst": "model",
    "Check": "protocol",
    "FunctionCheck": "protocol",
    "check": "protocol",
    "run_checks": "runner",
}

__all__ = [
    "Check",
    "CheckId",
    "CheckResult",
    "FunctionCheck",
    "Outcome",
    "Report",
    "Status",
    "check",
    "run_checks",
    "worst",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
