"""Every check id the tool can report, and each one's page (`ghes-setup explain`).

The ids are the public contract of the JSON document, the Nagios and Prometheus output and the
docs (docs/checks/<id>.md). There is no hand-kept list to forget: `check_ids` collects them from
the check modules themselves (`<area>/check_<topic>.py`, each a `@check(...)` function; see
`checks.protocol`), so a new check module is in the catalogue the moment it exists, and the
unit tests then ask for its page.

The whole docs/ folder ships inside the wheel as `ghes_setup/docs/` (pyproject
`force-include`); in a source checkout it is read from the repository's `docs/`. Besides the
check pages, `explain` prints the other pages by name (`site-file`, `security`,
`runbooks/upgrade`): hints point there, never at a path of the source repository.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path
from typing import Final

from ghes_setup.checks.protocol import FunctionCheck

# The packages whose `check_*` modules hold checks, in the order a report lists areas.
AREA_PACKAGES: Final = (
    "ghes_setup.dns",
    "ghes_setup.tls",
    "ghes_setup.appliance",
    "ghes_setup.packages",
    "ghes_setup.registry",
    "ghes_setup.client",
)


@functools.cache
def check_ids() -> tuple[str, ...]:
    """Every check id, sorted, each once (an id checked in two places is one id)."""
    found: set[str] = set()
    for package_name in AREA_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("check_"):
                continue
            module = importlib.import_module(f"{package_name}.{info.name}")
            found.update(
                value.id for value in vars(module).values() if isinstance(value, FunctionCheck)
            )
    return tuple(sorted(found))


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
