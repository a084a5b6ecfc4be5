"""The lab's Manage API (/manage/v1 on 8443 through nginx), with httpx as the client."""

from __future__ import annotations

import httpx
import pytest

from ghes_setup.lab import pki
from ghes_setup.lab.handle import LabHandle
from tests.lab.conftest import connect, http_client, wait_for_run

pytestmark = pytest.mark.lab


def _url(lab: LabHandle, path: str) -> str:
    return f"https://{lab.hostname}:{lab.ports.api}/manage/v1{path}"


def test_missing_or_wrong_password_gets_401_with_a_json_message(lab: LabHandle) -> None:
    with http_client(lab) as client:
        anonymous = client.get(_url(lab, "/version"))
        wrong = client.get(_url(lab, "/version"), auth=("api_key", "not-the-password"))
        wrong_user = client.get(_url(lab, "/version"), auth=("admin", lab.admin_password))
    for resp in (anonymous, wrong, wrong_user):
        assert resp.status_code == 401
        assert resp.json()["message"]
    assert anonymous.headers["www-authenticate"].startswith("Basic ")


def test_version_and_nodes_describe_a_single_node(lab: LabHandle, manage: httpx.Client) -> None:
    version = manage.get("/version").json()
    assert version[0]["hostname"] == lab.hostname
    assert version[0]["version"]["version"] == lab.ghes_version
    nodes = manage.get("/config/nodes").json()
    assert nodes["topology"] == "SingleNode"
    assert nodes["nodes"][0]["replica"] is False


def test_fresh_settings_have_the_documented_shape(
    fresh_lab: LabHandle, manage: httpx.Client
) -> None:
    doc = manage.get("/config/settings").json()
    assert doc["github_hostname"] == fresh_lab.hostname
    assert doc["subdomain_isolation"] is False
    assert doc["github_ssl"] == {"enabled": True, "cert": None, "key": None}
    for field in ("private_mode", "ldap", "smtp", "ntp", "license", "customer", "pages"):
        assert field in doc
    assert doc["admin_password"] is None


def test_settings_put_is_a_partial_update_on_the_same_files_as_ghe_config(
    fresh_lab: LabHandle, manage: httpx.Client
) -> None:
    cert = fresh_lab.site_cert.read_text()
    resp = manage.put(
        "/config/settings",
        json={
            "subdomain_isolation": True,
            "github_ssl": {"cert": cert},
            "ntp": {"primary_server": "ntp.lab"},
        },
    )
    assert resp.status_code == 204
    doc = manage.get("/config/settings").json()
    assert doc["subdomain_isolation"] is True
    assert doc["github_ssl"]["cert"].strip() == cert.strip()
    assert doc["github_ssl"]["enabled"] is True  # not given, not changed
    assert doc["ntp"] == {"primary_server": "ntp.lab", "secondary_server": "1.pool.ntp.org"}
    settings = fresh_lab.settings()
    assert settings["core.subdomain-isolation"] == "true"
    assert settings["github-ssl.cert"].strip() == cert.strip()
    # Written over SSH, read over the API: one source of truth.
    client = connect(fresh_lab)
    try:
        _, out, _ = client.exec_command("ghe-config core.subdomain-isolation false")
        assert out.channel.recv_exit_status() == 0
    finally:
        client.close()
    assert manage.get("/config/settings").json()["subdomain_isolation"] is False


def test_unknown_fields_are_kept_but_packages_fields_change_nothing(
    fresh_lab: LabHandle, manage: httpx.Client
) -> None:
    resp = manage.put("/config/settings", json={"packages": {"enabled": True}, "lab_extra": [1, 2]})
    assert resp.status_code == 204
    doc = manage.get("/config/settings").json()
    assert doc["packages"] == {"enabled": True}
    assert doc["lab_extra"] == [1, 2]
    assert fresh_lab.settings()["app.packages.enabled"] == "false"


@pytest.mark.parametrize(
    "body",
    [{"subdomain_isolation": "yes"}, {"github_ssl": {"enabled": 1}}, {"admin_password": "x"}, [1]],
)
def test_bad_settings_are_refused_with_400(
    fresh_lab: LabHandle, manage: httpx.Client, body: object
) -> None:
    before = fresh_lab.settings()
    resp = manage.put("/config/settings", json=body)
    assert resp.status_code == 400
    assert resp.json()["message"]
    assert fresh_lab.settings() == before


