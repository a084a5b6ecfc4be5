"""Against the lab: the `--debug` trace of a whole `check --smoke` (HTTP, SSH, DNS) with
every lab secret absent in every encoded form, HTTPS_PROXY/NO_PROXY through a real proxy
(tinyproxy), and `init --from-appliance` (read-only, asks before pinning the host key)."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from ghes_setup.appliance.known_hosts import KnownHosts
from ghes_setup.config.site import load_site
from ghes_setup.lab.handle import LabHandle
from ghes_setup.secrets import encoded_forms
from tests.client.machine import lab_hosts, tinyproxy
from tests.e2e.conftest import lab_secrets

pytestmark = pytest.mark.lab


def _assert_no_secret_form(lab: LabHandle, text: str) -> None:
    for secret in lab_secrets(lab):
        value = secret.strip()
        if not value:
            continue
        forms = encoded_forms(value) if "\n" not in value else {value}
        for form in forms:
            assert form not in text, "a lab secret (or an encoding of it) is in the trace"


def test_debug_trace_of_check_shows_http_ssh_and_dns_without_secrets(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    log = tmp_path / "trace.log"
    result = run_tool(
        "check", "--smoke", "--format", "json",  # auto: the Manage API and SSH
        "--debug", "--log-file", str(log),
    )  # fmt: skip
    assert result.exit_code == 0, result
    text = log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    host = registry_lab.hostname
    assert f"http > GET https://{host}/api/v3/" in text or f"https://{host}/status" in text
    assert f"https://{registry_lab.registry_host}/v2/" in text  # the registry
    assert f"http > GET https://{host}:8443/manage/v1/" in text  # the Manage API
    assert "http < HTTP/1.1 200 OK" in text
    assert f"ssh  > {host}:" in text and "exec script read-settings" in text
    assert "dns  > A " in text and "dns  < A " in text
    assert "debug " in result.stderr  # --debug: also on standard error
    _assert_no_secret_form(registry_lab, text + result.stderr + result.stdout)


def test_manage_api_rest_and_registry_go_through_https_proxy_unless_no_proxy(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    with tinyproxy(tmp_path / "proxy", hosts=lab_hosts(registry_lab)) as proxy:
        env = {"HTTPS_PROXY": proxy, "NO_PROXY": "", "no_proxy": ""}
        through = run_tool("check", "--smoke", "--format", "json", env=env)
        log_path = tmp_path / "proxy" / "tinyproxy.log"
        log = log_path.read_text(encoding="utf-8", errors="replace")
        size = len(log)
        direct = run_tool(
            "check", "--smoke", "--format", "json",
            env={**env, "NO_PROXY": registry_lab.hostname},  # covers containers.HOSTNAME too
        )  # fmt: skip
        after = log_path.read_text(encoding="utf-8", errors="replace")[size:]
    assert through.exit_code == 0, [
        (r["id"], r["summary"])
        for r in through.json()["results"]
        if r["status"] not in ("pass", "skip")
    ]
    assert direct.exit_code == 0, direct
    # The proxy is asked for the names (it resolves them; the site's address pins only
    # direct connections, as curl's --resolve does).
    host = registry_lab.hostname
    assert f"CONNECT {host}:8443" in log  # the Manage API
    assert f"CONNECT {host}:443" in log  # the REST API and /status
    assert f"CONNECT {registry_lab.registry_host}:443" in log  # the registry
    assert "CONNECT" not in after, after
    assert registry_lab.write_token not in log


def test_a_dead_proxy_in_the_environment_makes_the_check_unreachable(
    registry_lab: LabHandle, run_tool
) -> None:
    from tests.ports import free_port

    dead = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    result = run_tool("check", "--transport", "api", "--format", "json", env={"HTTPS_PROXY": dead})
    assert result.exit_code != 0
    statuses = {r["id"]: r["status"] for r in result.json()["results"]}
    assert statuses["appliance-reachable"] in ("fail", "error"), statuses


def _connection_env(lab: LabHandle) -> dict[str, str]:
    site = load_site(lab.site_path, environ={})
    c = site.connection
    return {
        "GHES_SETUP_SITE": "",  # init reads no site file
        "GHES_SETUP_CONNECTION_ADDRESS": str(c.address),
        "GHES_SETUP_CONNECTION_SSH_PORT": str(c.ssh_port),
        "GHES_SETUP_CONNECTION_SSH_USER": c.ssh_user,
        "GHES_SETUP_CONNECTION_SSH_IDENTITY": str(c.ssh_identity),
        "GHES_SETUP_CONNECTION_API_PORT": str(c.api_port),
        "GHES_SETUP_CONNECTION_HTTPS_PORT": str(c.https_port),
    }


def test_init_from_appliance_is_read_only_and_pins_the_host_key_when_told(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    before, runs = registry_lab.settings(), registry_lab.apply_runs()
    out = tmp_path / "site.toml"
    empty_known = tmp_path / "known_hosts"
    env = _connection_env(registry_lab)
    args = ["init", registry_lab.hostname, "--out", str(out), "--from-appliance",
            "--known-hosts", str(empty_known)]  # fmt: skip

    refused = run_tool(*args, "--yes", env=env)  # --yes alone never pins
    assert refused.exit_code == 4, refused
    assert "--accept-new-host-key" in refused.stderr
    assert not out.exists()

    no_tty = run_tool(*args, env=env)  # no terminal to ask on
    assert no_tty.exit_code == 4, no_tty
    assert not out.exists()

    old = os.umask(0)
    try:
        done = run_tool(*args, "--yes", "--accept-new-host-key", env=env)
    finally:
        os.umask(old)
    assert done.exit_code == 0, done
    assert "SHA256:" in done.stderr  # the fingerprint was shown
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not empty_known.exists() or not empty_known.read_text().strip()  # not written

    raw = tomllib.loads(out.read_text())
    lab_keys = {e.key.fingerprint for e in KnownHosts.load(registry_lab.known_hosts).entries}
    assert raw["connection"]["host_key"] in lab_keys
    assert raw["ghes_version"] == ".".join(registry_lab.config.ghes_version.split(".")[:2])
    assert raw["subdomain_isolation"] is True
    assert raw["packages"]["enabled"] is True
    assert raw["packages"]["storage"] == "minio"
    assert raw["packages"]["bucket"] == registry_lab.config.bucket
    assert raw["packages"]["service_url"] == registry_lab.config.service_url
    assert "# The appliance: TLS enabled" in out.read_text()
    _assert_no_secret_form(registry_lab, out.read_text() + done.output)

    site = load_site(out, environ={})
    assert site.hostname == registry_lab.hostname
    # The written file reaches the appliance on its own (the pin, not known_hosts).
    show = run_tool("config", "show", "--site", str(out), "--transport", "ssh",
                    "--format", "json", env={"GHES_SETUP_SITE": ""})  # fmt: skip
    assert show.exit_code == 0, show

    again = run_tool(*args, "--yes", "--accept-new-host-key", env=env)
    assert again.exit_code == 3 and "--force" in again.stderr  # never overwrites
    assert registry_lab.settings() == before
    assert registry_lab.apply_runs() == runs


@pytest.mark.parametrize("answer", ["y", "n"])
def test_init_asks_on_a_terminal_before_pinning(
    registry_lab: LabHandle, tmp_path: Path, answer: str
) -> None:
    import pty
    import subprocess
    import sys

    out = tmp_path / "site.toml"
    env = {**os.environ, **registry_lab.env, **_connection_env(registry_lab)}
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ghes_setup", "init", registry_lab.hostname, "--out", str(out),
             "--from-appliance", "--known-hosts", str(tmp_path / "known_hosts")],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        os.write(master, f"{answer}\n".encode())
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        os.close(master)
        os.close(slave)
    assert "SHA256:" in stderr and "Pin SHA256:" in stderr, stderr
    if answer == "y":
        assert proc.returncode == 0, stderr
        assert "host_key = " in out.read_text()
        assert f"Wrote {out}" in stdout  # (click echoes a blank after the answer)
    else:
        assert proc.returncode == 4, stderr
        assert not out.exists()
