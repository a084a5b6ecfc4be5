"""`up --report FILE`: the run as a Markdown or HTML document, from a jinja2 template.

The format follows the file name (`.html`/`.htm` -> HTML, anything else -> Markdown). The
document holds what the JSON report holds plus the steps and the plan; never a secret (PEM
values appear as subject and fingerprint, secrets as "changed"), and it is scrubbed anyway.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ghes_setup import render
from ghes_setup.errors import InputError
from ghes_setup.files import write_file
from ghes_setup.runbooks.up import STEPS, UpResult


def report_context(result: UpResult, *, now: datetime | None = None) -> dict[str, Any]:
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
        "when": (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
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
        "results": [
            {"id": r.id, "status": r.status.value, "summary": r.summary, "remedy": r.remedy}
            for r in result.report.results
        ],
    }


def check_report_target(path: Path) -> None:
    """Refuse a `--report` that cannot be written, before `up` changes anything (exit 3)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"--report {path}: folder {folder} does not exist; nothing was changed",
            hint="create the folder or give another path",
        )
    if path.is_dir():
        raise InputError(f"--report {path} is a folder", hint="give a file name (.md or .html)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"--report {path}: folder {folder} is not writable; nothing was changed",
            hint="give a path in a folder you can write to",
        )


def write_report(result: UpResult, path: Path) -> None:
    """Render and write atomically (a temp file in the same folder, then rename)."""
    html = path.suffix.lower() in (".html", ".htm")
    text = render.render(
        "report/up.html.j2" if html else "report/up.md.j2", **report_context(result)
    )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"--report {path}: folder {folder} does not exist")
    # 0600, atomic, never through a symlink: it describes the appliance (ghes_setup.files).
    write_file(path, text, what="--report")
