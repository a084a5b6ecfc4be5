"""install.yml (the role ghes_setup.fleet.install): ghes-setup with pipx, idempotent, --check.

pipx is a stand-in here that keeps pipx's state and answers `list --json` the way pipx 1.x
does (venvs -> metadata -> main_package -> package_version): the real pipx insists on upgrading
its shared pip from the package index at the first install, which an offline test cannot
serve. What is tested is the role's logic: it asks pipx first and installs only when
ghes-setup is missing or not the wanted version (named by `ghes-setup==X` or a wheel's file
name), passes --global, --python and the pip arguments through, says under --check what it
would install without installing, and fails with what to install when pipx is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.conftest import Fleet, recap

PIPX = r"""#!/usr/bin/env python3
import json, os, re, sys
state_file = os.environ["STANDIN_PIPX_STATE"]
state = json.load(open(state_file)) if os.path.exists(state_file) else {"venvs": {}, "calls": []}
args = sys.argv[1:]
state["calls"].append({"argv": args, "home": os.environ.get("PIPX_HOME"),
                       "bin": os.environ.get("PIPX_BIN_DIR")})
bin_dir = os.environ.get("PIPX_BIN_DIR", "/nonexistent")
if args[0] == "list":
    print(json.dumps({"pipx_spec_version": "0.1", "venvs": {
        name: {"metadata": {"main_package": {"package": name, "package_version": version}}}
        for name, version in state["venvs"].items()}}))
elif args[0] == "environment":
    print(bin_dir)
elif args[0] == "install":
    spec = args[-1]
    m = re.search(r"ghes_setup-([^-/]+)-[^/]*\.whl$", spec) or re.search(r"==(.+)$", spec)
    state["venvs"]["ghes-setup"] = m.group(1) if m else "9.9.9"
    os.makedirs(bin_dir, exist_ok=True)
    app = os.path.join(bin_dir, "ghes-setup")
    with open(app, "w") as fh:
        fh.write("#!/bin/sh\necho ghes-setup stand-in\n")
    os.chmod(app, 0o755)
    print("installed package ghes-setup")
json.dump(state, open(state_file, "w"))
"""


@pytest.fixture
def pipx(bare_fleet: Fleet) -> Path:
    script = bare_fleet.root / "bin" / "pipx"
    script.parent.mkdir()
    script.write_text(PIPX, encoding="utf-8")
    script.chmod(0o755)
    bare_fleet.monitor_vars = {
        "ghes_setup_pipx_executable": str(script),
        "ghes_setup_pipx_home": str(bare_fleet.root / "pipx"),
        "ghes_setup_pipx_bin_dir": str(bare_fleet.root / "pipx-bin"),
    }
    return bare_fleet.root / "pipx-state.json"


def install(fleet: Fleet, state: Path, *args: str) -> Any:
    return fleet.play("install.yml", *args, extra_env={"STANDIN_PIPX_STATE": str(state)})


def calls(state: Path) -> list[list[str]]:
    return [c["argv"] for c in json.loads(state.read_text(encoding="utf-8"))["calls"]]


def installs(state: Path) -> list[list[str]]:
    return [argv for argv in calls(state) if argv[0] == "install"]


def test_installs_once_from_a_wheel_then_changes_nothing(bare_fleet: Fleet, pipx: Path) -> None:
    wheel = "/srv/wheels/ghes_setup-0.2.0-py3-none-any.whl"
    bare_fleet.monitor_vars |= {
        "ghes_setup_install_spec": wheel,
        "ghes_setup_install_pip_args": "--no-index --no-deps",
        "ghes_setup_install_python": "python3.11",
    }
    first = install(bare_fleet, pipx)
    assert first.returncode == 0, first
    assert recap(first, "monitor")["changed"] == 1
    assert installs(pipx) == [
        ["install", "--force", "--python", "python3.11", "--pip-args=--no-index --no-deps", wheel]
    ]
    assert f"ghes-setup 0.2.0: {bare_fleet.root / 'pipx-bin'}/ghes-setup" in first.stdout, first
    call = json.loads(pipx.read_text(encoding="utf-8"))["calls"][0]
    assert call["home"] == str(bare_fleet.root / "pipx")  # PIPX_HOME from the variables

    again = install(bare_fleet, pipx)
    assert again.returncode == 0, again
    assert recap(again, "monitor")["changed"] == 0
    assert len(installs(pipx)) == 1


def test_an_index_password_in_the_pip_arguments_is_not_shown(bare_fleet: Fleet, pipx: Path) -> None:
    secret = "S3cretIndexPw"
    bare_fleet.monitor_vars |= {
        "ghes_setup_install_pip_args": f"--index-url https://deploy:{secret}@pypi.corp.example/simple",
    }
    result = install(bare_fleet, pipx, "-v")
    assert result.returncode == 0, result
    assert installs(pipx)  # it did install, with the arguments
    assert secret not in result.stdout + result.stderr


def test_a_new_version_is_installed_over_the_old(bare_fleet: Fleet, pipx: Path) -> None:
    bare_fleet.monitor_vars |= {"ghes_setup_install_spec": "ghes-setup==0.1.0"}
    assert install(bare_fleet, pipx).returncode == 0
    bare_fleet.monitor_vars |= {"ghes_setup_install_spec": "ghes-setup==0.3.1"}
    bare_fleet.write()
    upgraded = install(bare_fleet, pipx, "-e", "ghes_setup_install_global=true")
    assert upgraded.returncode == 0, upgraded
    assert recap(upgraded, "monitor")["changed"] == 1
    assert installs(pipx)[-1] == ["install", "--force", "--global", "ghes-setup==0.3.1"]
    assert "ghes-setup 0.3.1" in upgraded.stdout


def test_check_says_what_it_would_install_and_installs_nothing(
    bare_fleet: Fleet, pipx: Path
) -> None:
    result = install(bare_fleet, pipx, "--check")
    assert result.returncode == 0, result
    assert recap(result, "monitor")["changed"] == 1
    assert "would install ghes-setup with pipx (installed: none, wanted: any)" in result.stdout
    assert installs(pipx) == []
    assert calls(pipx) == [["list", "--json"]]


def test_a_host_without_pipx_fails_with_what_to_install(bare_fleet: Fleet) -> None:
    bare_fleet.monitor_vars = {"ghes_setup_pipx_executable": "/nonexistent/pipx"}
    result = bare_fleet.play("install.yml")
    assert result.returncode == 2, result
    assert "`/nonexistent/pipx list` failed on monitor" in result.stdout, result
    assert "apt-get install pipx" in result.stdout


def test_healthcheck_can_install_ghes_setup_first_then_schedules_it(
    bare_fleet: Fleet, pipx: Path
) -> None:
    bare_fleet.add_appliance("ghe-a", admin_password="pw-a-0815")
    app = bare_fleet.root / "pipx-bin" / "ghes-setup"
    bare_fleet.monitor_vars |= {
        "ghes_setup_monitor_executable": str(app),
        "ghes_setup_schedule_systemd": False,
    }
    result = bare_fleet.play(
        "healthcheck.yml",
        "-e",
        "ghes_setup_install=true",
        extra_env={"STANDIN_PIPX_STATE": str(pipx)},
    )
    assert result.returncode == 0, result
    assert installs(pipx) == [["install", "--force", "ghes-setup"]]
    cron = (bare_fleet.monitor_root / "cron.d" / "ghes-setup-check-ghe-a").read_text("utf-8")
    assert f" {app} check " in cron
