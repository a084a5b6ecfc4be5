"""playbooks/client-check.yml (role ghes_setup.fleet.client_check) against the lab.

The "runner" is this machine, an inventory host of group `runners` with `ansible_connection:
local`. ansible-playbook runs in a private mount namespace whose /etc/hosts names the lab
hosts (the lab handle's `with_hosts`), as a runner's resolver would; its trust store is this
machine's, which does not hold the lab CA. So:

- first run: client-tls-trust fails, the host fails, and its remedy is printed under it, with
  the recap naming the failing check;
- second run, with an inventory variable (`ghes_setup_client_env`) pointing `SSL_CERT_FILE` at
  a bundle of the distribution's store plus the lab CA (client check reads SSL_CERT_FILE as
  OpenSSL and Go do: docs/runbooks/clients.md), under --check: client-tls-trust passes and
  every check of the report is shown with its verdict, whatever it is here (client-docker's
  verdict is what the check says of this machine's docker CLI, asserted as reported);
- the token (from Ansible Vault) goes on standard input; it is in no output, even with -vvv;
- nothing is ever "changed".
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ghes_setup.lab.handle import LabHandle
from tests.fleet.conftest import (
    BIN,
    PLAYBOOKS,
    Fleet,
    PlayResult,
    assert_no_secret,
    recap,
)

pytestmark = pytest.mark.lab

RUNNER = "runner-1"
DISTRIBUTION_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def write_runner_inventory(
    fleet: Fleet,
    runners: dict[str, dict[str, Any]],
    token: str | None,
    executable: Path = BIN / "ghes-setup",
) -> None:
    """Group `runners`: these hosts on this machine (connection local), with their variables;
    the token, if any, in a vaulted group_vars file, as the runbook recommends."""
    fleet.appliances = {"runners": {"token": token} if token else {}}  # for assert_no_secret
    ansible_tmp = fleet.root / "ansible"
    for sub in ("home", "local", "remote", "cp"):
        (ansible_tmp / sub).mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "ansible_remote_tmp": str(ansible_tmp / "remote"),
        "ghes_setup_client_executable": str(executable),
    }
    hosts = {name: {**common, **values} for name, values in runners.items()}
    inventory = {"all": {"children": {"runners": {"hosts": hosts}}}}
    fleet.inventory.parent.mkdir(parents=True, exist_ok=True)
    fleet.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    fleet.write_vault_password()
    if not token:
        return
    group_vars = fleet.inventory.parent / "group_vars" / "runners"
    group_vars.mkdir(parents=True, exist_ok=True)
    (group_vars / "main.yml").write_text(
        "ghes_setup_client_token: '{{ vault_runner_token }}'\n", encoding="utf-8"
    )
    fleet.write_vault(group_vars / "vault.yml", {"vault_runner_token": token})


def lab_runner(fleet: Fleet, lab: LabHandle, env: dict[str, str]) -> None:
    runner: dict[str, Any] = {"ghes_setup_client_hostname": lab.hostname}
    if env:
        runner["ghes_setup_client_env"] = env
    write_runner_inventory(fleet, {RUNNER: runner}, lab.write_token)


def play_on_runner(fleet: Fleet, lab: LabHandle, *args: str) -> PlayResult:
    """client-check.yml with the lab hosts in this runner's /etc/hosts."""
    argv = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(fleet.inventory),
        str(PLAYBOOKS / "client-check.yml"),
        *args,
    ]
    proc = subprocess.run(
        lab.with_hosts(argv),
        env=fleet.env(),
        cwd=fleet.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=280,
    )
    (fleet.root / "play.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return PlayResult(proc.returncode, proc.stdout, proc.stderr)


VERDICT = re.compile(r'"(pass|warn|fail|error|skip) (client-[a-z-]+|registry-smoke): ')


def verdicts(result: PlayResult) -> dict[str, str]:
    """check id -> status, from the per-host lines the role prints ("STATUS ID: summary")."""
    found = {m.group(2): m.group(1) for m in VERDICT.finditer(result.stdout)}
    assert found, result
    return found


def remedy_after(result: PlayResult, check_id: str) -> str:
    """The first `remedy:` line printed right after the line of `check_id`."""
    lines = result.stdout.splitlines()
    for i, line in enumerate(lines):
        if f" {check_id}: " in line:
            follow = lines[i + 1] if i + 1 < len(lines) else ""
            assert "remedy: " in follow, result
            return follow.split("remedy: ", 1)[1]
    raise AssertionError(f"no line for {check_id}:\n{result.output}")


def docker_verdict(lab: LabHandle, env: dict[str, str]) -> str:
    """What client check itself says of client-docker on this machine, run directly."""
    proc = subprocess.run(
        lab.with_hosts(
            [str(BIN / "ghes-setup"), "client", "check", lab.hostname, "--format", "json"]
        ),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    doc = json.loads(proc.stdout)
    return str(next(r["status"] for r in doc["results"] if r["id"] == "client-docker"))


def test_a_runner_without_the_lab_ca_fails_client_tls_trust_with_its_remedy(
    registry_lab: LabHandle, fleet: Fleet
) -> None:
    lab_runner(fleet, registry_lab, env={})
    result = play_on_runner(fleet, registry_lab)
    assert result.returncode == 2, result  # a failed host
    counts = recap(result, RUNNER)
    assert counts["failed"] == 1 and counts["changed"] == 0, result
    found = verdicts(result)
    assert found["client-tls-trust"] == "fail", result
    remedy = remedy_after(result, "client-tls-trust")
    assert str(registry_lab.ca_file) in remedy or "ca-certificates" in remedy, remedy
    # The recap names the runner and its failing check; nobody can use the registry.
    assert re.search(
        rf"{RUNNER}: FAILED, exit 1, status fail: [^\"]*client-tls-trust", result.stdout
    )
    assert f"0 of 1 runners can use containers.{registry_lab.hostname}" in result.stdout
    assert "ghes-setup client check exited 1 on runner-1" in result.stdout
    assert_no_secret(result, fleet)


def test_with_the_lab_ca_in_ssl_cert_file_tls_trust_passes_under_check_and_vvv(
    registry_lab: LabHandle, fleet: Fleet
) -> None:
    bundle = fleet.root / "bundle-with-lab-ca.pem"
    bundle.write_text(
        DISTRIBUTION_BUNDLE.read_text(encoding="utf-8")
        + registry_lab.ca_file.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    # Where OpenSSL/Go, node and python requests look for a private CA (client-ca-paths).
    env = {
        name: str(bundle) for name in ("SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE")
    }
    lab_runner(fleet, registry_lab, env=env)
    result = play_on_runner(fleet, registry_lab, "--check", "-vvv")
    found = verdicts(result)
    assert found["client-tls-trust"] == "pass", result
    # The token went in on standard input and authenticated.
    assert found["client-token"] == "pass", result
    # /etc/hosts has no wildcard: every needed name resolves, a later subdomain would not.
    assert found["client-dns"] == "warn", result
    assert f"*.{registry_lab.hostname}" in remedy_after(result, "client-dns")
    for check_id in ("client-tls-trust", "client-ca-paths", "client-proxy", "client-token"):
        assert found[check_id] == "pass", (check_id, result)
    # client-docker: the role reports what the check itself says of this machine's docker CLI
    # (a warning without credentials for the registry here; a missing CLI is the check's call).
    direct_env = {**fleet.env(), **env, "GHES_SETUP_TOKEN": registry_lab.write_token}
    docker = docker_verdict(registry_lab, direct_env)
    assert found["client-docker"] == docker, result
    counts = recap(result, RUNNER)
    assert counts["changed"] == 0, result
    if docker in ("fail", "error"):  # only it can fail the runner here, with its remedy shown
        assert result.returncode == 2 and counts["failed"] == 1, result
        assert re.search(rf"{RUNNER}: FAILED, exit \d, status \w+: client-docker\"", result.stdout)
        assert remedy_after(result, "client-docker")
    else:
        assert result.returncode == 0 and counts["failed"] == 0, result
        assert re.search(rf"{RUNNER}: warn \(warnings: client-dns", result.stdout), result
        assert f"1 of 1 runners can use containers.{registry_lab.hostname}" in result.stdout
    assert_no_secret(result, fleet)
