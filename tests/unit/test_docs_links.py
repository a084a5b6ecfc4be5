"""Every relative link in README.md and docs/ points at a file that exists (and, for a
`#fragment` into a Markdown file, at a heading that exists there)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?\s*\)")
_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # https:, mailto:, file: ...


def targets(text: str) -> list[str]:
    text = _CODE.sub("", _FENCE.sub("", text))
    found = _LINK.findall(text) + _IMAGE.findall(text) + _REFDEF.findall(text)
    return [t for t in found if not _EXTERNAL.match(t)]


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', -N for repeats."""
    seen: dict[str, int] = {}
    out = set()
    text = _FENCE.sub("", markdown.read_text(encoding="utf-8"))
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    out.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', text))
    return out


def test_there_are_pages_to_check() -> None:
    assert (ROOT / "docs" / "index.md") in PAGES
    assert len(PAGES) > 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    broken = []
    for target in targets(page.read_text(encoding="utf-8")):
        path_part, _, fragment = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            broken.append(f"{target} (no such file: {os.path.relpath(dest, ROOT)})")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no heading #{fragment} in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: " + "; ".join(broken)


def test_the_link_finder_sees_links_and_ignores_code() -> None:
    text = (
        'See [a](a.md), [b](../b.md#part "title") and ![img](pic.png).\n'
        "[ref]: ./c.md\n`[not](x.md)` and https://example.com and [ext](https://e.com/x.md)\n"
        "```\n[no](y.md)\n```\n"
    )
    assert targets(text) == ["a.md", "../b.md#part", "pic.png", "./c.md"]
