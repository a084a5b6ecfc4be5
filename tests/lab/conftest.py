"""Helpers shared by the lab tests: a pinned-host-key SSH client into the lab's admin shell."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from ghes_setup.lab.handle import LabHandle


@dataclass
class Shell:
    client: paramiko.SSHClient

    def run(
        self, command: str, stdin: str | None = None, timeout: float = 60
    ) -> tuple[int, str, str]:
        # Keep stdin referenced: dropping it closes the channel's write side (lab-notes §4).
        stdin_file, out, err = self.client.exec_command(command, timeout=timeout)
        if stdin is not None:
            stdin_file.write(stdin)
        stdin_file.channel.shutdown_write()
        text_out = out.read().decode()
        text_err = err.read().decode()
        return out.channel.recv_exit_status(), text_out, text_err


def connect(lab: LabHandle, known_hosts: Path | None = None) -> paramiko.SSHClient:
    """paramiko with the pinned host key (RejectPolicy) and the lab's client key."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or lab.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    sock = socket.create_connection((lab.address, lab.ports.ssh), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.connect(
            lab.address,
            port=lab.ports.ssh,
            username="admin",
            key_filename=str(lab.identity),
            look_for_keys=False,
            allow_agent=False,
            sock=sock,
            timeout=10,
        )
    except Exception:
        sock.close()
        client.close()
        raise
    return client


@pytest.fixture
def shell(lab: LabHandle) -> Iterator[Shell]:
    client = connect(lab)
    try:
        yield Shell(client)
    finally:
        client.close()
