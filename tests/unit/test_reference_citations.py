"""Every citation of a reference page resolves, and nothing cites a document outside the repository.

Code, tests and docs explain a decision with `docs/reference/<page>.md §N[.N]` (how to cite:
docs/reference/README.md). A citation is good when the page exists and has a heading that
starts with the cited number (`### 1.4 ghe-config-apply`). Documents that users never see
(the developers' own notes) must not be cited at all; the patterns below are written so that
this file does not match them itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
SCANNED = (
    "ghes_setup",
    "tests",
    "docs",
    "templates",
    "playbooks",
    "scripts",
    "bench",
    ".ci",
    "README.md",
    "pyproject.toml",
)
SKIPPED_DIRS = {"__pycache__", ".lab", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache"}

# `docs/reference/ghes-facts.md §3.3, §3.4`, `... §3.3/§3.4`, `... §6 and §7`
_CITATION = re.compile(
    r"docs/reference/(?P<page>[\w.-]+?\.md)"
    r"(?P<sections>(?:\s*(?:,|/|and)?\s*§\d+(?:\.\d+)*)+)"
)
_SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
_PAGE_MENTION = re.compile(r"docs/reference/([\w.-]+?\.md)\b")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_NUMBERED_HEADING = re.compile(r"^#{1,6}[ \t]+(\d+(?:\.\d+)*)\.?(?=[ \t]|$)", re.MULTILINE)

# Documents outside the repository, in the forms they used to be cited in. The brackets keep
# each pattern from matching its own source text.
_OUTSIDE = (
    re.compile(r"ghes[-]facts\s*§"),
    re.compile(r"lab[-]notes"),
    re.compile(r"(?<![\w/-])design[.]md\b"),
    re.compile(r"shared[/]reference"),
    re.compile(r"(?<![\w/-])(?:style|peers)[.]md"),
)


@dataclass(frozen=True)
class Citation:
    where: str  # path:line
    page: str
    section: str


def scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        top = ROOT / name
        if top.is_file():
            files.append(top)
        elif top.is_dir():
            files.extend(
                path
                for path in sorted(top.rglob("*"))
                if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts)
            )
    return files


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # binary test data


def citations(text: str, where: str) -> list[Citation]:
    return [
        Citation(f"{where}:{text.count(chr(10), 0, match.start()) + 1}", match["page"], section)
        for match in _CITATION.finditer(text)
        for section in _SECTION.findall(match["sections"])
    ]


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line, text) of every reference to a document that is not in the repository."""
    kept = _CITATION.sub(lambda m: " " * len(m.group(0)), text)  # same offsets, good ones gone
    hits = sorted((m.start(), m.group(0)) for pattern in _OUTSIDE for m in pattern.finditer(kept))
    return [(kept.count("\n", 0, start) + 1, found) for start, found in hits]


def section_numbers(page: Path) -> list[str]:
    return _NUMBERED_HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8")))


def all_texts() -> dict[str, str]:
    texts = {}
    for path in scanned_files():
        text = read_text(path)
        if text is not None:
            texts[str(path.relative_to(ROOT))] = text
    return texts


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return all_texts()


def test_every_citation_names_an_existing_page_and_section(texts: dict[str, str]) -> None:
    found = [c for where, text in texts.items() for c in citations(text, where)]
    pages = {c.page for c in found}
    sections = {p: set(section_numbers(REFERENCE / p)) for p in pages if (REFERENCE / p).is_file()}
    broken = [
        f"{c.where}: docs/reference/{c.page} §{c.section}"
        + (" (no such page)" if c.page not in sections else " (no heading with that number)")
        for c in found
        if c.section not in sections.get(c.page, set())
    ]
    assert not broken, "citations that do not resolve:\n" + "\n".join(broken)


def test_every_mentioned_reference_page_exists(texts: dict[str, str]) -> None:
    missing = sorted(
        f"{where}: docs/reference/{page}"
        for where, text in texts.items()
        for page in _PAGE_MENTION.findall(text)
        if not (REFERENCE / page).is_file()
    )
    assert not missing, "reference pages that do not exist:\n" + "\n".join(missing)


def test_nothing_cites_a_document_outside_the_repository(texts: dict[str, str]) -> None:
    hits = [
        f"{where}:{line}: {found!r}"
        for where, text in texts.items()
        for line, found in outside_references(text)
    ]
    assert not hits, (
        "cite docs/reference/<page>.md §N (docs/reference/README.md) or a public source "
        "instead of:\n" + "\n".join(hits)
    )


def test_each_reference_page_is_cited_and_numbers_its_sections_once(
    texts: dict[str, str],
) -> None:
    cited = {c.page for where, text in texts.items() for c in citations(text, where)}
    for page in ("ghes-facts.md", "lab-findings.md", "architecture.md"):
        numbers = section_numbers(REFERENCE / page)
        assert numbers, f"docs/reference/{page} has no numbered headings"
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        assert not duplicates, f"docs/reference/{page}: section numbers used twice: {duplicates}"
        assert page in cited, f"nothing cites docs/reference/{page}"


def test_the_citation_finder_reads_lists_and_ignores_prose() -> None:
    text = (
        "x (docs/reference/ghes-facts.md §3.3/§3.4) and\n"
        "docs/reference/architecture.md §6, §7; docs/reference/lab-findings.md §2 B.\n"
        "a § alone, docs/reference/ghes-facts.md without a section\n"
    )
    assert [(c.where, c.page, c.section) for c in citations(text, "f")] == [
        ("f:1", "ghes-facts.md", "3.3"),
        ("f:1", "ghes-facts.md", "3.4"),
        ("f:2", "architecture.md", "6"),
        ("f:2", "architecture.md", "7"),
        ("f:2", "lab-findings.md", "2"),
    ]


def test_outside_references_are_found_but_good_citations_are_not() -> None:
    # Assembled from pieces so that this file does not cite them itself.
    names = ["ghes-" + "facts §", "lab-" + "notes", "design" + ".md", "shared/" + "reference"]
    old = f"{names[0]}1.4, {names[1]} §2,\n({names[2]} §4), {names[3]}"
    good = "docs/reference/lab-findings.md §2 and docs/reference/ghes-facts.md §1.4"
    assert outside_references(old) == [(1, names[0]), (1, names[1]), (2, names[2]), (2, names[3])]
    assert outside_references(good) == []


def test_numbered_headings_are_read_from_markdown(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "# Title\n## 1 One\n### 1.4 ghe-config-apply\n## 2. Two\n"
        "## 10 Ten\n```\n## 3 in a fence\n```\n#### 2.1x not a number\n",
        encoding="utf-8",
    )
    assert section_numbers(page) == ["1", "1.4", "2", "10"]
