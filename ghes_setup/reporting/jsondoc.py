"""The one writer of every JSON document a command prints (check reports and the typed
results alike): two-space indent, keys in the order the presenter built them, secrets scrubbed,
newline-terminated, on standard output. The documents' schemas are in docs/schema/."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def write(document: dict[str, Any]) -> None:
    # Imported here: every command module imports this one, and `--help` must not load the
    # check model and its runner.
    from ghes_setup.reporting.json_report import dumps

    sys.stdout.write(dumps(document))


def emit(
    as_json: bool,
    target: T,
    result: R,
    human: Callable[[T, R], None],
    document: Callable[[R], dict[str, Any]],
) -> None:
    """Hand `result` to its JSON presenter (`document`, written here) or to its human one
    (`human(target, result)`: target is a console or a stream, as the presenter takes)."""
    if as_json:
        write(document(result))
    else:
        human(target, result)
