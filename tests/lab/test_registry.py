"""The lab's container registry behind containers.HOSTNAME: skopeo (a real client, resolving the
lab names through a bind-mounted hosts file) and httpx against the token service and REST API."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import httpx
import jwt
import pytest

from ghes_setup.lab.handle import LabHandle
from tests.lab.conftest import http_client, oci_layout

pytestmark = pytest.mark.lab


def skopeo(lab: LabHandle, home: Path, *args: str) -> tuple[int, str]:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = lab.run_with_hosts(["skopeo", *args], env=env, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _ref(lab: LabHandle, image: str) -> str:
    return f"docker://{lab.registry_host}/{lab.namespace}/{image}"


def test_skopeo_pushes_and_pulls_through_the_front_door_with_the_write_pat(
    registry_lab: LabHandle, tmp_path: Path
) -> None:
    lab = registry_lab
    digest = oci_layout(tmp_path / "src")
    image = f"smoke-{secrets.token_hex(3)}"
    creds = f"{lab.user}:{lab.write_token}"
    code, out = skopeo(
        lab, tmp_path, "copy", "--dest-cert-dir", str(lab.cert_dir), "--dest-creds", creds,
        f"oci:{tmp_path / 'src'}:latest", f"{_ref(lab, image)}:v1",
    )  # fmt: skip
    assert code == 0, out
    code, out = skopeo(
        lab, tmp_path, "inspect", "--raw", "--cert-dir", str(lab.cert_dir), "--creds", creds,
        f"{_ref(lab, image)}:v1",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["layers"]
    code, out = skopeo(
        lab, tmp_path, "copy", "--src-cert-dir", str(lab.cert_dir), "--src-creds", creds,
        f"{_ref(lab, image)}@{digest}", f"oci:{tmp_path / 'pulled'}:latest",
    )  # fmt: skip
    assert code == 0, out
    pulled = json.loads((tmp_path / "pulled" / "index.json").read_text())
    assert pulled["manifests"][0]["digest"] == digest


def test_skopeo_push_with_the_read_only_pat_is_refused(
    registry_lab: LabHandle, tmp_path: Path
) -> None:
    lab = registry_lab
    oci_layout(tmp_path / "src")
    code, out = skopeo(
        lab, tmp_path, "copy", "--dest-cert-dir", str(lab.cert_dir),
        "--dest-creds", f"{lab.user}:{lab.read_token}",
        f"oci:{tmp_path / 'src'}:latest", f"{_ref(lab, 'read-only-' + secrets.token_hex(3))}:v1",
    )  # fmt: skip
    assert code != 0
    assert "denied" in out or "unauthorized" in out


def _token(lab: LabHandle, scope: str, auth: tuple[str, str] | None) -> httpx.Response:
    with http_client(lab) as client:
        return client.get(
            f"https://{lab.registry_host}/token",
            params={"service": lab.registry_host, "scope": scope},
            auth=auth,
        )


def _access(resp: httpx.Response) -> list[dict[str, object]]:
    token = resp.json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    return list(claims["access"])


def test_token_service_grants_by_pat_scope_and_namespace(registry_lab: LabHandle) -> None:
    lab = registry_lab
    repo = f"{lab.namespace}/img"
    scope = f"repository:{repo}:pull,push,delete"
    write = _access(_token(lab, scope, (lab.user, lab.write_token)))
    read = _access(_token(lab, scope, (lab.user, lab.read_token)))
    anonymous = _access(_token(lab, scope, None))
    other_org = _access(
        _token(lab, "repository:someone-else/img:pull", (lab.user, lab.write_token))
    )
    assert write == [{"type": "repository", "name": repo, "actions": ["delete", "pull", "push"]}]
    assert read == [{"type": "repository", "name": repo, "actions": ["pull"]}]
    assert anonymous == [{"type": "repository", "name": repo, "actions": []}]
    assert other_org[0]["actions"] == []


def test_token_service_refuses_a_bad_pat_with_401(registry_lab: LabHandle) -> None:
    resp = _token(registry_lab, "repository:x/y:pull", (registry_lab.user, "ghp_" + "x" * 36))
    assert resp.status_code == 401


def test_token_header_names_the_signing_key_the_registry_trusts(registry_lab: LabHandle) -> None:
    resp = _token(
        registry_lab,
        f"repository:{registry_lab.namespace}/a:pull",
        (registry_lab.user, registry_lab.read_token),
    )
    header = jwt.get_unverified_header(resp.json()["token"])
    assert header["alg"] == "RS256"
    assert len(header["kid"].split(":")) == 12
    claims = jwt.decode(resp.json()["token"], options={"verify_signature": False})
    assert claims["aud"] == registry_lab.registry_host  # a string, never a list


def test_rest_user_reports_the_scopes_of_the_pat_used(lab: LabHandle) -> None:
    with http_client(lab) as client:
        url = f"https://{lab.hostname}/api/v3/user"
        write = client.get(url, headers={"Authorization": f"token {lab.write_token}"})
        read = client.get(url, headers={"Authorization": f"Bearer {lab.read_token}"})
        basic = client.get(url, auth=(lab.user, lab.read_token))
        bad = client.get(url, headers={"Authorization": "token ghp_nope"})
    assert write.json()["login"] == lab.user
    assert set(write.headers["x-oauth-scopes"].split(", ")) == {
        "read:packages",
        "write:packages",
        "delete:packages",
    }
    assert read.headers["x-oauth-scopes"] == "read:packages"
    assert basic.status_code == 200
    assert basic.headers["x-oauth-scopes"] == "read:packages"
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
    assert write.headers["x-github-enterprise-version"] == f"enterprise-server@{lab.ghes_version}"


def test_rest_lists_and_deletes_a_package_version_through_the_registry(
    registry_lab: LabHandle, tmp_path: Path
) -> None:
    lab = registry_lab
    digest = oci_layout(tmp_path / "src")
    image = f"cleanup-{secrets.token_hex(3)}"
    code, out = skopeo(
        lab, tmp_path, "copy", "--dest-cert-dir", str(lab.cert_dir),
        "--dest-creds", f"{lab.user}:{lab.write_token}",
        f"oci:{tmp_path / 'src'}:latest", f"{_ref(lab, image)}:t1",
    )  # fmt: skip
    assert code == 0, out
    base = f"https://{lab.hostname}/api/v3/orgs/{lab.namespace}/packages/container/{image}/versions"
    with http_client(lab) as client:
        read = {"Authorization": f"token {lab.read_token}"}
        write = {"Authorization": f"token {lab.write_token}"}
        versions = client.get(base, headers=read).json()
        assert [(v["name"], v["metadata"]["container"]["tags"]) for v in versions] == [
            (digest, ["t1"])
        ]
        version_id = versions[0]["id"]
        refused = client.delete(f"{base}/{version_id}", headers=read)
        assert refused.status_code == 403
        deleted = client.delete(f"{base}/{version_id}", headers=write)
        assert deleted.status_code == 204
        assert client.get(base, headers=read).json() == []
    code, out = skopeo(
        lab, tmp_path, "inspect", "--raw", "--cert-dir", str(lab.cert_dir),
        "--creds", f"{lab.user}:{lab.read_token}", f"{_ref(lab, image)}@{digest}",
    )  # fmt: skip
    assert code != 0  # the manifest is gone from the registry


def test_registry_503_fault_breaks_one_upload_then_uploads_work(
    registry_lab: LabHandle, tmp_path: Path
) -> None:
    lab = registry_lab
    oci_layout(tmp_path / "src", os.urandom(512 * 1024))
    creds = f"{lab.user}:{lab.write_token}"
    target = f"{_ref(lab, 'fault-' + secrets.token_hex(3))}:v1"
    lab.fault("registry-503")
    code, out = skopeo(
        lab, tmp_path, "copy", "--retry-times", "0", "--dest-cert-dir", str(lab.cert_dir),
        "--dest-creds", creds, f"oci:{tmp_path / 'src'}:latest", target,
    )  # fmt: skip
    assert code != 0
    assert "503" in out or "Service Unavailable" in out or "unavailable" in out.lower(), out
    assert any(" registry-503 " in line for line in lab.fired_faults())
    assert "registry-503" not in lab.active_faults()
    code, out = skopeo(
        lab, tmp_path, "copy", "--dest-cert-dir", str(lab.cert_dir), "--dest-creds", creds,
        f"oci:{tmp_path / 'src'}:latest", target,
    )  # fmt: skip
    assert code == 0, out


def test_anonymous_pull_is_denied(registry_lab: LabHandle) -> None:
    with http_client(registry_lab) as client:
        token = client.get(
            f"https://{registry_lab.registry_host}/token",
            params={
                "service": registry_lab.registry_host,
                "scope": f"repository:{registry_lab.namespace}/x:pull",
            },
        ).json()["token"]
        resp = client.get(
            f"https://{registry_lab.registry_host}/v2/{registry_lab.namespace}/x/tags/list",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 401


def test_read_only_container_ecosystem_serves_pulls_and_refuses_pushes(
    fresh_lab: LabHandle, tmp_path: Path
) -> None:
    lab = fresh_lab
    lab.set_settings(dict(lab.desired_settings()))
    lab.apply()
    digest = oci_layout(tmp_path / "src")
    creds = f"{lab.user}:{lab.write_token}"
    image = _ref(lab, "ro-" + secrets.token_hex(3))
    push = ["copy", "--dest-cert-dir", str(lab.cert_dir), "--dest-creds", creds]
    assert skopeo(lab, tmp_path, *push, f"oci:{tmp_path / 'src'}:latest", f"{image}:v1")[0] == 0
    lab.set_settings({"app.packages.container-enabled": "readonly"})
    lab.apply()
    oci_layout(tmp_path / "other")
    code, out = skopeo(lab, tmp_path, *push, f"oci:{tmp_path / 'other'}:latest", f"{image}:v2")
    assert code != 0
    assert "read-only" in out.lower() or "unsupported" in out.lower() or "405" in out, out
    code, out = skopeo(
        lab, tmp_path, "inspect", "--raw", "--cert-dir", str(lab.cert_dir), "--creds", creds,
        f"{image}@{digest}",
    )  # fmt: skip
    assert code == 0, out
