"""The human reporter: check id, status, summary and remedy.

Two shapes of the same content:
- `render`: a rich table for a terminal;
- `plain`: aligned plain text for everything else (cron mail, Ansible, CI logs, pipes): no
  box drawing, no colour, no wrapping at any width, so a line reads the same in an 80-column
  mail reader and in `grep`. The remedy follows its check on a `remedy:` line; `-v` details
  print as `key: value` lines (lists comma-separated, mappings `key=value`), never Python
  reprs. `quiet` (`-q`) keeps only the checks that failed or could not run.

Server text (summaries, remedies, details) is shown as text, never read as rich markup:
a summary such as "set [connection] ca_file" must print its brackets.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ghes_setup.checks.model import CheckResult, JsonValue, Report, Status
from ghes_setup.reporting.console import is_terminal
from ghes_setup.secrets import scrub

# rich is imported by the two functions that draw for a terminal: the plain text that cron,
# Ansible and pipes get needs none of it (about 30 ms of every such run).
if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from ghes_setup.reporting.console import Console

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
# What `-q` keeps: a check that failed or could not be evaluated.
QUIET_STATUSES = frozenset({Status.FAIL, Status.ERROR})


def status_text(status: Status) -> Text:
    from rich.text import Text

    return Text(LABELS[status], style=STYLES[status])


def detail_value(value: JsonValue, *, nested: bool = False) -> str:
    """A detail as an admin reads it: `a, b` for a list, `k=v, ...` for a mapping; nested
    mappings in parentheses, a list of them separated by `; `."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        compound = any(isinstance(v, list | tuple | Mapping) for v in value)
        text = ("; " if compound else ", ").join(detail_value(v, nested=True) for v in value)
        return text or "-"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k}={detail_value(v, nested=True)}" for k, v in value.items())
        return f"({inner})" if nested else inner or "-"
    return str(value)


def _title(report: Report, dash: str) -> str:
    return scrub(
        report.command if not report.target else f"{report.command} {dash} {report.target}"
    )


def _footer_counts(report: Report) -> str:
    counts: dict[Status, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [
        f"{n} {LABELS[s].lower()}" for s, n in sorted(counts.items(), key=lambda i: -i[0].severity)
    ]
    return "(" + ", ".join(parts) + ")"


def _shown(report: Report, quiet: bool) -> list[CheckResult]:
    return [r for r in report.results if not quiet or r.status in QUIET_STATUSES]


def render(report: Report, *, verbose: bool = False, quiet: bool = False) -> RenderableType:
    """The terminal table. Every cell is a `Text`, so no server text is read as markup."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    results = _shown(report, quiet)
    if quiet:
        return Text(plain(report, verbose=verbose, quiet=True).rstrip("\n"))
    table = Table(title=_title(report, "—"), title_justify="left", expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("summary", overflow="fold")
    remedies = any(r.remedy for r in results)
    if remedies:  # a column of blanks only narrows the summaries
        table.add_column("remedy", overflow="fold")
    for r in results:
        row: list[RenderableType] = [
            Text(scrub(r.id)),
            status_text(r.status),
            Text(scrub(r.summary)),
        ]
        table.add_row(*row, *([Text(scrub(r.remedy or ""))] if remedies else []))
        if verbose and r.details:
            for key, value in r.details.items():
                detail = Text(scrub(f"  {key}: {detail_value(value)}"), style="dim")
                table.add_row("", "", detail, *([""] if remedies else []))
    footer = Text.assemble(
        ("overall: ", "bold"), status_text(report.status), "  " + _footer_counts(report)
    )
    return Group(table, footer)


def plain(report: Report, *, verbose: bool = False, quiet: bool = False) -> str:
    """Aligned plain text, one check a line, independent of any terminal width."""
    results = _shown(report, quiet)
    if quiet and not results:
        return ""
    id_width = max([len("check"), *(len(scrub(r.id)) for r in results)])
    status_width = max(len("status"), *(len(label) for label in LABELS.values()))
    indent = " " * (id_width + 2 + status_width + 2)
    lines: list[str] = []
    if not quiet:
        lines.append(_title(report, "-"))
        lines.append(f"{'check':<{id_width}}  {'status':<{status_width}}  summary".rstrip())
    for r in results:
        summary = scrub(r.summary).replace("\n", " ")
        lines.append(f"{scrub(r.id):<{id_width}}  {LABELS[r.status]:<{status_width}}  {summary}")
        if r.remedy:
            lines.append(f"{indent}remedy: {scrub(r.remedy).replace(chr(10), ' ')}")
        if verbose and r.details:
            for key, value in r.details.items():
                text = scrub(f"{key}: {detail_value(value)}").replace("\n", " ")
                lines.append(f"{indent}  {text}")
    if not quiet:
        lines.append(f"overall: {LABELS[report.status]}  {_footer_counts(report)}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def write(
    report: Report, *, console: Callable[[], Console], verbose: bool = False, quiet: bool = False
) -> None:
    """Print the report on standard output: the table on a terminal (on `console()`, made only
    then), aligned plain text anywhere else."""
    if is_terminal(sys.stdout):
        console().print(render(report, verbose=verbose, quiet=quiet))
    else:
        sys.stdout.write(plain(report, verbose=verbose, quiet=quiet))
