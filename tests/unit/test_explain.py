"""`ghes-setup explain`: every check id has its page, every page a check id, and the hints
point at `explain`, never at a path of the source repository (issue: the wheel shipped
neither the docs nor a way to read them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ghes_setup.runbooks import catalogue
from tests.conftest import CliRunner

ROOT = Path(__file__).resolve().parents[2]
CHECK_PAGES = ROOT / "docs" / "checks"


def test_every_check_id_has_a_page_and_every_page_a_check_id() -> None:
    ids = set(catalogue.check_ids())
    pages = {p.stem for p in CHECK_PAGES.glob("*.md")}
    assert len(ids) >= 29, sorted(ids)  # the catalogue really found the check modules
    assert not ids - pages, f"check ids without docs/checks/<id>.md: {sorted(ids - pages)}"
    assert not pages - ids, f"pages of no check id: {sorted(pages - ids)}"


def test_the_catalogue_has_every_id_the_code_declares() -> None:
    """Cross-check the catalogue's discovery against the source: every literal id given to
    `@check(...)` (or a module's CHECK_ID) in the area packages."""
    declared: set[str] = set()
    for path in (ROOT / "ghes_setup").rglob("*.py"):
        if "lab" in path.relative_to(ROOT / "ghes_setup").parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "check"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                declared.add(node.args[0].value)
            if isinstance(node, ast.AnnAssign | ast.Assign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(getattr(t, "id", None) == "CHECK_ID" for t in targets) and isinstance(
                    node.value, ast.Constant
                ):
                    declared.add(node.value.value)
    assert declared == set(catalogue.check_ids())


def test_explain_list_prints_every_id_one_per_line(cli: CliRunner) -> None:
    result = cli("explain", "--list")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == list(catalogue.check_ids())
    assert "tls-chain-complete" in result.stdout.splitlines()


@pytest.mark.parametrize("check_id", ["tls-chain-complete", "status-endpoint", "registry-ping"])
def test_explain_prints_the_page(cli: CliRunner, check_id: str) -> None:
    result = cli("explain", check_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (CHECK_PAGES / f"{check_id}.md").read_text()
    assert result.stdout.startswith(f"# {check_id}\n")


def test_explain_prints_other_pages_by_name(cli: CliRunner) -> None:
    pages = cli("explain", "--pages")
    assert pages.exit_code == 0
    assert {"site-file", "security", "runbooks/upgrade", "install"} <= set(pages.stdout.split())
    result = cli("explain", "site-file")
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "docs" / "site-file.md").read_text()


def test_explain_unknown_id_is_a_usage_error_with_a_suggestion(cli: CliRunner) -> None:
    result = cli("explain", "tls-sann")
    assert result.exit_code == 2
    assert "did you mean tls-san?" in result.stderr
    assert "--list" in result.stderr
    assert result.stdout == ""
    assert cli("explain", "--list", "tls-san").exit_code == 2


def test_explain_needs_an_id(cli: CliRunner) -> None:
    result = cli("explain")
    assert result.exit_code in (0, 2)  # no arguments: the command's help
    assert "CHECK_ID" in result.stdout + result.stderr


# A path of the source repository in text a user reads: `docs/x.md`, `docs/runbooks/...`.
_REPO_PATH = re.compile(r"\bdocs/[\w./-]+")


def _user_facing_strings(path: Path) -> list[tuple[int, str]]:
    """String constants that are not docstrings: messages, hints, help texts."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_hint_or_help_points_at_a_path_of_the_source_repository() -> None:
    offenders = []
    for path in (ROOT / "ghes_setup").rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "lab":  # the lab is a development tool run from the checkout
            continue
        for line, text in _user_facing_strings(path):
            if _REPO_PATH.search(text) and "ghes_setup/docs" not in text:
                offenders.append(f"{rel}:{line}: {text[:80]!r}")
    offenders.extend(
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.j2")
        if _REPO_PATH.search(path.read_text())
    )
    assert not offenders, "\n".join(offenders)


def test_every_explain_hint_names_a_page_that_exists() -> None:
    """`ghes-setup explain NAME` in any message names a check id or a shipped page."""
    known = set(catalogue.check_ids()) | set(catalogue.topics())
    named = set()
    for path in (ROOT / "ghes_setup").rglob("*.py"):
        for _, text in _user_facing_strings(path):
            named.update(re.findall(r"ghes-setup explain ([a-z][\w/-]*[a-z])", text))
    assert named, "no hint points at explain?"
    assert not named - known, sorted(named - known)
