"""Presenters of the appliance commands' results: `config show`, `config plan`, and every apply
(`config apply`, `config rollback`, `packages enable`, `registry start`): a human one on a rich
console and a JSON document (schemas docs/schema/config-show-v1.json, config-plan-v1.json,
config-apply-v1.json). Never a secret value: settings go through `appliance.plan.describe` /
`settings_document`, which say only whether a secret is set.

rich and the appliance modules are imported inside the functions: importing this module (the
CLI does, for `--help`) costs nothing, and the JSON path never loads rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ghes_setup.appliance.apply import ApplyOutcome
    from ghes_setup.appliance.plan import Plan
    from ghes_setup.appliance.service import PlanResult, ShowResult
    from ghes_setup.appliance.transport import ApplianceInfo


# ------------------------------------------------------------------ JSON documents


def info_document(info: ApplianceInfo) -> dict[str, Any]:
    return {
        "ghes_version": str(info.version),
        "via": info.via,
        "platform": info.platform,
        "topology": info.topology,
        "is_replica": info.is_replica,
        # Why the run is not on the safe default path (SSH instead of the Manage API, or
        # the API over plain HTTP); None when it is.
        "transport_note": info.transport_note,
    }


def show_document(result: ShowResult) -> dict[str, Any]:
    from ghes_setup.appliance.plan import settings_document

    return {
        "schema_version": 1,
        "command": "config show",
        "host": result.host,
        **info_document(result.info),
        "settings": settings_document(result.settings),
    }


def plan_result_document(result: PlanResult) -> dict[str, Any]:
    from ghes_setup.appliance.plan import plan_document

    return {
        "schema_version": 1,
        "command": "config plan",
        **plan_document(result.plan),
        **info_document(result.info),
    }


def apply_document(outcome: ApplyOutcome, command: str | None = None) -> dict[str, Any]:
    """An apply's JSON document: the plan, the appliance, what ran (never a secret value)."""
    from ghes_setup.appliance.plan import plan_document

    return {
        "schema_version": 1,
        "command": command or outcome.command,
        **plan_document(outcome.plan),
        **info_document(outcome.info),
        "dry_run": outcome.dry_run,
        "changed": outcome.changed,
        "snapshot": str(outcome.snapshot) if outcome.snapshot else None,
        "run_id": outcome.run.run_id if outcome.run else None,
        "run_successful": outcome.status.successful if outcome.status else None,
        "verified": list(outcome.verified),
    }


# ------------------------------------------------------------------ for humans


def _say(console: Console, text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


def show_human(console: Console, result: ShowResult) -> None:
    from rich.table import Table

    from ghes_setup.appliance.plan import describe

    info = result.info
    table = Table(title=f"{result.host} — GHES {info.version} via {info.via}", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in result.settings.items():
        table.add_row(name, describe(name, value))
    console.print(table)


def plan_human(console: Console, plan: Plan) -> None:
    """The plan table (also the question `confirmation` asks on standard error)."""
    from rich.table import Table
    from rich.text import Text

    if plan.empty:
        _say(console, f"No changes: {plan.host} matches the site file.")
        return
    if plan.pending is not None:
        console.print(
            Text(f"pending: {plan.pending.summary}", style="yellow"),
            highlight=False,
            soft_wrap=True,
        )
    if not plan.changes:
        return
    table = Table(title=f"Plan for {plan.host}", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("current", overflow="fold")
    table.add_column("desired", overflow="fold")
    for change in plan.changes:
        desired = Text(change.new_text, style="green")
        if change.note:
            desired.append(f"\n! {change.note}", style="yellow")
        table.add_row(change.setting, Text(change.old_text, style="red"), desired)
    console.print(table)


def plan_result_human(console: Console, result: PlanResult) -> None:
    plan_human(console, result.plan)


def outcome_human(console: Console, outcome: ApplyOutcome) -> None:
    """An apply for humans: the plan, then what happened."""
    plan_human(console, outcome.plan)
    if outcome.plan.empty:
        _say(console, "Nothing to change; no configuration run started.")
    elif outcome.dry_run:
        _say(console, "Dry run: nothing was changed.")
    elif not outcome.plan.needs_run:
        _say(
            console, "No configuration run started: the state above could not be settled from here."
        )
    else:
        if outcome.plan.changes:
            _say(console, f"Snapshot: {outcome.snapshot}")
        if outcome.run and outcome.status is None:
            _say(console, f"Configuration run {outcome.run.run_id} started (not waiting for it).")
        elif outcome.run:
            _say(
                console,
                f"Configuration run {outcome.run.run_id} succeeded; verified "
                f"{len(outcome.verified)} setting(s).",
            )
