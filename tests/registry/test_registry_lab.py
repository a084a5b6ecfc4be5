"""`registry smoke` and the OCI client against the lab: nginx front door (TLS, SNI), CNCF
distribution with token auth, the lab's token service and REST API; skopeo as the referee.

Every test goes through the front door at containers.HOSTNAME with the lab's PATs, the way a
site admin's run would. Marker `lab`: the `registry_lab` fixture fails (never skips) when a
server binary is missing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from ghes_setup import exit_codes
from ghes_setup.checks import Status
from ghes_setup.net import ResolveOverrides, SystemResolver
from ghes_setup.progress import RecordingProgress
from ghes_setup.registry.client import Credentials, RegistryClient
from ghes_setup.registry.errors import InsufficientScope, RegistryHTTPError
from ghes_setup.registry.image import LayerInspector, build_image, check_config, write_oci_layout
from ghes_setup.registry.oci import BytesBlob, parse_manifest
from ghes_setup.registry.smoke import SmokeRequest, run_smoke
from ghes_setup.registry.transport import make_registry_http
from ghes_setup.secrets import Secret
from tests.conftest import CliResult, CliRunner, assert_no_traceback
from tests.fixtures.lab import LabHandle
from tests.storage_clients import s3_client

pytestmark = pytest.mark.lab

SKOPEO_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")


def _port_suffix(lab: LabHandle) -> str:
    return "" if lab.ports.https == 443 else f":{lab.ports.https}"


def registry(lab: LabHandle) -> str:
    return f"{lab.registry_host}{_port_suffix(lab)}"


@contextlib.contextmanager
def client(lab: LabHandle, token: str | None = None) -> Iterator[RegistryClient]:
    pins = [f"{lab.hostname}:{lab.address}", f".{lab.hostname}:{lab.address}"]
    with make_registry_http(
        resolver=SystemResolver(ResolveOverrides.parse(pins)), ca_file=lab.ca_file
    ) as http:
        yield RegistryClient(
            http,
            registry(lab),
            credentials=Credentials(lab.user, Secret(token or lab.write_token)),
        )


def smoke(
    cli: CliRunner, lab: LabHandle, *args: str, env: dict[str, str] | None = None
) -> CliResult:
    result = cli("registry", "smoke", "--format", "json", *args, env={**lab.env, **(env or {})})
    assert_no_traceback(result)
    for secret in (lab.write_token, lab.read_token):
        assert secret not in result.output
    return result


def only_result(result: CliResult) -> dict:  # type: ignore[type-arg]
    [check] = result.json()["results"]
    assert check["id"] == "registry-smoke"
    return check  # type: ignore[no-any-return]


def skopeo(lab: LabHandle, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """skopeo inside a mount namespace whose /etc/hosts names the lab; credentials in an
    auth file (never on the command line), the lab CA in --cert-dir."""
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is missing: apt-get install skopeo", pytrace=False)
    auth = tmp_path / "auth.json"
    pair = base64.b64encode(f"{lab.user}:{lab.write_token}".encode()).decode()
    auth.write_text(json.dumps({"auths": {registry(lab): {"auth": pair}}}))
    auth.chmod(0o600)
    SKOPEO_CACHE.unlink(missing_ok=True)  # it would skip uploads it remembers
    env = {**os.environ, "HOME": str(tmp_path), "REGISTRY_AUTH_FILE": str(auth)}
    return lab.run_with_hosts(["skopeo", *args], env=env)


# --------------------------------------------------------------------------- the full run


@pytest.mark.parametrize("manifest_format", ["oci", "docker"])
def test_smoke_passes_through_the_front_door_and_cleans_up(
    cli: CliRunner, registry_lab: LabHandle, manifest_format: str
) -> None:
    lab = registry_lab
    result = smoke(cli, lab, "--size", "4MiB", "--manifest-format", manifest_format)
    assert result.exit_code == 0, result
    check = only_result(result)
    assert check["status"] == "pass"
    details = check["details"]
    tag = details["tag"]
    assert details["reference"] == f"{registry(lab)}/{lab.namespace}/ghes-setup-smoke:{tag}"
    assert details["manifest_digest"].startswith("sha256:")
    assert details["token_realm"].startswith(f"https://{lab.registry_host}")
    assert [s["step"] for s in details["steps"] if s["status"] == "pass"] == [
        "ping", "auth", "push blobs", "push manifest", "pull by tag", "pull by digest",
        "verify", "cleanup",
    ]  # fmt: skip
    assert details["cleanup"]["deleted"] is True
    assert check["metrics"]["push_bytes_per_second"] > 0
    assert check["metrics"]["pull_bytes_per_second"] > 0
    # Cleanup really removed it: the registry no longer knows the tag.
    assert tag not in _tags(lab, f"{lab.namespace}/ghes-setup-smoke")


def _tags(lab: LabHandle, repository: str) -> list[str]:
    with client(lab) as ours:
        try:
            return ours.list_tags(repository)
        except RegistryHTTPError as exc:  # an empty repository is NAME_UNKNOWN in distribution
            if "NAME_UNKNOWN" in exc.codes:
                return []
            raise


def test_chunked_upload_through_nginx_passes(cli: CliRunner, registry_lab: LabHandle) -> None:
    result = smoke(cli, registry_lab, "--size", "3MiB", "--chunk-size", "1MiB")
    assert result.exit_code == 0, result
    assert only_result(result)["details"]["uploads_restarted"] == 0


def test_human_and_nagios_formats(cli: CliRunner, registry_lab: LabHandle) -> None:
    env = registry_lab.env
    human = cli("registry", "smoke", env=env)
    assert human.exit_code == 0, human
    assert "registry-smoke" in human.stdout and "pass" in human.stdout
    nagios = cli("registry", "smoke", "--format", "nagios", env=env)
    assert nagios.exit_code == 0, nagios
    assert nagios.stdout.startswith("GHES-SETUP OK")
    assert "push_bytes_per_second" in nagios.stdout


# --------------------------------------------------------------------------- skopeo as referee


def test_skopeo_reads_exactly_what_we_pushed(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path
) -> None:
    lab = registry_lab
    result = smoke(cli, lab, "--keep", "--size", "1MiB")
    assert result.exit_code == 0, result
    details = only_result(result)["details"]
    reference, digest = details["reference"], details["manifest_digest"]
    try:
        raw = skopeo(lab, tmp_path, "inspect", "--raw", "--cert-dir", str(lab.cert_dir),
                     f"docker://{reference}")  # fmt: skip
        assert raw.returncode == 0, raw.stderr
        assert "sha256:" + hashlib.sha256(raw.stdout.encode()).hexdigest() == digest
        # A full copy: skopeo checks every blob's digest on the way.
        layout = tmp_path / "pulled"
        layout.mkdir()
        copy = skopeo(lab, tmp_path, "copy", "--src-cert-dir", str(lab.cert_dir),
                      f"docker://{reference}", f"oci:{layout}:smoke")  # fmt: skip
        assert copy.returncode == 0, copy.stderr
        index = json.loads((layout / "index.json").read_text())
        assert index["manifests"][0]["digest"] == digest
    finally:
        with client(lab) as ours:
            ours.delete_manifest(details["repository"], digest)


def test_we_pull_and_verify_what_skopeo_pushed(registry_lab: LabHandle, tmp_path: Path) -> None:
    lab = registry_lab
    repository = f"{lab.namespace}/skopeo-pushed"
    with build_image("skopeo-run", size=2 * 1024 * 1024, workdir=tmp_path) as image:
        write_oci_layout(image, tmp_path / "layout", "v1")
        expected = image.manifest_digest
    push = skopeo(lab, tmp_path, "copy", "--preserve-digests", "--dest-cert-dir",
                  str(lab.cert_dir), f"oci:{tmp_path / 'layout'}:v1",
                  f"docker://{registry(lab)}/{repository}:v1")  # fmt: skip
    assert push.returncode == 0, push.stderr
    with client(lab) as ours:
        _verify_pull(ours, repository, expected)


def _verify_pull(ours: RegistryClient, repository: str, expected: str) -> None:
    try:
        by_tag = ours.get_manifest(repository, "v1")
        assert by_tag.digest == expected
        manifest = parse_manifest(by_tag.body, by_tag.media_type)
        diff_ids = []
        for layer in manifest.layers:
            inspector = LayerInspector()
            ours.pull_blob(repository, layer, inspector)
            diff_id = inspector.finish()
            assert diff_id is not None, inspector.error
            diff_ids.append(diff_id)
        config = bytearray()
        ours.pull_blob(repository, manifest.config, config.extend)
        assert check_config(bytes(config), diff_ids) is None
    finally:
        ours.delete_manifest(repository, expected)


# --------------------------------------------------------------------------- failures


def test_read_only_token_fails_at_push_naming_the_scope(
    cli: CliRunner, registry_lab: LabHandle
) -> None:
    result = smoke(cli, registry_lab, env={"GHES_SETUP_TOKEN": registry_lab.read_token})
    assert result.exit_code == 1, result
    check = only_result(result)
    assert check["status"] == "fail"
    assert "lacks the write:packages scope" in check["summary"]
    assert "/settings/tokens/new?scopes=write:packages" in check["remedy"]
    steps = {s["step"]: s["status"] for s in check["details"]["steps"]}
    assert steps["auth"] == "pass" and steps["push blobs"] == "fail"


def test_read_only_token_is_refused_by_the_registry_itself(registry_lab: LabHandle) -> None:
    # Without our scope pre-check, the registry's token service grants pull only and the
    # upload is refused after one retry with the wider scope.
    with (
        client(registry_lab, registry_lab.read_token) as reader,
        pytest.raises(InsufficientScope) as info,
    ):
        reader.push_blob(f"{registry_lab.namespace}/denied", BytesBlob(os.urandom(64), "x/y"))
    assert "push" in info.value.scope


def test_wrong_token_exits_4(cli: CliRunner, registry_lab: LabHandle) -> None:
    result = cli(
        "registry", "smoke", env={**registry_lab.env, "GHES_SETUP_TOKEN": "ghp_" + "x" * 36}
    )
    assert result.exit_code == 4, result
    assert "401" in result.stderr and "classic personal access token" in result.stderr
    assert "ghp_xxxx" not in result.output
    assert_no_traceback(result)


def test_unreachable_registry_exits_4(cli: CliRunner, registry_lab: LabHandle) -> None:
    # Port 9 on the lab address: nothing listens there.
    result = cli(
        "registry", "smoke", env={**registry_lab.env, "GHES_SETUP_CONNECTION_HTTPS_PORT": "9"}
    )
    assert result.exit_code == 4, result
    assert "containers." in result.stderr or "api/v3" in result.stderr
    assert_no_traceback(result)


def test_registry_503_mid_upload_is_retried(cli: CliRunner, registry_lab: LabHandle) -> None:
    lab = registry_lab
    lab.fault("registry-503")
    result = smoke(cli, lab, "--size", "2MiB")
    assert result.exit_code == 0, result
    details = only_result(result)["details"]
    assert details["retries"] >= 1
    assert any("503" in event for event in details["events"])
    assert lab.fired_faults(), "the fault never fired: the test proved nothing"


def test_registry_503_mid_chunk_resumes_or_restarts(
    cli: CliRunner, registry_lab: LabHandle
) -> None:
    lab = registry_lab
    lab.fault("registry-503")
    result = smoke(cli, lab, "--size", "3MiB", "--chunk-size", "1MiB")
    assert result.exit_code == 0, result
    details = only_result(result)["details"]
    assert details["uploads_resumed"] + details["uploads_restarted"] >= 1
    assert lab.fired_faults()


def test_registry_503_on_every_try_fails_cleanly(cli: CliRunner, registry_lab: LabHandle) -> None:
    lab = registry_lab
    lab.fault("registry-503", count=50)
    try:
        result = smoke(cli, lab, "--size", "1MiB")
    finally:
        lab.clear_faults()
    assert result.exit_code == 1, result
    check = only_result(result)
    assert check["status"] == "fail"
    assert "failed after 4 attempt(s)" in check["summary"] and "503" in check["summary"]


def test_blob_corrupted_in_storage_is_a_digest_mismatch(
    registry_lab: LabHandle, tmp_path: Path
) -> None:
    lab = registry_lab

    started = time.time_ns()

    class CorruptStoredBlobs(RecordingProgress):
        """Once everything is pushed, overwrite the random layer's data in the storage."""

        corrupted: ClassVar[list[str]] = []

        def stage(self, name: str, detail: str = "") -> None:
            super().stage(name, detail)
            if name == "pull by tag":
                # The registry keeps its blobs in the lab's S3 server (Packages uses MinIO).
                client = s3_client(lab)
                listed = client.list_objects_v2(
                    Bucket=lab.bucket, Prefix="docker/registry/v2/blobs/sha256/"
                )["Contents"]
                ours = [
                    o
                    for o in listed
                    if o["Key"].endswith("/data")
                    and o["LastModified"].timestamp() * 1e9 >= started - 1e9  # whole seconds
                ]
                biggest = max(ours, key=lambda o: o["Size"])  # the random layer
                client.put_object(  # same size, other bytes
                    Bucket=lab.bucket, Key=biggest["Key"], Body=os.urandom(biggest["Size"])
                )
                client.close()
                self.corrupted.append("sha256:" + biggest["Key"].split("/")[-2])

    progress = CorruptStoredBlobs()
    pins = [f"{lab.hostname}:{lab.address}", f".{lab.hostname}:{lab.address}"]
    request = SmokeRequest(
        hostname=lab.hostname,
        token=Secret(lab.write_token),
        user=lab.user,
        namespace=lab.namespace,
        size=256 * 1024,
        https_port=lab.ports.https,
        ca_file=lab.ca_file,
        resolver=SystemResolver(ResolveOverrides.parse(pins)),
        workdir=tmp_path,
    )
    result = run_smoke(request, progress)
    assert result.status is Status.FAIL, result.summary
    assert exit_codes.for_status(result.status) == 1
    [corrupted] = progress.corrupted
    assert corrupted in result.summary and "does not match its digest" in result.summary
    steps = {s["step"]: s["status"] for s in result.details["steps"]}
    assert steps["pull by digest"] == "fail"
    assert result.details["cleanup"]["deleted"] is True
