"""Presenters of `up`'s result (`runbooks.up.UpResult`).

JSON: the check report of every step (docs/schema/report-v1.json). For people: the plan (when
no confirmation prompt already showed it), the report, then one closing sentence (done, or
where it stopped and what to fix).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghes_setup.reporting.appliance import plan_human
from ghes_setup.reporting.console import say_plain
from ghes_setup.reporting.json_report import to_document

if TYPE_CHECKING:
    from ghes_setup.reporting.console import Console
    from ghes_setup.runbooks.up import UpResult


def document(result: UpResult) -> dict[str, Any]:
    return to_document(result.report)


def human(
    console: Console,
    result: UpResult,
    *,
    show_plan: bool = True,
    verbose: bool = False,
    quiet: bool = False,
) -> None:
    """`show_plan=False` when a confirmation prompt already showed it on standard error."""
    from ghes_setup.reporting import human as report_human

    if show_plan and result.apply is not None and not result.apply.plan.empty:
        plan_human(console, result.apply.plan)
    report_human.write(result.report, console=lambda: console, verbose=verbose, quiet=quiet)
    say_plain(console, result.verdict())
