"""Monitoring-plugin output: one status line with performance data, then long output.

    GHES-SETUP CRITICAL - tls-expiry: certificate expired 2 days ago\
      | 'tls-expiry.days_left'=-2;30:;7:;;

The first line is what Nagios/Icinga show; following lines list each check that did not pass.
Exit codes (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) come from `exit_codes.nagios_for_status`.
Conventions: https://www.monitoring-plugins.org/doc/guidelines.html
"""

from __future__ import annotations

import re

from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.exit_codes import NagiosCode, nagios_for_status
from ghes_setup.secrets import scrub

SERVICE = "GHES-SETUP"


def render(report: Report) -> tuple[str, NagiosCode]:
    code = nagios_for_status(report.status)
    bad = sorted(
        (r for r in report.results if r.status not in (Status.PASS, Status.SKIP)),
        key=lambda r: -r.status.severity,
    )
    target = f" {report.target}" if report.target else ""
    if bad:
        summary = "; ".join(f"{r.id}: {_one_line(r.summary)}" for r in bad[:3])
        if len(bad) > 3:
            summary += f"; and {len(bad) - 3} more"
    else:
        passed = sum(1 for r in report.results if r.status is Status.PASS)
        summary = f"{passed} checks passed{target and ' on' + target}"
    perf = " ".join(_perfdata(r) for r in report.results if r.metrics)
    line = f"{SERVICE} {code.name} - {summary}"
    if perf:
        line += f" | {perf}"
    long_lines = [
        f"[{r.status.value}] {r.id}: {_one_line(r.summary)}"
        + (f" (remedy: {_one_line(r.remedy)})" if r.remedy else "")
        for r in bad
    ]
    return scrub("\n".join([line, *long_lines]) + "\n"), code


def unknown(message: str) -> tuple[str, NagiosCode]:
    """The line for a run that could not produce a report (bad site file, ...)."""
    return scrub(f"{SERVICE} UNKNOWN - {_one_line(message)}\n"), NagiosCode.UNKNOWN


def _one_line(text: str) -> str:
    # Scrubbed before folding: a secret with a "|" or a line break would no longer match.
    return re.sub(r"\s+", " ", scrub(text)).replace("|", "/").strip()


def _decimal(value: float) -> str:
    """Plain decimal (perfdata has no exponent notation), trailing zeros dropped."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _perfdata(r: CheckResult) -> str:
    items = []
    for name, value in r.metrics.items():
        warn, crit = r.thresholds.get(name, (None, None))
        label = f"{r.id}.{name}"
        number = _decimal(value)
        uom = "s" if name.endswith(("_s", "_seconds")) else ""
        items.append(f"'{label}'={number}{uom};{warn or ''};{crit or ''};;")
    return " ".join(items)
