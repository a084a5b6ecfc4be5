"""The lab's fixes for what GitHub's official GHES description contradicted, each proven through a
client whose every exchange is validated against the description of the lab's release
(tests/contract/validate.py): a 202, a 409, a null string or a missing user field fails here."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ghes_setup.lab import pki
from ghes_setup.lab.handle import LabHandle
from tests.contract.conftest import validated_manage, validated_rest
from tests.lab.conftest import connect, oci_layout

pytestmark = pytest.mark.lab


@pytest.fixture
def api(fresh_lab: LabHandle) -> Any:
    with validated_manage(fresh_lab) as client:
        yield client


def wait_done(api: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = api.get(
            "/manage/v1/config/apply", params={"run_id": run_id}
        ).json()
        if not status["running"]:
            return status
        assert time.monotonic() < deadline, f"run {run_id} still running"
        time.sleep(0.05)


def test_config_apply_answers_200_busy_400_unknown_400(api: httpx.Client) -> None:
    started = api.post("/manage/v1/config/apply")
    assert started.status_code == 200
    run_id = started.json()["run_id"]
    busy = api.post("/manage/v1/config/apply")
    assert busy.status_code == 400
    assert api.get("/manage/v1/config/apply").json()["running"] is True
    status = wait_done(api, run_id)
    assert status["successful"] is True
    assert api.get("/manage/v1/config/apply", params={"run_id": "nope"}).status_code == 400


def test_events_are_documented_strings_with_a_cursor(api: httpx.Client) -> None:
    run_id = api.post("/manage/v1/config/apply").json()["run_id"]
    wait_done(api, run_id)
    node = api.get("/manage/v1/config/apply/events").json()["nodes"][0]
    assert node["events"], "the latest run's events"
    assert all(isinstance(e["span_parent_id"], str) for e in node["events"])
    again = api.get(
        "/manage/v1/config/apply/events", params={"last_request_id": node["last_request_id"]}
    )
    assert again.json()["nodes"][0]["events"] == []
    bad = api.get("/manage/v1/config/apply/events", params={"last_request_id": "x"})
    assert bad.status_code == 400


def test_access_ssh_post_200_and_delete_documented(api: httpx.Client, fresh_lab: LabHandle) -> None:
    _, public = pki.ssh_keypair()
    key = public.decode() + " contract"
    added = api.post("/manage/v1/access/ssh", json={"key": key})
    assert added.status_code == 200
    assert added.json()[0]["modified"] is True
    assert key in fresh_lab.authorized_keys()
    removed = api.request("DELETE", "/manage/v1/access/ssh", json={"key": key})
    assert removed.status_code == 200
    assert set(removed.json()[0]) == {"hostname", "uuid", "message"}
    assert key not in fresh_lab.authorized_keys()


def test_maintenance_post_answers_the_documented_array(
    api: httpx.Client, fresh_lab: LabHandle
) -> None:
    assert api.get("/manage/v1/maintenance").json()[0]["maintenance_mode_message"] == ""
    on = api.post(
        "/manage/v1/maintenance",
        json={"enabled": True, "when": "now", "ip_exception_list": ["192.0.2.0/24"]},
    )
    assert on.status_code == 200
    [entry] = on.json()
    assert entry["hostname"] == fresh_lab.hostname and "192.0.2.0/24" in entry["message"]
    assert fresh_lab.maintenance_on()
    scheduled = api.post(
        "/manage/v1/maintenance", json={"enabled": True, "when": "2999-01-02T15:04:05+00:00"}
    )
    assert scheduled.status_code == 200
    got = api.get("/manage/v1/maintenance").json()[0]
    assert got["status"] == "scheduled" and got["scheduled_time"].startswith("2999-01-02")
    assert api.post("/manage/v1/maintenance", json={"enabled": False}).status_code == 200


def test_maintenance_makes_web_api_and_registry_answer_503(registry_lab: LabHandle) -> None:
    assert registry_lab.https("GET", "/v2/", host=registry_lab.registry_host)[0] == 401
    with validated_manage(registry_lab) as api:
        assert api.post("/manage/v1/maintenance", json={"enabled": True}).status_code == 200
        try:
            assert registry_lab.https("GET", "/status")[0] == 503
            assert registry_lab.https("GET", "/api/v3/user")[0] == 503
            status, headers, _ = registry_lab.https("GET", "/v2/", host=registry_lab.registry_host)
            assert status == 503
            assert headers["content-type"].startswith("application/json")
        finally:
            assert api.post("/manage/v1/maintenance", json={"enabled": False}).status_code == 200
    assert registry_lab.https("GET", "/v2/", host=registry_lab.registry_host)[0] == 401


def test_settings_have_no_null_strings_and_a_partial_object_resets_siblings(
    api: httpx.Client, fresh_lab: LabHandle
) -> None:
    doc = api.get("/manage/v1/config/settings").json()  # validated: smtp strings are not null
    assert doc["smtp"]["address"] == ""
    cert = fresh_lab.site_cert.read_text(encoding="utf-8")
    key = fresh_lab.site_key.read_text(encoding="utf-8")
    whole = {"github_ssl": {"enabled": True, "cert": cert, "key": key}}
    assert api.put("/manage/v1/config/settings", json=whole).status_code == 204
    assert api.get("/manage/v1/config/settings").json()["github_ssl"]["cert"] == cert
    partial = {"github_ssl": {"enabled": True}}
    assert api.put("/manage/v1/config/settings", json=partial).status_code == 204
    after = api.get("/manage/v1/config/settings").json()["github_ssl"]
    assert after["cert"] is None and after["key"] is None  # reset to their defaults


def test_user_is_the_documented_private_user(fresh_lab: LabHandle) -> None:
    with validated_rest(fresh_lab, fresh_lab.write_token) as rest:
        user = rest.get("/api/v3/user")
        assert user.status_code == 200
        assert user.json()["login"] == fresh_lab.user
        assert "created_at" in user.json() and "two_factor_authentication" in user.json()
        assert rest.patch("/api/v3/user", json={"bio": "x"}).status_code == 200
        missing = rest.get(f"/api/v3/user/packages/container/{'no-such'}/versions")
        assert missing.status_code == 404


# ------------------------------------------------------------------ topologies


def test_topologies_shape_nodes_apply_status_and_events(api: httpx.Client, lab: LabHandle) -> None:
    lab.set_topology("Ha")
    nodes = api.get("/manage/v1/config/nodes").json()
    assert nodes["topology"] == "Ha"
    assert [(n["hostname"], n["replica"]) for n in nodes["nodes"]] == [
        (lab.hostname, False),
        ("ghe-lab-replica", True),
    ]
    lab.set_topology("Ha", replica=True)
    nodes = api.get("/manage/v1/config/nodes").json()["nodes"]
    assert [(n["hostname"], n["replica"]) for n in nodes] == [
        ("ghe-lab-primary", False),
        (lab.hostname, True),
    ]
    lab.set_topology("Cluster")
    assert len(api.get("/manage/v1/config/nodes").json()["nodes"]) == 3
    only = api.get("/manage/v1/version", params={"uuid": nodes[0]["uuid"]}).json()
    assert [v["hostname"] for v in only] == []  # the Ha primary's uuid is not in the cluster
    run_id = api.post("/manage/v1/config/apply").json()["run_id"]
    status = wait_done(api, run_id)
    assert [n["hostname"] for n in status["nodes"]] == [
        lab.hostname,
        "ghe-lab-node2",
        "ghe-lab-node3",
    ]
    assert all(n["successful"] for n in status["nodes"])
    events = api.get("/manage/v1/config/apply/events").json()["nodes"]
    assert [e["node"] for e in events] == [n["hostname"] for n in status["nodes"]]
    cursors = {e["last_request_id"] for e in events}
    assert len(cursors) == 3, "each node has its own cursor"
    # A node's cursor pages that node only; the others answer the latest run again.
    after_first = api.get(
        "/manage/v1/config/apply/events", params={"last_request_id": events[0]["last_request_id"]}
    ).json()["nodes"]
    assert after_first[0]["events"] == []
    assert len(after_first[1]["events"]) == len(events[1]["events"])
    lab.reset()
    assert api.get("/manage/v1/config/nodes").json()["topology"] == "SingleNode"


def test_apply_fail_node2_fails_one_node_while_the_other_succeeds(
    api: httpx.Client, lab: LabHandle
) -> None:
    lab.set_topology("Ha")
    lab.fault("apply-fail-node2")
    run_id = api.post("/manage/v1/config/apply").json()["run_id"]
    status = wait_done(api, run_id)
    assert [(n["hostname"], n["successful"]) for n in status["nodes"]] == [
        (lab.hostname, True),
        ("ghe-lab-replica", False),
    ]
    events = api.get("/manage/v1/config/apply/events").json()["nodes"]
    assert events[0]["events"][-1]["body"] == "Configuration run complete"
    assert events[1]["events"][-1]["body"] == f"Configuration run {run_id} failed"
    assert events[1]["events"][-1]["hostname"] == "ghe-lab-replica"
    lab.reset()


def test_lab_topology_command_and_bad_names(lab: LabHandle) -> None:
    out = lab.cli("topology", "Ha", "--replica")
    assert "Ha" in out.stdout and "replica" in out.stdout
    assert lab.topology().replica is True
    bad = lab.cli("topology", "Mesh", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "SingleNode, Ha, Cluster" in bad.stderr + bad.stdout
    lone = lab.cli("topology", "SingleNode", "--replica", check=False)
    assert lone.returncode != 0
    lab.reset()
    assert lab.topology().name == "SingleNode"


def test_package_endpoints_answer_the_documented_objects(
    registry_lab: LabHandle, tmp_path: Path
) -> None:
    """The token owner's own package through `/user/packages/...` and an org's through
    `/orgs/{org}/...`: package, version list, one version, delete, all validated."""
    lab = registry_lab
    oci_layout(tmp_path / "src")
    creds = f"{lab.user}:{lab.write_token}"
    name = "contract-" + secrets.token_hex(3)
    for owner in (lab.user, lab.namespace):
        proc = lab.run_with_hosts(
            [
                "skopeo", "copy", "--dest-cert-dir", str(lab.cert_dir), "--dest-creds", creds,
                f"oci:{tmp_path / 'src'}:latest",
                f"docker://{lab.registry_host}/{owner}/{name}:v1",
            ],
            env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    with validated_rest(lab, lab.write_token) as rest:
        for base in ("/api/v3/user", f"/api/v3/orgs/{lab.namespace}"):
            package = rest.get(f"{base}/packages/container/{name}").json()
            assert package["version_count"] == 1 and package["owner"]["login"]
            versions = rest.get(
                f"{base}/packages/container/{name}/versions", params={"per_page": 100}
            ).json()
            assert versions[0]["metadata"]["container"]["tags"] == ["v1"]
            one = rest.get(f"{base}/packages/container/{name}/versions/{versions[0]['id']}")
            assert one.json()["name"] == versions[0]["name"]
            gone = rest.delete(f"{base}/packages/container/{name}/versions/{versions[0]['id']}")
            assert gone.status_code == 204


def test_ghe_config_apply_over_ssh_fails_when_another_node_fails(lab: LabHandle) -> None:
    lab.reset()
    lab.set_topology("Cluster")
    lab.fault("apply-fail-node2")
    client = connect(lab)
    try:
        _, out, err = client.exec_command("ghe-config-apply", timeout=60)
        code = out.channel.recv_exit_status()
        assert code == 1
        assert "lab fault apply-fail-node2" in err.read().decode()
    finally:
        client.close()
        lab.reset()
