"""scripts/wrap-cited-lines.py: the re-wrap that follows the citation rewrite keeps code valid,
keeps each citation in one piece, and changes nothing on a second run."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
CITE = "docs/reference/ghes-facts.md §5.3"


def wrapper() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "wrap_cited_lines", ROOT / "scripts/wrap-cited-lines.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = f'''"""Module summary that is long enough to need a break once the citation is in ({CITE}).

A paragraph whose first line carries the citation and runs past the limit ({CITE}) and on
into the next line, which continues the same paragraph.
"""


def f() -> int:
    """A one-line docstring that ends with its closing quotes and is too long ({CITE})."""
    value = 1  # a trailing comment on a line of code that is much too long now ({CITE})
    return value
'''


def test_long_lines_are_wrapped_into_valid_code(tmp_path: Path) -> None:
    module = wrapper()
    path = tmp_path / "sample.py"
    path.write_text(SOURCE, encoding="utf-8")
    assert module.wrap_file(path) == []
    text = path.read_text(encoding="utf-8")
    ast.parse(text)  # still Python
    assert max(len(line) for line in text.splitlines()) <= module.WIDTH
    assert text.count(CITE) == SOURCE.count(CITE)  # no citation was split
    assert "    # a trailing comment" in text and "    value = 1\n" in text  # moved above
    words = sorted(w for w in text.split() if w != "#")
    assert words == sorted(w for w in SOURCE.split() if w != "#")  # only line breaks moved
    path.write_text(text, encoding="utf-8")
    assert module.wrap_file(path) == []
    assert path.read_text(encoding="utf-8") == text  # a second run changes nothing


def test_a_long_line_of_code_is_left_for_a_human(tmp_path: Path) -> None:
    path = tmp_path / "code.py"
    source = f'X = "{CITE} {"x" * 100}"\n'
    path.write_text(source, encoding="utf-8")
    left = wrapper().wrap_file(path)
    assert len(left) == 1 and left[0].startswith(f"{path}:1:")
    assert path.read_text(encoding="utf-8") == source
