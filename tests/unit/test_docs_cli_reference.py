"""docs/cli.md is the `--help` of every command; it must not drift from the commands."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen-cli-docs.py"
REGENERATE = ".venv/bin/python scripts/gen-cli-docs.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_the_commands_help() -> None:
    expected = generator().render()
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    if current != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/cli.md",
                    "--help now",
                )
            )[:60]
        )
        pytest.fail(f"docs/cli.md is stale: run `{REGENERATE}`\n{diff}", pytrace=False)


def test_cli_reference_covers_every_command_and_subcommand() -> None:
    gen = generator()
    paths = [" ".join(p) for p in gen.command_paths()]
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for path in paths:
        title = f"## ghes-setup {path}".rstrip()
        assert f"\n{title}\n" in text, f"{title!r} missing: run `{REGENERATE}`"
    assert "dns check" in paths and "tls ca create" in paths  # the walk goes two levels deep


def test_cli_reference_has_no_ansi_and_no_line_over_the_width() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "\x1b[" not in text
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
        elif in_block:
            assert len(line) <= generator().WIDTH, line
