"""`up --report FILE` and `verify --report FILE`: the run as a Markdown or HTML document.

The format follows the file name (`.html`/`.htm` -> HTML, anything else -> Markdown), from the
jinja2 templates in `templates/report/`. The document holds what the JSON report holds (every
result; the details of those that did not pass), plus what a change or upgrade ticket needs:
the tool's version, the command line, who ran it where (user@host), when it started and how
long it took; for `up` the steps and the plan, for `verify` the snapshot it compared against
and every difference.

Server text (summaries, details, setting values) is escaped by the templates: HTML is
autoescaped, Markdown values go through the `md*` filters (ghes_setup.render). Never a secret:
PEM values appear as subject and fingerprint, secrets as "changed", argv never holds one
(design: secrets are never options), and the whole document is scrubbed anyway.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ghes_setup import __version__, render
from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.errors import GhesSetupError, InputError
from ghes_setup.files import write_file
from ghes_setup.runbooks.up import STEPS, UpResult
from ghes_setup.secrets import scrub

HTML_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who ran what, where and when: the header of every report."""

    command_line: str
    operator: str
    started_at: datetime
    duration_s: float
    tool_version: str = __version__

    @classmethod
    def started(cls, command_line: str) -> RunClock:
        """Start the clock now; `RunClock.finish()` gives the RunInfo when the run is done."""
        return RunClock(command_line, datetime.now(UTC), time.monotonic())

    def as_context(self) -> dict[str, Any]:
        return {
            "tool": f"ghes-setup {self.tool_version}",
            "command_line": scrub(self.command_line),
            "operator": self.operator,
            "started": self.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "duration": f"{self.duration_s:.1f} s",
        }


@dataclass(frozen=True, slots=True)
class RunClock:
    command_line: str
    started_at: datetime
    monotonic: float

    def finish(self) -> RunInfo:
        return RunInfo(
            command_line=self.command_line,
            operator=operator(),
            started_at=self.started_at,
            duration_s=max(0.0, time.monotonic() - self.monotonic),
        )


def operator() -> str:
    """`user@host` of this process (the login name as `getpass` finds it; the uid when the
    process has no name, as in a container without a passwd entry)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def check_report_path(path: Path) -> None:
    """Refuse before the run, not after it (exit 3): a --report into a folder that does not
    exist or cannot be written, or a path that is a folder."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"--report {path}: folder {folder} does not exist; nothing was changed",
            hint="create the folder, or pick another --report FILE",
        )
    if path.is_dir():
        raise InputError(f"--report {path} is a folder", hint="give a file name (.md or .html)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"--report {path}: folder {folder} is not writable; nothing was changed",
            hint="give a path in a folder you can write to",
        )


