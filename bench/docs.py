"""Keep docs/performance.md's sections up to date from benchmark runs."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
HEADER = """# Performance

Targets (docs/reference/architecture.md §7) are measured by the benchmarks in `bench/`, each
comparing against its baseline in the same run (alternating rounds), never by timed unit tests.
Latency is simulated with `bench/delayproxy.py` (this machine's kernel has no netem). Each section
below is written by its benchmark with `--write-docs`; the command that produced it is in the
section.
"""


def replace_section(title: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n")
