"""Prometheus text exposition, for node_exporter's textfile collector.

Metrics (labels: check, area, host):
  ghes_setup_check_status{...,status="pass|warn|fail|error|skip"}  1 for the check's status, else 0
  ghes_setup_check_duration_seconds{...}                            how long the check took
  ghes_setup_check_<metric>{...}                                    each numeric metric of a check
Metrics of the run (labels: command, host):
  ghes_setup_up{...}                      1 when the run reached the appliance and evaluated its
                                          checks; 0 when it could not run (site file invalid,
                                          appliance unreachable or refusing us, interrupted, a bug)
  ghes_setup_run_exit_code{...}           the run's exit code (docs/exit-codes.md)
  ghes_setup_run_status{...,status=...}   the overall status, same shape as check_status
  ghes_setup_last_run_timestamp_seconds{...}  when this file was produced

Every line carries `host`, also for a run that ended before it had a report: the site file's
hostname if the file can be read at all, else the label the schedule gave (`--host-label`),
so that an alert names the appliance and routes like the others (templates/monitoring/).

`write_textfile` writes a temporary file in the same folder and renames it over the target,
so the collector never reads half a file (node_exporter textfile collector docs), through
`ghes_setup.files` (no symlinks followed; a full disk is exit 74, not a traceback).
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path

from ghes_setup import exit_codes
from ghes_setup.checks.model import Report, Status
from ghes_setup.errors import InputError
from ghes_setup.files import write_file
from ghes_setup.secrets import scrub

PREFIX = "ghes_setup"
# The check whose `error`/`fail` means nothing on the appliance could be looked at: the run
# could not run (ghes_setup_up 0), as opposed to a single check that could not be evaluated.
REACHABLE_CHECK = "appliance-reachable"


def could_run(report: Report) -> bool:
    """False when the report says the appliance could not be reached or logged in to."""
    return not any(
        r.id == REACHABLE_CHECK and r.status in (Status.ERROR, Status.FAIL) for r in report.results
    )


def render(
    report: Report,
    *,
    exit_code: int | None = None,
    host: str | None = None,
    now: float | None = None,
) -> str:
    """The run's metrics. `exit_code` is the one the command ends with (default: the
    report's, without --strict); `host` the label when the report has no target."""
    host = report.target or host or ""
    code = int(exit_codes.for_status(report.status)) if exit_code is None else exit_code
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
    run_labels = _labels(command=report.command, host=host)
    lines += _run_lines(run_labels, int(could_run(report)), code)
    family(
        f"{PREFIX}_run_status", "gauge", "1 for the overall status of the run, 0 for the others."
    )
    for status in Status:
        labels = _labels(command=report.command, host=host, status=status.value)
        lines.append(f"{PREFIX}_run_status{{{labels}}} {int(report.status is status)}")
    lines += _stamp_lines(run_labels, now)
    return scrub("\n".join(lines) + "\n")


def render_failure(
    command: str, *, host: str = "", exit_code: int = 70, now: float | None = None
) -> str:
    """For a run that ended before it had results (bad site file, unreachable, interrupted,
    a bug): `ghes_setup_up` 0 and the run's status `error`, so an alert sees it instead of
    the last good file; no check lines (there were no checks)."""
    run_labels = _labels(command=command, host=host)
    lines = _run_lines(run_labels, 0, exit_code)
    lines += [
        f"# HELP {PREFIX}_run_status 1 for the overall status of the run, 0 for the others.",
        f"# TYPE {PREFIX}_run_status gauge",
    ]
    for status in Status:
        labels = _labels(command=command, host=host, status=status.value)
        lines.append(f"{PREFIX}_run_status{{{labels}}} {int(status is Status.ERROR)}")
    lines += _stamp_lines(run_labels, now)
    return scrub("\n".join(lines) + "\n")


def _run_lines(run_labels: str, up: int, exit_code: int) -> list[str]:
    return [
        f"# HELP {PREFIX}_up 1 when the run reached the appliance and evaluated its checks, "
        "0 when it could not run.",
        f"# TYPE {PREFIX}_up gauge",
        f"{PREFIX}_up{{{run_labels}}} {up}",
        f"# HELP {PREFIX}_run_exit_code The exit code of the run (ghes-setup explain exit-codes).",
        f"# TYPE {PREFIX}_run_exit_code gauge",
        f"{PREFIX}_run_exit_code{{{run_labels}}} {exit_code}",
    ]


def _stamp_lines(run_labels: str, now: float | None) -> list[str]:
    stamp = time.time() if now is None else now
    return [
        f"# HELP {PREFIX}_last_run_timestamp_seconds When ghes-setup produced this.",
        f"# TYPE {PREFIX}_last_run_timestamp_seconds gauge",
        f"{PREFIX}_last_run_timestamp_seconds{{{run_labels}}} {stamp:.3f}",
    ]


def failure_host(
    site: Path | None, label: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """The `host` label of a run that ended without a report.

    The site's hostname as far as it can be read at all (GHES_SETUP_HOSTNAME, else the
    `hostname` key of a file that parses as TOML, even if the rest of it is invalid), else
    `label` (`check --host-label`, which `ghes-setup schedule` sets), else "".
    """
    env = os.environ if environ is None else environ
    if env.get("GHES_SETUP_HOSTNAME", "").strip():
        return env["GHES_SETUP_HOSTNAME"].strip()
    if site is None and env.get("GHES_SETUP_SITE"):
        site = Path(env["GHES_SETUP_SITE"])
    if site is not None:
        try:
            document = tomllib.loads(site.expanduser().read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            document = {}
        hostname = document.get("hostname")
        if isinstance(hostname, str) and hostname.strip():
            return hostname.strip()
    return label or ""


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
