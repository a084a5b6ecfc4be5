"""Validate JSON documents against the published schema (docs/schema/report-v1.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "schema" / "report-v1.json"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid_report(document: Any) -> None:
    """Raise with every schema violation listed if `document` is not a valid v1 report."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]
        raise AssertionError("JSON report does not match the schema:\n" + "\n".join(lines))
