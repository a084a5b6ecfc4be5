"""Prometheus text exposition, for node_exporter's textfile collector.

Metrics (labels: check, area, host):
  ghes_setup_check_status{...,status="pass|warn|fail|error|skip"}  1 for the check's status, else 0
  ghes_setup_check_duration_seconds{...}                            how long the check took
  ghes_setup_check_<metric>{...}                                    each numeric metric of a check
  ghes_setup_last_run_timestamp_seconds{command,host}               when this file was produced
  ghes_setup_run_status{command,host,status=...}                    the overall status, same shape

`write_textfile` writes a temporary file in the same folder and renames it over the target,
so the collector never reads half a file (node_exporter textfile collector docs), through
`ghes_setup.files` (no symlinks followed; a full disk is exit 74, not a traceback).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ghes_setup.checks.model import Report, Status
from ghes_setup.errors import InputError
from ghes_setup.files import write_file
from ghes_setup.secrets import scrub

PREFIX = "ghes_setup"


def render(report: Report, *, now: float | None = None) -> str:
    host = report.target or ""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    family(
        f"{PREFIX}_check_status", "gauge", "1 for the status the check ended in, 0 for the others."
    )
    for r in report.results:
        for status in Status:
            labels = _labels(check=r.id, area=r.area, host=host, status=status.value)
            lines.append(f"{PREFIX}_check_status{{{labels}}} {int(r.status is status)}")
    family(f"{PREFIX}_check_duration_seconds", "gauge", "How long the check took.")
    for r in report.results:
        labels = _labels(check=r.id, area=r.area, host=host)
        lines.append(f"{PREFIX}_check_duration_seconds{{{labels}}} {r.duration_s:.6f}")
    metric_names = sorted({m for r in report.results for m in r.metrics})
    for metric in metric_names:
        name = f"{PREFIX}_check_{_metric_name(metric)}"
        family(name, "gauge", f"Check metric {metric}.")
        for r in report.results:
            if metric in r.metrics:
                labels = _labels(check=r.id, area=r.area, host=host)
                lines.append(f"{name}{{{labels}}} {_value(r.metrics[metric])}")
    family(
        f"{PREFIX}_run_status", "gauge", "1 for the overall status of the run, 0 for the others."
    )
    for status in Status:
        labels = _labels(command=report.command, host=host, status=status.value)
        lines.append(f"{PREFIX}_run_status{{{labels}}} {int(report.status is status)}")
    family(f"{PREFIX}_last_run_timestamp_seconds", "gauge", "When ghes-setup produced this.")
    stamp = time.time() if now is None else now
    run_labels = _labels(command=report.command, host=host)
    lines.append(f"{PREFIX}_last_run_timestamp_seconds{{{run_labels}}} {stamp:.3f}")
    return scrub("\n".join(lines) + "\n")


def render_failure(command: str, *, now: float | None = None) -> str:
    """For a run that ended before it had results (bad site file, unreachable, a bug): the
    run's status is `error`, so an alert sees it instead of the last good file."""
    lines = [
        f"# HELP {PREFIX}_run_status 1 for the overall status of the run, 0 for the others.",
        f"# TYPE {PREFIX}_run_status gauge",
    ]
    for status in Status:
        labels = _labels(command=command, host="", status=status.value)
        lines.append(f"{PREFIX}_run_status{{{labels}}} {int(status is Status.ERROR)}")
    stamp = time.time() if now is None else now
    lines += [
        f"# HELP {PREFIX}_last_run_timestamp_seconds When ghes-setup produced this.",
        f"# TYPE {PREFIX}_last_run_timestamp_seconds gauge",
        f"{PREFIX}_last_run_timestamp_seconds{{{_labels(command=command, host='')}}} {stamp:.3f}",
    ]
    return "\n".join(lines) + "\n"


def _metric_name(name: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return cleaned if not cleaned[:1].isdigit() else f"_{cleaned}"


def _value(v: float) -> str:
    if v != v:  # NaN
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v) if isinstance(v, float) else str(v)  # full precision, no rounding


def _labels(**labels: str) -> str:
    # Scrubbed before escaping: an escaped secret no longer matches its own value.
    return ",".join(f'{k}="{_escape(scrub(v))}"' for k, v in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def write_textfile(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, never through a symlink (`ghes_setup.files`).

    Mode 0644, not 0600: node_exporter reads the folder as its own user, and the file holds
    no secret (statuses, durations, days left), only what the exporter serves anyway.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"--textfile {path}: folder {folder} does not exist",
            hint="point it into node_exporter's --collector.textfile.directory",
        )
    write_file(path, text, mode=0o644, what="--textfile")
