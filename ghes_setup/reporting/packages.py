"""Presenters of `packages enable`'s result (`packages.service.EnableOutcome`): the apply (as
every apply shows it, `reporting.appliance`), then what the storage utilities said.

JSON: docs/schema/packages-enable-v1.json. Storage utility output is scrubbed of secrets
where it is read (`packages.storage.run_storage_utility`); the JSON writer scrubs again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghes_setup.reporting.appliance import apply_document, outcome_human
from ghes_setup.reporting.console import say

if TYPE_CHECKING:
    from ghes_setup.packages.service import EnableOutcome
    from ghes_setup.packages.storage import StorageTest
    from ghes_setup.reporting.console import Console


def utility_document(test: StorageTest | None) -> dict[str, Any] | None:
    """A storage utility's run (`ghe-packages-precheck`, `ghe-check-blob-connection`), or None
    when it did not run."""
    return test.document() if test is not None else None


def storage_documents(
    precheck: StorageTest | None, blob_check: StorageTest | None
) -> dict[str, Any]:
    """The two storage utilities, as `packages enable` and `registry start` both report them."""
    return {"precheck": utility_document(precheck), "blob_check": utility_document(blob_check)}


def document(result: EnableOutcome) -> dict[str, Any]:
    return {
        **apply_document(result.apply, "packages enable"),
        **storage_documents(result.precheck, result.blob_check),
    }


def utility_human(console: Console, label: str, test: StorageTest | None) -> None:
    if test is None:
        return
    verdict = "passed" if test.passed else "FAILED"
    last = test.lines[-1] if test.passed and test.lines else test.reason
    say(console, f"{label} ({test.command}): {verdict}: {last}")


def human(console: Console, result: EnableOutcome) -> None:
    outcome_human(console, result.apply)
    utility_human(console, "Storage precheck", result.precheck)
    utility_human(console, "Blob storage check", result.blob_check)
    if result.apply.changed and result.apply.status is None:
        say(
            console,
            "Blob storage check not run (not waiting for the apply): run ghes-setup "
            "packages status once it is done.",
        )
