"""The lab's storage servers as daemons: moto's S3 server and Azurite, run like the lab's other
daemons (PID under DIR/run, bound to the lab's address, ports checked free), with IAM
authentication on, emptied by `lab reset`, and steered by the storage faults."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ghes_setup.lab import procs
from ghes_setup.lab.handle import LabHandle
from tests.fixtures.lab import free_lab_address, make_lab_dir, require_lab_prerequisites
from tests.storage_clients import azure_blobs, s3_client, s3_keys

pytestmark = pytest.mark.lab


def _pid(lab: LabHandle, part: str) -> int:
    text = (lab.layout.run / f"{part}.pid").read_text(encoding="ascii").strip()
    return int(text)


def _put_azure(lab: LabHandle, name: str) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(lab.azure_connection_string)
    try:
        service.get_blob_client(lab.azure_container, name).upload_blob(b"x", overwrite=True)
    finally:
        service.close()


@pytest.mark.parametrize(("part", "port"), [("s3", 9000), ("azure", 10000)])
def test_storage_servers_run_under_the_labs_pid_files_on_its_address_only(
    lab: LabHandle, part: str, port: int
) -> None:
    pid = _pid(lab, part)
    assert procs.alive(pid)
    assert procs.listeners(lab.address, port) == {pid}
    assert procs.listeners("0.0.0.0", port) & {pid} == set()  # not on every address
    status = lab.status()
    found = next(p for p in status["parts"] if p["name"] == part)  # type: ignore[attr-defined]
    assert found["running"] and found["answering"] and found["pid"] == pid


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [
        ("LABNOSUCHKEY00000000", None, "InvalidAccessKeyId"),
        (None, "not-the-secret", "SignatureDoesNotMatch"),
    ],
)
def test_the_s3_server_checks_credentials_and_signatures(
    fresh_lab: LabHandle, key: str | None, secret: str | None, code: str
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    url = f"{fresh_lab.service_url}/{fresh_lab.bucket}?list-type=2"
    context = ssl.create_default_context(cafile=str(fresh_lab.ca_file))
    with pytest.raises(urllib.error.HTTPError):  # unsigned: refused (moto answers 500)
        urllib.request.urlopen(url, timeout=10, context=context)  # noqa: S310 - the lab
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=fresh_lab.service_url,
        verify=str(fresh_lab.ca_file),
        region_name="us-east-1",
        aws_access_key_id=key or fresh_lab.s3_access_key,
        aws_secret_access_key=secret or fresh_lab.s3_secret_key,
    )
    with pytest.raises(ClientError) as refused:
        client.list_objects_v2(Bucket=fresh_lab.bucket)
    client.close()
    assert refused.value.response["Error"]["Code"] == code
    assert s3_keys(fresh_lab) == []  # the lab's own keys list the (empty) bucket


def test_reset_empties_both_storage_servers_and_keeps_bucket_and_container(
    lab: LabHandle,
) -> None:
    client = s3_client(lab)
    client.put_object(Bucket=lab.bucket, Key="left/over.txt", Body=b"x")
    client.create_bucket(Bucket="another-bucket")
    client.close()
    _put_azure(lab, "left/over.txt")
    lab.reset()
    assert s3_keys(lab) == []
    listed = s3_client(lab)
    assert [b["Name"] for b in listed.list_buckets()["Buckets"]] == [lab.bucket]
    listed.close()
    assert azure_blobs(lab) == []


def test_storage_down_refuses_connections_and_keeps_the_objects(fresh_lab: LabHandle) -> None:
    lab = fresh_lab
    client = s3_client(lab)
    client.put_object(Bucket=lab.bucket, Key="kept.txt", Body=b"kept")
    client.close()
    s3_pid = _pid(lab, "s3")
    try:
        lab.fault("storage-down")
        for port in (9000, 10000):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((lab.address, port), timeout=2).close()
        assert procs.alive(s3_pid)  # moto only closed its socket: the objects are in memory
    finally:
        lab.clear_faults()
    assert s3_keys(lab) == ["kept.txt"]
    assert _pid(lab, "s3") == s3_pid


def test_a_restarted_s3_server_accepts_the_same_keys(fresh_lab: LabHandle) -> None:
    lab = fresh_lab
    old = _pid(lab, "s3")
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while procs.alive(old) and time.monotonic() < deadline:
        time.sleep(0.01)
    again = lab.cli("up")
    assert "s3" in again.stdout.split("started:")[1].split(";")[0]
    assert _pid(lab, "s3") != old
    assert s3_keys(lab) == []  # seeded again: the lab's bucket, the lab's keys


def test_up_refuses_when_a_storage_port_is_taken() -> None:
    require_lab_prerequisites()
    directory = make_lab_dir()
    address = free_lab_address()
    with socket.socket() as squatter:
        squatter.bind((address, 10000))
        squatter.listen()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ghes_setup",
                "lab",
                "up",
                "--dir",
                str(directory),
                "--address",
                address,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert proc.returncode != 0
    assert f"{address}:10000 (Azure storage)" in proc.stderr
    assert not Path(directory / "lab.json").exists()
    subprocess.run(
        [sys.executable, "-m", "ghes_setup", "lab", "down", "--dir", str(directory)],
        capture_output=True,
        check=False,
        timeout=60,
    )
