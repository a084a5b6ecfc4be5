"""The human reporter: a rich table of check id, status, summary and remedy."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ghes_setup.checks.model import Report, Status
from ghes_setup.secrets import scrub

STYLES = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "magenta",
    Status.SKIP: "dim",
}
LABELS = {
    Status.PASS: "pass",
    Status.WARN: "warn",
    Status.FAIL: "FAIL",
    Status.ERROR: "error",
    Status.SKIP: "skip",
}


def status_text(status: Status) -> Text:
    return Text(LABELS[status], style=STYLES[status])


def render(report: Report, *, verbose: bool = False) -> RenderableType:
    title = report.command if not report.target else f"{report.command} — {report.target}"
    table = Table(title=scrub(title), title_justify="left", expand=False, show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("summary", overflow="fold")
    remedies = any(r.remedy for r in report.results)
    if remedies:  # a column of blanks only narrows the summaries
        table.add_column("remedy", overflow="fold")
    for r in report.results:
        row: list[RenderableType] = [scrub(r.id), status_text(r.status), scrub(r.summary)]
        table.add_row(*row, *([scrub(r.remedy or "")] if remedies else []))
        if verbose and r.details:
            for key, value in r.details.items():
                detail = Text(scrub(f"  {key}: {value}"), style="dim")
                table.add_row("", "", detail, *([""] if remedies else []))
    counts: dict[Status, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [
        f"{n} {LABELS[s].lower()}" for s, n in sorted(counts.items(), key=lambda i: -i[0].severity)
    ]
    footer = Text.assemble(
        ("overall: ", "bold"), status_text(report.status), "  (" + ", ".join(parts) + ")"
    )
    return Group(table, footer)
