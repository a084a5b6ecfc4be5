"""playbooks/ is the Ansible collection ghes_setup.fleet: it builds, installs, lints clean.

- `ansible-galaxy collection build` makes the tarball (namespace, name and version from
  galaxy.yml, every role and playbook inside, nothing of the linter's);
- the tarball installs offline into a collections folder, and a playbook of the user's own
  that calls the role by its full name `ghes_setup.fleet.setup` runs it (the role's `common`
  dependency resolves inside the installed collection);
- `ansible-lint --offline --profile production` passes, run in a network namespace with no
  network at all (`unshare -n`), so CI needs nothing from Galaxy or PyPI for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.fleet.conftest import BIN, PLAYBOOKS, Fleet, recap
from tests.fleet.test_playbooks_standin import SECRETS, play, runs

ROLES = ("common", "healthcheck", "install", "setup", "upgrade_verify")


def galaxy() -> dict[str, object]:
    data = yaml.safe_load((PLAYBOOKS / "galaxy.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def build(out: Path, env: dict[str, str]) -> Path:
    built = subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "build",
            str(PLAYBOOKS),
            "--output-path",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    meta = galaxy()
    tarball = out / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    assert tarball.exists(), built.stdout
    return tarball


def install(tarball: Path, collections: Path, env: dict[str, str]) -> None:
    """`ansible-galaxy collection install --offline TARBALL -p COLLECTIONS`, which must work."""
    galaxy_install = [str(BIN / "ansible-galaxy"), "collection", "install", "--offline"]
    installed = subprocess.run(
        [*galaxy_install, str(tarball), "-p", str(collections)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr


def test_the_collection_builds_with_every_role_and_playbook(bare_fleet: Fleet) -> None:
    tarball = build(bare_fleet.root / "dist", bare_fleet.env())
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("ghes_setup", "fleet")
    assert info["version"] == galaxy()["version"]
    for role in ROLES:
        assert f"roles/{role}/meta/main.yml" in names, sorted(names)
    for playbook in ("setup.yml", "healthcheck.yml", "upgrade-verify.yml", "install.yml"):
        assert playbook in names
    assert {"meta/runtime.yml", "README.md", "CHANGELOG.md"} <= names
    assert ".ansible-lint" not in names


def test_an_installed_collection_runs_its_role_by_full_name(standin: Fleet) -> None:
    collections = standin.root / "collections"
    tarball = build(standin.root / "dist", standin.env())
    install(tarball, collections, standin.env())
    # The user's own playbook, outside this repository: only the installed collection's roles.
    users = standin.root / "site-playbooks" / "ghes.yml"
    users.parent.mkdir()
    users.write_text(
        "- name: Our GHES fleet\n"
        "  hosts: ghes\n"
        "  connection: local\n"
        "  gather_facts: false\n"
        "  serial: 1\n"
        "  vars:\n"
        "    ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
        "  roles:\n"
        "    - role: ghes_setup.fleet.setup\n",
        encoding="utf-8",
    )
    standin.add_appliance("ghe-a", **SECRETS)
    result = play(standin, str(users), ANSIBLE_COLLECTIONS_PATH=str(collections))
    assert result.returncode == 0, result
    assert recap(result, "ghe-a")["failed"] == 0
    [run] = runs(standin)
    assert run["argv"][:3] == ["up", "--site", str(standin.site_path)]
    assert run["env"]["GHES_SETUP_TOKEN"] == SECRETS["token"]


def test_ansible_lint_production_profile_is_clean_offline(tmp_path: Path) -> None:
    lint = BIN / "ansible-lint"
    if not lint.exists():
        pytest.fail("ansible-lint is missing: .venv/bin/pip install -e '.[dev]'", pytrace=False)
    if shutil.which("unshare") is None:
        pytest.fail("unshare missing: apt-get install util-linux", pytrace=False)
    # A copy, so the linter's cache never lands in the repository.
    tree = tmp_path / "fleet"
    shutil.copytree(PLAYBOOKS, tree)
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        ["unshare", "-n", str(lint), "--offline", "--profile", "production", "--nocolor"],
        cwd=tree,
        env={
            "PATH": f"{BIN}:/usr/bin:/bin",
            "HOME": str(home),
            "ANSIBLE_HOME": str(home / ".ansible"),
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=280,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed." in output, output
    assert "0 failure(s), 0 warning(s)" in output, output
