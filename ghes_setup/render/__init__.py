"""jinja2 templates: the one module that imports jinja2.

Templates live in the repository's top-level `templates/` folder and are shipped inside the
wheel as `ghes_setup/templates/` (pyproject `force-include`). An installed wheel finds them in
the package; a source checkout (editable install) finds them next to the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ghes_setup.secrets import scrub


def templates_dir() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("ghes-setup templates are missing from this installation")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "xml")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """Render `templates/<name>` with `context`; unknown variables are an error, not blanks."""
    return scrub(_environment().get_template(name).render(**context))
