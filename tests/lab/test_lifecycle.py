"""`ghes-setup lab up|status|env|down|fault` as commands, on a lab of their own (not the session
lab): idempotent start, restart of a dead part, clean stop (no process, no listening port)."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.config.site import load_site
from ghes_setup.lab import procs
from ghes_setup.lab.handle import LabHandle
from tests.fixtures.lab import free_lab_address, make_lab_dir, require_lab_prerequisites

pytestmark = pytest.mark.lab


def lab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ghes_setup", "lab", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _status(directory: Path) -> dict[str, Any]:
    import json

    proc = lab("status", "--dir", str(directory), "--format", "json")
    return dict(json.loads(proc.stdout))


def _pids(directory: Path) -> dict[str, int | None]:
    return {p["name"]: p["pid"] for p in _status(directory)["parts"]}


def _hex(address: str) -> str:
    return f"{struct.unpack('<I', socket.inet_aton(address))[0]:08X}"


def sockets_on(address: str) -> list[str]:
    """Listening TCP sockets and bound UDP sockets on `address`, from /proc/net."""
    found = []
    prefix = _hex(address) + ":"
    for table in ("tcp", "udp"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if local.startswith(prefix) and (table == "udp" or state == "0A"):
                found.append(f"{table} {address}:{int(local.split(':')[1], 16)}")
    return found


@pytest.fixture(scope="module")
def own_lab() -> Iterator[tuple[Path, str]]:
    require_lab_prerequisites()
    directory = make_lab_dir()
    address = free_lab_address()
    up = lab("up", "--dir", str(directory), "--address", address, "--apply-seconds", "0.2")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield directory, address
    finally:
        lab("down", "--dir", str(directory))


def test_up_prints_a_summary_and_writes_a_loadable_site_file(own_lab: tuple[Path, str]) -> None:
    directory, address = own_lab
    site = load_site(directory / "site.toml", environ={})
    assert site.hostname == "ghe.lab.test"
    assert site.connection.address == address
    assert site.connection.ssh_port == 122
    assert site.connection.nameservers == (f"{address}:53",)
    assert site.packages.enabled is True
    assert site.packages.storage == "minio"
    assert site.tls.cert is not None and site.tls.cert.exists()
    assert (site.tls.key is not None) and (site.tls.key.stat().st_mode & 0o077) == 0


def test_env_exports_what_the_tool_needs_shell_quoted(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    out = lab("env", "--dir", str(directory)).stdout
    shown = subprocess.run(
        ["bash", "-c", 'eval "$1"; env', "bash", out], capture_output=True, text=True, check=True
    ).stdout
    env = dict(line.split("=", 1) for line in shown.splitlines() if line.startswith("GHES_SETUP_"))
    assert env["GHES_SETUP_SITE"] == str(directory / "site.toml")
    assert env["GHES_SETUP_LAB_DIR"] == str(directory)
    for name in (
        "GHES_SETUP_ADMIN_PASSWORD",
        "GHES_SETUP_TOKEN",
        "GHES_SETUP_LAB_READ_TOKEN",
        "GHES_SETUP_S3_ACCESS_KEY",
        "GHES_SETUP_S3_SECRET_KEY",
        "GHES_SETUP_CONNECTION_NAMESERVERS",
        "GHES_SETUP_CONNECTION_CA_FILE",
    ):
        assert env[name]
    assert env["GHES_SETUP_TOKEN"] != env["GHES_SETUP_LAB_READ_TOKEN"]


def test_second_up_leaves_running_parts_alone(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    before = _pids(directory)
    again = lab("up", "--dir", str(directory))
    assert again.returncode == 0, again.stderr
    assert "started: -" in again.stdout
    assert _pids(directory) == before


def test_up_restarts_a_killed_part_and_only_that_one(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    before = _pids(directory)
    nginx = before["nginx"]
    assert nginx is not None
    workers = procs.descendants(nginx)
    assert workers
    os.kill(nginx, signal.SIGKILL)  # its workers live on, orphaned, holding the ports
    deadline = time.monotonic() + 5
    while procs.alive(nginx) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _status(directory)["healthy"] is False
    again = lab("up", "--dir", str(directory))
    assert again.returncode == 0, again.stderr
    assert "started: nginx;" in again.stdout
    after = _pids(directory)
    assert after["nginx"] not in (None, nginx)
    assert [w for w in workers if procs.alive(w)] == []  # the orphans were stopped
    _, address = own_lab
    new_nginx = {after["nginx"], *procs.descendants(int(after["nginx"] or 0))}
    assert procs.listeners(address, 443) <= new_nginx
    assert {k: v for k, v in after.items() if k != "nginx"} == {
        k: v for k, v in before.items() if k != "nginx"
    }
    assert _status(directory)["healthy"] is True


def test_up_restarts_a_killed_supervisor_and_settings_survive(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    handle = LabHandle.open(directory)
    handle.set_settings({"app.lab.survives": "yes"})
    labd = _pids(directory)["labd"]
    assert labd is not None
    os.kill(labd, signal.SIGKILL)
    again = lab("up", "--dir", str(directory))
    assert again.returncode == 0, again.stderr
    assert "started: labd;" in again.stdout
    assert _status(directory)["healthy"] is True
    assert handle.settings()["app.lab.survives"] == "yes"
    assert handle.apply().successful  # the new supervisor runs applies


def test_up_with_another_hostname_on_an_existing_lab_is_refused(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    proc = lab("up", "--dir", str(directory), "--hostname", "other.lab.test")
    assert proc.returncode == 3
    assert "lab down" in proc.stderr


def test_unknown_fault_is_a_usage_error(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    proc = lab("fault", "no-such-fault", "--dir", str(directory))
    assert proc.returncode == 3
    assert "ssh-drop" in proc.stderr


def test_status_without_a_lab_says_how_to_make_one(tmp_path: Path) -> None:
    proc = lab("status", "--dir", str(tmp_path / "none"))
    assert proc.returncode == 3
    assert "lab up" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_up_then_down_leaves_no_process_and_no_listening_port() -> None:
    require_lab_prerequisites()
    directory = make_lab_dir()
    address = free_lab_address()
    up = lab("up", "--dir", str(directory), "--address", address)
    assert up.returncode == 0, up.stdout + up.stderr
    pids = [pid for pid in _pids(directory).values() if pid]
    # Open an SSH session so that sshd has a per-connection child to stop too.
    with socket.create_connection((address, 122), timeout=5) as held:
        held.recv(64)
        children = [c for pid in pids for c in procs.descendants(pid)]
        assert sockets_on(address)
        down = lab("down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert not directory.exists()
    assert [pid for pid in pids + children if procs.alive(pid)] == []
    assert sockets_on(address) == []


def test_up_status_and_down_print_no_secret(own_lab: tuple[Path, str]) -> None:
    directory, _ = own_lab
    handle = LabHandle.open(directory)
    secrets = [handle.admin_password, handle.write_token, handle.read_token, handle.s3_secret_key]
    outputs = [
        lab("up", "--dir", str(directory)),
        lab("status", "--dir", str(directory)),
        lab("status", "--dir", str(directory), "--format", "json"),
        lab("fault", "api-503", "--dir", str(directory)),
        lab("fault", "clear", "--dir", str(directory)),
    ]
    for proc in outputs:
        text = proc.stdout + proc.stderr
        assert proc.returncode == 0, text
        assert not [s for s in secrets if s in text]
    assert (directory / "lab.json").stat().st_mode & 0o077 == 0
    assert (directory / "env").stat().st_mode & 0o077 == 0
