#!/usr/bin/env python3
"""Write the enumeration of check ids into docs/schema/report-v1.json (`$defs.check_id`).

The ids come from the check catalogue (ghes_setup/checks/catalogue.py), sorted. The schema's
`results[].id` keeps its open pattern, so that a consumer validating with an older schema
still accepts a newer release's reports (ids are only ever added); `$defs.check_id` is the list
of the ids this release can report, for consumers that want it (code generators, dashboards).

    .venv/bin/python scripts/gen-check-ids.py           # rewrite the enumeration
    .venv/bin/python scripts/gen-check-ids.py --check   # exit 1 if it is stale

tests/unit/test_check_catalogue.py fails while the enumeration differs from the catalogue.
Only the one line of the enumeration is rewritten: the rest of the file is hand-formatted.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "schema" / "report-v1.json"
DESCRIPTION = (
    "Every check id this release can report (docs/checks/<id>.md explains each one); "
    "generated from the check catalogue by scripts/gen-check-ids.py. results[].id is not "
    "restricted to it: ids are only ever added, and a newer release may report one more."
)
_LINE = re.compile(r'^    "check_id": \{.*\},\n', re.MULTILINE)
_ANCHOR = '  "$defs": {\n'


def render(text: str) -> str:
    """`text` (the schema) with its enumeration of ids current."""
    sys.path.insert(0, str(ROOT))
    from ghes_setup.runbooks.catalogue import check_ids

    entry = json.dumps({"description": DESCRIPTION, "enum": list(check_ids())})
    line = f'    "check_id": {entry},\n'
    if _LINE.search(text):
        return _LINE.sub(lambda _: line, text, count=1)
    if _ANCHOR not in text:
        raise SystemExit(f"{TARGET}: no $defs to add the enumeration to")
    return text.replace(_ANCHOR, _ANCHOR + line, 1)


def main(argv: list[str]) -> int:
    current = TARGET.read_text(encoding="utf-8")
    expected = render(current)
    if "--check" in argv:
        if current != expected:
            print(f"{TARGET} is stale: run scripts/gen-check-ids.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(expected, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
