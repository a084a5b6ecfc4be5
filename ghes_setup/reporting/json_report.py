"""The JSON document of every check-type command (docs/reference/architecture.md §4,
docs/schema/report-v1.json)."""

from __future__ import annotations

import json
import math
from typing import Any

from ghes_setup.checks.model import CheckResult, Report
from ghes_setup.secrets import REDACTED, Secret, scrub

SCHEMA_VERSION = 1


def to_document(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "command": report.command,
        "status": report.status.value,
        "results": [_result(r) for r in report.results],
    }


def _result(r: CheckResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "area": r.area,
        "status": r.status.value,
        "summary": r.summary,
        "remedy": r.remedy,
        "details": dict(r.details),
        "metrics": {k: _number(v) for k, v in r.metrics.items()},
        "duration_s": round(r.duration_s, 6),
    }


def _number(value: float) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _default(obj: object) -> object:
    if isinstance(obj, Secret):
        return REDACTED
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    return str(obj)


def render(report: Report) -> str:
    """The document as text, newline-terminated."""
    return dumps(to_document(report))


def dumps(document: object) -> str:
    return scrub(json.dumps(document, indent=2, sort_keys=False, default=_default)) + "\n"
