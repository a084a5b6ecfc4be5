"""jinja2 templates: the one module that imports jinja2.

Templates live in the repository's top-level `templates/` folder and are shipped inside the
wheel as `ghes_setup/templates/` (pyproject `force-include`). An installed wheel finds them in
the package; a source checkout (editable install) finds them next to the package.

Escaping is the template's file type's, never the caller's to remember:
- `NAME.html.j2` (and `.htm.j2`, `.xml.j2`) are autoescaped: every value is HTML-escaped unless
  a template marks it safe (none does). jinja2's `select_autoescape` looks only at the last
  extension, so `.html.j2` must be named in full, or `up.html.j2` would not be escaped at all.
- Markdown has no autoescape: its templates pass every value through the `md` filter (text in
  a paragraph or a table cell), `md_code` (a code span) or `md_block` (a fenced block), which
  keep server text from breaking a table row (`|`, line breaks) or turning into markup (HTML
  tags, links, emphasis), following the CommonMark spec's backslash escapes and GitHub
  Flavored Markdown's table rules (https://github.github.com/gfm/#tables-extension-).
- Other templates (cron files, units, zone files) are plain text: their callers validate what
  goes in (a line break in a path is refused before rendering).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ghes_setup.secrets import scrub

AUTOESCAPED = ("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2")

# CommonMark: any ASCII punctuation may be backslash-escaped. These are the ones that start
# markup inside a line: emphasis, code, links/images, raw HTML and autolinks (`<`; a lone `>`
# is text), entities, GFM tables and strikethrough. (Block markers like `#`, `>` or `-` only
# matter at a line's start, where values never are; line breaks become <br>.)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|&~])")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BACKTICKS = re.compile(r"`+")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def markdown_text(value: Any) -> str:
    """`value` as literal text in a Markdown paragraph, list item or table cell: one line
    (line breaks become `<br>`, which GFM table cells accept), no markup."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _text(value))
    return _LINE_BREAK.sub("<br>", escaped)


def markdown_code(value: Any) -> str:
    """`value` as one inline code span, backticks included. The fence is longer than any run
    of backticks in the value (CommonMark code spans); `|` is escaped even inside a code
    span in a GFM table (the table is split into cells before code spans are parsed)."""
    text = _LINE_BREAK.sub(" ", _text(value)).replace("|", "\\|")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_block(value: Any) -> str:
    """`value` as a fenced code block, kept verbatim: the fence is longer than any run of
    backticks in the value, so no line of it can close the block early."""
    text = _LINE_BREAK.sub("\n", _text(value)).rstrip("\n")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def templates_dir() -> Path:
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("ghes-setup templates are missing from this installation")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=AUTOESCAPED, disabled_extensions=(), default_for_string=False
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_text
    env.filters["md_code"] = markdown_code
    env.filters["md_block"] = markdown_block
    return env


def autoescaped(name: str) -> bool:
    """Whether `templates/<name>` is rendered with HTML autoescape on."""
    policy = _environment().autoescape
    return bool(policy(name)) if callable(policy) else bool(policy)


def render(name: str, **context: Any) -> str:
    """Render `templates/<name>` with `context`; unknown variables are an error, not blanks."""
    return scrub(_environment().get_template(name).render(**context))