def detail_lines(value: Any, indent: str = "") -> list[str]:
    """A result's `details` as `key: value` lines (nested values indented, lists as `- `)."""
    if isinstance(value, Mapping):
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, (Mapping, list, tuple)) and item:
                lines.append(f"{indent}{key}:")
                lines += detail_lines(item, indent + "  ")
            else:
                lines.append(f"{indent}{key}: {_scalar(item)}")
        return lines
    if isinstance(value, (list, tuple)):
        lines = []
        for item in value:
            if isinstance(item, (Mapping, list, tuple)) and item:
                inner = detail_lines(item, indent + "  ")
                lines.append(f"{indent}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines.append(f"{indent}- {_scalar(item)}")
        return lines
    return [f"{indent}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if value is None or (isinstance(value, (Mapping, list, tuple)) and not value):
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _results(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "status": r.status.value,
            "summary": r.summary,
            "remedy": r.remedy,
            # Only where it helps the reader: what did not pass, and why.
            "details": "\n".join(detail_lines(r.details))
            if r.details and r.status is not Status.PASS
            else "",
        }
        for r in results
    ]


def report_context(result: UpResult, run: RunInfo) -> dict[str, Any]:
    done = [s.name for s in result.steps]
    last = STEPS.index(done[-1]) if done and done[-1] in STEPS else -1
    not_run = (
        []
        if result.stopped_at is None and not result.dry_run
        else [name for name in STEPS[last + 1 :] if name != "report"]
    )
    plan = result.apply.plan if result.apply is not None else None
    changes = (
        [{"setting": c.setting, "old": c.old_text, "new": c.new_text} for c in plan.changes]
        if plan is not None
        else []
    )
    status = result.report.status.value
    outcome = "success" if result.ok else ("dry run" if result.dry_run else f"stopped ({status})")
    return {
        "hostname": result.report.target,
        "run": run.as_context(),
        "version": str(result.info.version) if result.info else None,
        "via": result.info.via if result.info else None,
        "outcome": outcome,
        "outcome_class": "pass" if result.ok else "fail",
        "exit_code": result.exit_code,
        "stopped_at": result.stopped_at,
        "dry_run": result.dry_run,
        "steps": [
            {
                "name": s.name,
                "status": s.status.value,
                "summary": s.summary,
                "duration_s": s.duration_s,
            }
            for s in result.steps
        ],
        "not_run": not_run if result.stopped_at else [],
        "changes": changes,
        "snapshot": str(result.apply.snapshot) if result.apply and result.apply.snapshot else None,
        "results": _results(result.report.results),
    }


def verify_context(
    report: Report,
    before: Mapping[str, Any],
    against: Path,
    differences: Sequence[Mapping[str, Any]],
    run: RunInfo,
    *,
    exit_code: int,
    error: GhesSetupError | None = None,
) -> dict[str, Any]:
    after = next((r for r in report.results if r.id == "appliance-version"), None)
    passed = report.status in (Status.PASS, Status.SKIP)
    if error is not None:
        outcome = "could not run"
    else:
        outcome = "no difference" if passed and not differences else report.status.value
    return {
        "hostname": report.target,
        "run": run.as_context(),
        "outcome": outcome,
        "error": {"message": error.message, "hint": error.hint} if error is not None else None,
        "outcome_class": "pass" if exit_code == 0 else "fail",
        "exit_code": exit_code,
        "snapshot": {
            "path": str(against),
            "taken_at": before.get("taken_at"),
            "taken_by": before.get("taken_by"),
            "version": before.get("appliance", {}).get("version"),
        },
        "version_after": after.details.get("after") if after is not None else None,
        "differences": [
            {
                "what": d.get("what"),
                "before": _scalar(d.get("before")),
                "after": _scalar(d.get("after")),
            }
            for d in differences
        ],
        "results": _results(report.results),
    }


def _write(path: Path, template: str, context: Mapping[str, Any]) -> None:
    """Render `report/<template>.{html,md}.j2` and write it atomically (a temp file in the
    same folder, then rename), 0600, never through a symlink (ghes_setup.files): it
    describes the appliance."""
    html = path.suffix.lower() in HTML_SUFFIXES
    text = render.render(f"report/{template}.{'html' if html else 'md'}.j2", **context)
    check_report_path(path)
    write_file(path, text, what="--report")


def write_report(result: UpResult, path: Path, run: RunInfo) -> None:
    """`up --report FILE`."""
    _write(path, "up", report_context(result, run))


def write_verify_failure(
    hostname: str,
    before: Mapping[str, Any],
    against: Path,
    error: GhesSetupError,
    path: Path,
    run: RunInfo,
) -> None:
    """`verify --report FILE` when verify could not take its readings (the appliance is
    unreachable or refuses us after the upgrade): the report says so, with the error."""
    from ghes_setup import exit_codes

    context = verify_context(
        Report("verify", (), target=hostname),
        before,
        against,
        [],
        run,
        exit_code=int(exit_codes.for_error(error)),
        error=error,
    )
    _write(path, "verify", context)


def write_verify_report(
    report: Report,
    before: Mapping[str, Any],
    against: Path,
    differences: Sequence[Mapping[str, Any]],
    path: Path,
    run: RunInfo,
    *,
    exit_code: int,
) -> None:
    """`verify --report FILE`: the upgrade ticket's evidence."""
    _write(
        path,
        "verify",
        verify_context(report, before, against, differences, run, exit_code=exit_code),
    )
