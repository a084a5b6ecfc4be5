"""Presenters of `registry start`'s result (`runbooks.registry_start.StartOutcome`): the apply,
then what the registry's /v2/ answered.

JSON: docs/schema/registry-start-v1.json: the apply document, the storage utilities (as
`packages enable` reports them) and `registry`: the last /v2/ answer and how long the wait
took (None on --dry-run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghes_setup.reporting.appliance import apply_document, outcome_human
from ghes_setup.reporting.console import say
from ghes_setup.reporting.packages import storage_documents

if TYPE_CHECKING:
    from ghes_setup.reporting.console import Console
    from ghes_setup.runbooks.registry_start import StartOutcome


def document(result: StartOutcome) -> dict[str, Any]:
    ping = result.wait.result if result.wait else None
    return {
        **apply_document(result.apply, "registry start"),
        **storage_documents(result.precheck, result.blob_check),
        "registry": None
        if ping is None
        else {
            "status": ping.status.value,
            "summary": ping.summary,
            "details": dict(ping.details),
            "waited_s": round(result.wait.waited_s, 3) if result.wait else None,
        },
    }


def human(console: Console, result: StartOutcome) -> None:
    outcome_human(console, result.apply)
    if result.wait is not None:
        say(console, f"Container registry: {result.wait.result.summary}")
