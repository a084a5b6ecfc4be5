"""The one writer of every JSON document a command prints (check reports and the typed
results alike): two-space indent, keys in the order the presenter built them, secrets scrubbed,
newline-terminated, on standard output. The documents' schemas are in docs/schema/."""

from __future__ import annotations

import sys
from typing import Any

from ghes_setup.reporting.json_report import dumps


def write(document: dict[str, Any]) -> None:
    sys.stdout.write(dumps(document))
