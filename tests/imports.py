"""Which libraries a piece of code loads, asked of a fresh interpreter (this one has loaded
everything the test session needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable

_PROBE = """
import json, sys
wanted = set(json.loads(sys.argv[1]))
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & wanted)))
"""


def packages_loaded_by(code: str, packages: Iterable[str]) -> list[str]:
    """The top-level packages among `packages` that running `code` in a new process loads."""
    argv = [sys.executable, "-c", code + _PROBE, json.dumps(sorted(set(packages)))]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded
