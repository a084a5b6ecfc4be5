"""Presenter of `ghes-setup init`: where the site file went and what to do next (standard
output; nothing with --quiet). The file itself is the result: a TOML site file, mode 0600."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO


def human(out: TextIO, written: Path) -> None:
    """`written` as the admin gave it (--out), so the next command can be pasted as is."""
    out.write(
        f"Wrote {written} (0600). Next: put the secrets in the environment (see the file's "
        f"header), then: ghes-setup check --site {written}\n"
    )
