"""scripts/wrap-cited-lines.py: the re-wrap that follows the citation rewrite keeps code valid,
keeps each citation in one piece, and changes nothing on a second run."""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

from tests.unit.test_reference_citations import outside_references

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


def test_the_rewrite_script_rewrites_old_citations_once_and_never_itself(tmp_path: Path) -> None:
    """scripts/rewrite-reference-citations.sh in a scratch git repository: old citations
    become docs/reference/ ones, Python lines stay within the limit, a second run changes
    nothing, and the script (a tracked file there too) does not rewrite itself."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("rewrite-reference-citations.sh", "wrap-cited-lines.py"):
        shutil.copy2(ROOT / "scripts" / name, repo / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    old = {  # assembled so that this file does not contain the old forms itself
        "facts": "ghes-" + "facts §",
        "notes": "lab-" + "notes §",
        "design": "design" + ".md §",
    }
    facts, notes, design = old["facts"], old["notes"], old["design"]
    sample = (
        f'"""Module docstring that cites the facts ({facts}1.4) and the lab ({notes}2 B),\n'
        f'and the design ({design}4, {design.split()[0]} §7 too).\n"""\n\n'
        f"X = 1  # a comment on code that cites {facts}3.3/§3.4 and runs on a bit\n"
    )
    (repo / "m.py").write_text(sample, encoding="utf-8")
    (repo / "n.md").write_text(f"See lab-{old['design']}1 ({old['notes']}4).\n", encoding="utf-8")
    script = repo / "scripts" / "rewrite-reference-citations.sh"
    before = script.read_text(encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False)

    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", ".").returncode == 0
    first = run("bash", str(script))
    assert first.returncode == 0, first.stderr
    text = (repo / "m.py").read_text(encoding="utf-8")
    ast.parse(text)
    assert "docs/reference/ghes-facts.md §1.4" in text
    assert "docs/reference/lab-findings.md §2 B" in text
    assert "docs/reference/architecture.md §4, docs/reference/architecture.md §7" in " ".join(
        text.split()
    )
    assert "docs/reference/ghes-facts.md §3.3/§3.4" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert outside_references(text) == []
    # lab-findings.md was a name already: only the lab notes' citation changed in the Markdown.
    assert (repo / "n.md").read_text(encoding="utf-8") == (
        f"See lab-{old['design']}1 (docs/reference/lab-findings.md §4).\n"
    )
    second = run("bash", str(script))
    assert second.returncode == 0 and "nothing to rewrite" in second.stdout
    assert script.read_text(encoding="utf-8") == before
