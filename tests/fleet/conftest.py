"""Running the playbooks with ansible-playbook against the lab, or a stand-in ghes-setup.

`Fleet` writes a throw-away Ansible world under the test's folder: ANSIBLE_HOME, the local and
remote temp folders and the SSH control path all inside it (docs/reference/lab-findings.md §6:
ANSIBLE_HOME alone does not move ~/.ansible/tmp), `ControlMaster=no` (ControlPersist's mux process
keeps a piped stdout open for a minute), and `ansible_python_interpreter={{ ansible_playbook_python
}}` (interpreter discovery picked a broken shim). The inventory is generated from the lab handle:
group `ghes` holds the lab appliance(s), group `monitoring` one local host whose destination
folders (cron.d, systemd, env files, textfiles) are inside the test's folder. Secrets are in a
group_vars file encrypted with ansible-vault, as the example inventory recommends.

`second_lab` (session) is a second lab appliance, `ghe2.lab.test` on its own random 127.77.X.1,
started and stopped with the same machinery as the session's `lab` (tests/fixtures/lab.py), so
one inventory can hold a fleet of two real appliances.

`standin` is a Fleet whose ghes-setup is a stand-in (STANDIN) that records its arguments, its
GHES_SETUP_* environment and what was left on its standard input, and prints a v1 report
(STANDIN_EXIT, STANDIN_RUN_ID, STANDIN_CHANGES, STANDIN_PENDING from the environment steer it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ghes_setup.lab.handle import LabHandle
from tests.fixtures.lab import (
    APPLY_SECONDS,
    free_lab_address,
    lab_command,
    make_lab_dir,
    require_lab_prerequisites,
)

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
BIN = Path(sys.executable).parent
VAULT_PASSWORD = "fleet-test-vault-password"


@dataclass
class PlayResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"PlayResult(returncode={self.returncode}, output=\n{self.output})"


@dataclass
class Fleet:
    """An inventory and an Ansible environment for one test."""

    root: Path
    lab: LabHandle | None = None
    appliances: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> secrets
    sites: dict[str, Path] = field(default_factory=dict)  # host -> its site file
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> more variables
    monitor_vars: dict[str, Any] = field(default_factory=dict)

    @property
    def inventory(self) -> Path:
        return self.root / "inventory" / "hosts.yml"

    @property
    def monitor_root(self) -> Path:
        return self.root / "monitor"

    @property
    def snapshot_dir(self) -> Path:
        return self.root / "snapshots"

    site: Path | None = None  # without a lab: the site file every appliance uses
    executable: Path = BIN / "ghes-setup"  # what the playbooks run on the control node

    def add_appliance(self, name: str, lab: LabHandle | None = None, **secrets: str) -> None:
        """A host of group `ghes` pointing at `lab` (default: the fleet's lab); `secrets`
        override the lab's own."""
        values = {}
        lab = lab or self.lab
        if lab is not None:
            values = {
                "admin_password": lab.admin_password,
                "token": lab.write_token,
                "s3_access_key": lab.s3_access_key,
                "s3_secret_key": lab.s3_secret_key,
            }
            self.sites[name] = lab.site_path
        values.update(secrets)
        self.appliances[name] = values

    @property
    def site_path(self) -> Path:
        if self.lab is not None:
            return self.lab.site_path
        assert self.site is not None, "a Fleet without a lab needs site="
        return self.site

    def write(self) -> None:
        ansible_tmp = self.root / "ansible"
        for sub in ("home", "local", "remote", "cp"):
            (ansible_tmp / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("cron.d", "systemd", "ghes-setup", "textfiles"):
            (self.monitor_root / sub).mkdir(parents=True, exist_ok=True)
        vault: dict[str, str] = {}
        hosts: dict[str, Any] = {}
        for name, secrets in self.appliances.items():
            key = name.replace("-", "_")
            site = self.sites.get(name) or self.site_path
            host: dict[str, Any] = {"ghes_setup_site": str(site), **self.host_vars.get(name, {})}
            for secret, value in secrets.items():
                vault[f"vault_{key}_{secret}"] = value
                host[f"ghes_setup_{secret}"] = f"{{{{ vault_{key}_{secret} }}}}"
            hosts[name] = host
        monitor = {
            "ansible_connection": "local",
            "ghes_setup_monitor_executable": str(BIN / "ghes-setup"),
            "ghes_setup_cron_dir": str(self.monitor_root / "cron.d"),
            "ghes_setup_systemd_dir": str(self.monitor_root / "systemd"),
            "ghes_setup_env_dir": str(self.monitor_root / "ghes-setup"),
            "ghes_setup_textfile_dir": str(self.monitor_root / "textfiles"),
            "ghes_setup_systemd_enable": False,
            **self.monitor_vars,
        }
        inventory = {
            "all": {
                "vars": {
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "ansible_remote_tmp": str(ansible_tmp / "remote"),
                    "ghes_setup_executable": str(self.executable),
                    "ghes_setup_snapshot_dir": str(self.snapshot_dir),
                },
                "children": {
                    "ghes": {"hosts": hosts},
                    "monitoring": {"hosts": {"monitor": monitor}},
                },
            }
        }
        self.inventory.parent.mkdir(parents=True, exist_ok=True)
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
        group_vars = self.inventory.parent / "group_vars" / "ghes"
        group_vars.mkdir(parents=True, exist_ok=True)
        self.write_vault_password()
        self.write_vault(group_vars / "vault.yml", vault)

    def write_vault_password(self) -> None:
        """The vault password file the example ansible.cfg names (mode 0600)."""
        password_file = self.root / "vault-password"
        password_file.write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
        password_file.chmod(0o600)

    def write_vault(self, vault_file: Path, values: dict[str, Any]) -> None:
        """`values` as a group_vars file encrypted with ansible-vault (the password above)."""
        vault_file.write_text(yaml.safe_dump(values), encoding="utf-8")
        encrypted = subprocess.run(
            [str(BIN / "ansible-vault"), "encrypt", str(vault_file)],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert encrypted.returncode == 0, encrypted.stderr
        assert vault_file.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;")

    def env(self) -> dict[str, str]:
        ansible_tmp = self.root / "ansible"
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("GHES_SETUP_", "ANSIBLE_"))
        }
        return {
            **base,
            "PATH": f"{BIN}:{base.get('PATH', '/usr/bin:/bin')}",
            "ANSIBLE_HOME": str(ansible_tmp / "home"),
            "ANSIBLE_LOCAL_TEMP": str(ansible_tmp / "local"),
            "ANSIBLE_REMOTE_TEMP": str(ansible_tmp / "remote"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(ansible_tmp / "cp"),
            "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
            "ANSIBLE_VAULT_PASSWORD_FILE": str(self.root / "vault-password"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_CONFIG": str(self.root / "ansible.cfg"),  # no stray ansible.cfg from cwd
        }

    def play(
        self, playbook: str, *args: str, extra_env: Mapping[str, str] | None = None
    ) -> PlayResult:
        if not self.inventory.exists():
            self.write()
        proc = subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                str(self.inventory),
                str(PLAYBOOKS / playbook),
                *args,
            ],
            env={**self.env(), **(extra_env or {})},
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=280,
        )
        return PlayResult(proc.returncode, proc.stdout, proc.stderr)

    def secrets(self) -> list[str]:
        return sorted({v for s in self.appliances.values() for v in s.values()} | {VAULT_PASSWORD})


def recap(result: PlayResult, host: str) -> dict[str, int]:
    """The PLAY RECAP counters of `host` (ok, changed, unreachable, failed, skipped, ...)."""
    for line in result.stdout.splitlines():
        if line.startswith(f"{host} ") and ":" in line and "ok=" in line:
            pairs = line.split(":", 1)[1].split()
            return {k: int(v) for k, v in (p.split("=") for p in pairs)}
    raise AssertionError(f"no PLAY RECAP line for {host}:\n{result.output}")


def assert_no_secret(result: PlayResult, fleet: Fleet) -> None:
    for value in fleet.secrets():
        assert value not in result.output, "a secret appeared in ansible-playbook's output"


def require_ansible() -> None:
    if not (BIN / "ansible-playbook").exists():
        pytest.fail(
            "ansible-playbook is missing: .venv/bin/pip install -e '.[dev]' (ansible-core)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def second_lab(lab: LabHandle) -> Iterator[LabHandle]:
    """A second lab appliance for a fleet of two: its own hostname, address and folder."""
    require_lab_prerequisites()
    directory = make_lab_dir()
    address = free_lab_address()
    assert address != lab.address
    up = lab_command(
        "up",
        "--dir",
        str(directory),
        "--address",
        address,
        "--hostname",
        "ghe2.lab.test",
        "--apply-seconds",
        APPLY_SECONDS,
    )
    if up.returncode != 0:
        lab_command("down", "--dir", str(directory))
        pytest.fail(
            f"second lab up failed ({up.returncode}):\n{up.stdout}{up.stderr}", pytrace=False
        )
    try:
        yield LabHandle.open(directory)
    finally:
        down = lab_command("down", "--dir", str(directory))
        if down.returncode != 0:  # pragma: no cover - shown in the session output
            sys.stderr.write(f"second lab down failed: {down.stdout}{down.stderr}\n")


@pytest.fixture
def fleet(tmp_path: Path, lab: LabHandle) -> Fleet:
    """A Fleet around the session's lab."""
    require_ansible()
    (tmp_path / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    return Fleet(root=tmp_path, lab=lab)


@pytest.fixture
def bare_fleet(tmp_path: Path) -> Fleet:
    """A Fleet without a lab: tests put a stand-in ghes-setup in `executable`."""
    require_ansible()
    (tmp_path / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    site = tmp_path / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    return Fleet(root=tmp_path, site=site)


# ---------------------------------------------------------------- a stand-in ghes-setup

STANDIN = r"""#!/usr/bin/env python3
import json, os, sys
record = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith("GHES_SETUP_")},
    "stdin_left": sys.stdin.read() if not sys.stdin.isatty() else "",
}
with open(os.environ["STANDIN_LOG"], "a") as fh:
    fh.write(json.dumps(record) + "\n")
code = int(os.environ.get("STANDIN_EXIT", "0"))
command = sys.argv[1]
if command == "snapshot" and code == 0:
    out = sys.argv[sys.argv.index("--out") + 1]
    with open(out, "w") as fh:
        json.dump({"schema_version": 1, "host": "ghe.example.com"}, fh)
status = {0: "pass", 1: "fail"}.get(code)
if status:
    run_id = os.environ.get("STANDIN_RUN_ID") or None
    dry = "--dry-run" in sys.argv
    changes = [{"setting": "subdomain_isolation", "sensitive": False, "old": "false",
                "new": "true"}] if os.environ.get("STANDIN_CHANGES") else []
    # STANDIN_PENDING: "due" (stored, not applied: a run would apply it) or "running".
    pending = {"summary": "1 setting stored but not applied", "run_id": "r-0", "step": None,
               "settings": ["subdomain_isolation"], "known": True,
               "running": os.environ["STANDIN_PENDING"] == "running", "snapshot": None,
               } if os.environ.get("STANDIN_PENDING") else None
    results = [{"id": "appliance-config-apply", "area": "appliance", "status": "pass",
                "summary": "applied" if run_id and not dry else "nothing to change",
                "details": {"run_id": None if dry else run_id, "dry_run": dry,
                            "plan": {"schema_version": 1, "changes": changes,
                                     "pending": pending}}},
               {"id": "registry-smoke", "area": "registry", "status": status,
                "summary": "pushed and pulled" if code == 0 else "isolation is off"}]
    print(json.dumps({"schema_version": 1, "command": command, "status": status,
                      "results": results}, indent=2))
else:
    print(f"ghes-setup: cannot reach ghe.example.com:122. Hint: check the address.",
          file=sys.stderr)
sys.exit(code)
"""

SECRETS = {
    "admin_password": "adm in$pass;word|1",
    "token": "ghp_standin_token_0123456789abcdef",
    "s3_access_key": "AKIASTANDIN0001",
    "s3_secret_key": "s3/secret+key=standin",
}


@pytest.fixture
def standin(bare_fleet: Fleet) -> Fleet:
    script = bare_fleet.root / "bin" / "ghes-setup"
    script.parent.mkdir()
    script.write_text(STANDIN, encoding="utf-8")
    script.chmod(0o755)
    bare_fleet.executable = script
    return bare_fleet


def runs(fleet: Fleet) -> list[dict[str, Any]]:
    log = fleet.root / "standin.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def play(fleet: Fleet, playbook: str, *args: str, **env: str) -> Any:
    return fleet.play(
        playbook, *args, extra_env={"STANDIN_LOG": str(fleet.root / "standin.jsonl"), **env}
    )
