"""The role client_check is part of the built collection ghes_setup.fleet, and an installed
collection runs it by its full name `ghes_setup.fleet.client_check` from a playbook of the
user's own (with the stand-in ghes-setup of tests/fleet/conftest.py on the runner)."""

from __future__ import annotations

import tarfile

from tests.fleet.conftest import SECRETS, Fleet, play, recap, runs
from tests.fleet.test_client_check_lab import write_runner_inventory
from tests.fleet.test_collection import build, install


def test_the_built_collection_carries_client_check(standin: Fleet) -> None:
    tarball = build(standin.root / "dist", standin.env())
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for part in ("meta/main.yml", "defaults/main.yml", "tasks/main.yml"):
        assert f"roles/client_check/{part}" in names, sorted(names)
    assert "client-check.yml" in names
    collections = standin.root / "collections"
    install(tarball, collections, standin.env())
    users = standin.root / "site-playbooks" / "runners.yml"
    users.parent.mkdir()
    users.write_text(
        "- name: Our runners\n"
        "  hosts: runners\n"
        "  gather_facts: false\n"
        "  roles:\n"
        "    - role: ghes_setup.fleet.client_check\n",
        encoding="utf-8",
    )
    write_runner_inventory(
        standin,
        {"runner-1": {"ghes_setup_client_hostname": "ghe.example.com"}},
        SECRETS["token"],
        executable=standin.executable,
    )
    result = play(standin, str(users), ANSIBLE_COLLECTIONS_PATH=str(collections))
    assert result.returncode == 0, result
    assert recap(result, "runner-1")["failed"] == 0
    [run] = runs(standin)
    assert run["argv"][:3] == ["client", "check", "ghe.example.com"]
    assert run["stdin_left"] == SECRETS["token"] + "\n"
