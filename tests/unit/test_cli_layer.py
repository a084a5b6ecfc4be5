"""`ghes_setup/cli/` only parses, calls and hands results to presenters (`reporting/`): no
module there imports rich or json, not even for annotations under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "ghes_setup" / "cli"
FORBIDDEN = ("rich", "json")


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def offenders(folder: Path = CLI) -> list[str]:
    """`path:line module` for every import of a forbidden top-level package."""
    lines = []
    for path in sorted(folder.glob("*.py")):
        for lineno, module in _imported(ast.parse(path.read_text(), str(path))):
            if module.split(".")[0] in FORBIDDEN:
                lines.append(f"{path.name}:{lineno} {module}")
    return lines


def test_no_cli_module_imports_rich_or_json() -> None:
    found = offenders()
    assert not found, "cli/ modules importing rich or json (use a reporting/ presenter):\n" + (
        "\n".join(found)
    )


def test_the_walk_sees_imports_under_type_checking_and_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from rich.console import Console\n"
        "def f():\n    import json\n    import jsonschema\n"
    )
    assert offenders(tmp_path) == ["bad.py:3 rich.console", "bad.py:5 json"]
