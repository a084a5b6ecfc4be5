"""Every check id the tool can report, and each one's page (`ghes-setup explain`).

The ids are the public contract of the JSON document, the Nagios and Prometheus output and the
docs (docs/checks/<id>.md): `checks.catalogue.CheckId`, each with its row(s) in the one check table
(`checks.catalogue`); the unit tests hold the enum, the table, the check modules, the pages,
the schema's enumeration and `explain --help` together.

The whole docs/ folder ships inside the wheel as `ghes_setup/docs/` (pyproject
`force-include`); in a source checkout it is read from the repository's `docs/`. Besides the
check pages, `explain` prints the other pages by name (`site-file`, `security`,
`runbooks/upgrade`): hints point there, never at a path of the source repository.
"""

from __future__ import annotations

from pathlib import Path

from ghes_setup.checks.catalogue import CATALOGUE


def check_ids() -> tuple[str, ...]:
    """Every check id of the catalogue, sorted, each once (an id measured in two places, such
    as `registry-smoke` from the appliance's side and a runner's, is one id)."""
    return tuple(sorted({str(row.id) for row in CATALOGUE}))


def docs_dir() -> Path:
    """Where the docs are: inside the installed package, else the source checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "docs", package.parent / "docs"):
        if (candidate / "checks").is_dir():
            return candidate
    raise FileNotFoundError("the documentation (ghes_setup/docs) is missing from this install")


def pages_dir() -> Path:
    """The check pages: docs/checks/<id>.md."""
    return docs_dir() / "checks"


def topics() -> tuple[str, ...]:
    """The other pages by name: `site-file`, `runbooks/upgrade`, ... (not `checks/*`)."""
    root = docs_dir()
    names = (
        p.relative_to(root).with_suffix("").as_posix()
        for p in root.rglob("*.md")
        if p.parent.name != "checks"
    )
    return tuple(sorted(names))


def page_path(name: str) -> Path | None:
    """The page of a check id or a topic, or None for a name the tool does not have."""
    if name in check_ids():
        return pages_dir() / f"{name}.md"
    if name in topics():
        return docs_dir() / f"{name}.md"
    return None
