"""Validate a command's JSON document against its published schema, docs/schema/<name>.json:
`validate(result.json(), "dns-records-v1")`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schema"


def load(schema_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (SCHEMA_DIR / f"{schema_name}.json").read_text(encoding="utf-8")
    )
    return schema


@cache
def _registry() -> Registry:
    """Every published schema by its $id, so one may $ref another (appliance-parts-v1.json)."""
    registry: Registry = Registry()
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        resource = Resource.from_contents(load(path.stem))
        uri = resource.id()
        if uri is not None:
            registry = registry.with_resource(uri, resource)
    return registry


@cache
def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """The checked validator of docs/schema/<schema_name>.json (the schema itself is checked
    against draft 2020-12 first); formats are checked where jsonschema has a checker."""
    schema = load(schema_name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema,
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def validate(document: Any, schema_name: str) -> None:
    """Raise AssertionError listing every violation if `document` breaks the schema."""
    errors = sorted(validator(schema_name).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors]
        raise AssertionError(
            f"document does not match docs/schema/{schema_name}.json:\n" + "\n".join(lines)
        )