def test_apply_runs_to_completion_with_events(fresh_lab: LabHandle, manage: httpx.Client) -> None:
    before = fresh_lab.apply_runs()
    resp = manage.post("/config/apply")
    assert resp.status_code == 200  # documented: 200 {run_id}
    run_id = resp.json()["run_id"]
    status = wait_for_run(manage, run_id)
    assert status["successful"] is True
    assert status["nodes"] == [
        {"run_id": run_id, "hostname": fresh_lab.hostname, "running": False, "successful": True}
    ]
    events = manage.get("/config/apply/events").json()["nodes"][0]
    bodies = [e["body"] for e in events["events"] if e["config_run_id"] == run_id]
    assert bodies[0] == f"Starting configuration run {run_id}"
    assert bodies[-1] == "Configuration run complete"
    assert fresh_lab.apply_runs() == before + 1
    # Paging: nothing after the last request id.
    again = manage.get(
        "/config/apply/events", params={"last_request_id": events["last_request_id"]}
    )
    assert again.json()["nodes"][0]["events"] == []


def test_apply_with_a_known_run_id_starts_nothing(
    fresh_lab: LabHandle, manage: httpx.Client
) -> None:
    first = manage.post("/config/apply", json={"run_id": "lab-run-1"})
    assert first.json() == {"run_id": "lab-run-1"}
    wait_for_run(manage, "lab-run-1")
    runs = fresh_lab.apply_runs()
    second = manage.post("/config/apply", json={"run_id": "lab-run-1"})
    assert second.status_code == 200
    assert second.json() == {"run_id": "lab-run-1"}
    assert fresh_lab.apply_runs() == runs


def test_apply_while_one_runs_is_400_and_get_says_running(
    fresh_lab: LabHandle, manage: httpx.Client
) -> None:
    run_id = manage.post("/config/apply").json()["run_id"]
    second = manage.post("/config/apply")
    assert second.status_code == 400  # documented; 409 is not
    assert run_id in second.json()["message"]
    assert manage.get("/config/apply").json()["running"] is True
    wait_for_run(manage, run_id)


def test_unknown_run_id_is_400(lab: LabHandle, manage: httpx.Client) -> None:
    assert manage.get("/config/apply", params={"run_id": "no-such-run"}).status_code == 400


def test_maintenance_toggles_status_503(fresh_lab: LabHandle, manage: httpx.Client) -> None:
    assert manage.get("/maintenance").json()[0]["status"] == "off"
    on = manage.post(
        "/maintenance", json={"enabled": True, "when": "now", "maintenance_mode_message": "upgrade"}
    )
    assert on.status_code == 200
    assert on.json()[0]["message"] == "maintenance mode enabled"
    assert manage.get("/maintenance").json()[0]["status"] == "on"
    assert fresh_lab.https("GET", "/status")[0] == 503
    assert fresh_lab.https("GET", "/api/v3/meta")[0] == 503
    off = manage.post("/maintenance", json={"enabled": False})
    assert off.json()[0]["message"] == "maintenance mode disabled"
    assert manage.get("/maintenance").json()[0]["status"] == "off"
    assert fresh_lab.https("GET", "/status")[0] == 200


def test_access_ssh_really_edits_the_admin_keys(fresh_lab: LabHandle, manage: httpx.Client) -> None:
    _, public = pki.ssh_keypair()
    key = public.decode() + " added-by-test"
    listed = manage.get("/access/ssh").json()
    assert len(listed) == 1
    assert listed[0]["fingerprint"].startswith("SHA256:")
    added = manage.post("/access/ssh", json={"key": key})
    assert added.status_code == 200  # documented: 200
    assert added.json()[0]["modified"] is True
    assert manage.post("/access/ssh", json={"key": key}).json()[0]["modified"] is False
    assert key in fresh_lab.authorized_keys()
    removed = manage.request("DELETE", "/access/ssh", json={"key": key})
    assert removed.json()[0]["message"] == "SSH key removed successfully"
    assert key not in fresh_lab.authorized_keys()
    assert manage.post("/access/ssh", json={"key": "not a key"}).status_code == 400


def test_api_503_fault_answers_503_for_the_next_n_calls(
    fresh_lab: LabHandle, manage: httpx.Client
) -> None:
    fresh_lab.fault("api-503", count=2)
    assert manage.get("/version").status_code == 503
    assert manage.get("/version").status_code == 503
    assert manage.get("/version").status_code == 200
    assert len([line for line in fresh_lab.fired_faults() if " api-503 " in line]) == 2
