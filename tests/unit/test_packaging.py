"""The wheel carries what an installed ghes-setup needs: templates, py.typed, the script, the
docs `explain` prints, the license; and its requirements leave the lab's libraries to the
`lab` extra."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (built,) = out.glob("ghes_setup-*.whl")
    return built


def test_wheel_ships_templates_type_marker_and_console_script(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {
        p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.j2")
    }
    assert templates, "no templates in the repository?"
    for template in templates:
        assert f"ghes_setup/templates/{template}" in names, template
    assert "ghes_setup/py.typed" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "ghes-setup = ghes_setup.cli.main:main" in text


def test_wheel_ships_every_doc_page_and_the_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    check_pages = {p for p in pages if p.startswith("checks/")}
    assert len(check_pages) >= 29
    for page in pages:
        assert f"ghes_setup/docs/{page}" in names, page
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_wheel_ships_the_ansible_collection(wheel: Path) -> None:
    """An admin who installed the wheel can build the collection from the installed package."""
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "playbooks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "playbooks/galaxy.yml" in tracked
    for path in tracked:
        assert f"ghes_setup/{path}" in names, path


def test_installed_wheel_explains_from_its_own_pages(wheel: Path, tmp_path: Path) -> None:
    """Unpacked outside the checkout, `explain` reads ghes_setup/docs/ inside the package."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "COLUMNS": "100"}
    script = (
        "import sys; from ghes_setup.runbooks import catalogue; "
        "print(catalogue.docs_dir()); sys.argv = ['ghes-setup', *sys.argv[1:]]; "
        "from ghes_setup.cli.main import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "explain", "tls-chain-complete"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    where, _, page = done.stdout.partition("\n")
    assert Path(where) == site / "ghes_setup" / "docs"
    assert page == (ROOT / "docs" / "checks" / "tls-chain-complete.md").read_text()
    listed = subprocess.run(
        [sys.executable, "-c", script, "explain", "--list"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "tls-chain-complete" in listed.stdout.splitlines()


def test_wheel_requirements_leave_the_lab_to_its_extra(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    meta = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines()
                if line.startswith("Requires-Dist:")]  # fmt: skip
    base = [r for r in requires if "extra ==" not in r]
    lab = [r for r in requires if "extra == 'lab'" in r or 'extra == "lab"' in r]
    assert not [r for r in base if r.lower().startswith("pyjwt")], base
    assert any(r.lower().startswith("pyjwt") for r in lab), requires
    assert any(r.startswith("idna") for r in base)
    assert "License-Expression: MIT" in meta
    assert "Project-URL: Source" in meta


def test_production_code_never_imports_jwt() -> None:
    """PyJWT is the lab's (its registry token service); nothing outside ghes_setup/lab uses it."""
    for path in (ROOT / "ghes_setup").rglob("*.py"):
        if "lab" in path.relative_to(ROOT / "ghes_setup").parts:
            continue
        text = path.read_text()
        assert "import jwt" not in text and "from jwt" not in text, path
