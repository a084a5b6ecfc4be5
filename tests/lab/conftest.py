"""Helpers shared by the lab tests: real clients (paramiko with a pinned host key, httpx with
the lab CA and lab names mapped to the lab address) and small waits."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paramiko
import pytest

from ghes_setup.lab.handle import LabHandle


@dataclass
class Shell:
    client: paramiko.SSHClient

    def run(
        self, command: str, stdin: str | None = None, timeout: float = 60
    ) -> tuple[int, str, str]:
        # Keep stdin referenced: dropping it closes the channel's write side
        # (docs/reference/lab-findings.md §4).
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


class MappedTransport(httpx.HTTPTransport):
    """Connects lab names to the lab address; URL, Host, SNI and the certificate check keep the
    name (docs/reference/lab-findings.md §2 B). A test helper: the lab tests must not depend on the
    tool's client."""

    def __init__(self, hostname: str, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hostname = hostname
        self.address = address

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == self.hostname or host.endswith("." + self.hostname):
            request.extensions = {**request.extensions, "sni_hostname": host}
            request.url = request.url.copy_with(host=self.address)
        return super().handle_request(request)


def http_client(lab: LabHandle, **kwargs: Any) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    transport = MappedTransport(lab.hostname, lab.address, verify=ctx)
    return httpx.Client(transport=transport, timeout=30, **kwargs)


@pytest.fixture
def manage(lab: LabHandle) -> Iterator[httpx.Client]:
    """httpx on the Manage API with the admin password (Basic api_key:PASSWORD)."""
    base = f"https://{lab.hostname}:{lab.ports.api}/manage/v1"
    with http_client(lab, base_url=base, auth=("api_key", lab.admin_password)) as client:
        yield client


def wait_for_run(client: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get("/config/apply", params={"run_id": run_id}).json()
        if not status["running"]:
            return dict(status)
        if time.monotonic() > deadline:
            raise AssertionError(f"config run {run_id} still running after {timeout} s")
        time.sleep(0.05)


def oci_layout(root: Path, payload: bytes | None = None) -> str:
    """Write a one-layer OCI image layout (tag `latest`) under `root`; return its manifest
    digest. The layer holds `payload` (random by default, so that no blob cache skips it)."""
    import gzip
    import hashlib
    import io
    import json
    import os
    import tarfile

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def blob(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)

    content = payload if payload is not None else os.urandom(4096)
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w") as tar:
        info = tarfile.TarInfo("lab/payload.bin")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    raw = tar_buf.getvalue()
    layer, layer_size = blob(gzip.compress(raw, mtime=0))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "config": {},
    }
    config_digest, config_size = blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer,
                "size": layer_size,
            }
        ],
    }
    digest, size = blob(json.dumps(manifest).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    return digest
