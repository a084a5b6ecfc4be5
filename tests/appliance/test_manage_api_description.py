"""The Manage API client against a fake that answers only what the official description says.

Each test here failed against the client before it stopped depending on undocumented answers
(409 "busy", 404 "unknown run", a single events cursor, the top-level `successful`, partial
objects in PUT config/settings). No sockets: `httpx.MockTransport`.
"""

from __future__ import annotations

import httpx
import pytest

from ghes_setup.appliance.manage_api import ManageApiTransport
from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession
from ghes_setup.errors import RefusedTarget
from ghes_setup.progress import RecordingProgress
from ghes_setup.secrets import Secret
from tests.appliance.manage_fake import PASSWORD, FakeManageApi, client_for
from tests.contract.validate import ValidatingTransport, vendored_versions

NEW_CERT = "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n"


def api(server: FakeManageApi, host: str = "ghe.example.com") -> ManageApiTransport:
    options = ApiOptions(host=host, retries=2, backoff_s=0.0)
    return ManageApiTransport(
        ManageApiSession(
            options,
            Secret(PASSWORD),
            client=client_for(server, options.base_url),
            sleep=lambda _s: None,
            progress=RecordingProgress(),
        )
    )


def test_post_config_apply_answering_200_starts_the_run() -> None:
    server = FakeManageApi()
    t = api(server)
    run = t.start_apply("r1")
    assert run.run_id == "r1" and server.order == ["r1"]


def test_a_run_already_going_is_read_from_get_config_apply_before_posting() -> None:
    server = FakeManageApi(apply_polls=5)
    server.start_foreign_run("theirs")
    t = api(server)
    with pytest.raises(RefusedTarget, match=r"already in progress.*theirs"):
        t.start_apply("mine")
    assert server.order == ["theirs"]  # nothing was POSTed
    assert not any(r.startswith("POST") for r in server.requests)


def test_an_unknown_run_is_the_documented_400() -> None:
    t = api(FakeManageApi())
    status = t.apply_status("never-started")
    assert not status.known and not status.running


def test_a_post_whose_answer_was_lost_is_looked_up_not_repeated() -> None:
    server = FakeManageApi(apply_polls=3)
    server.drop_after_post = 1
    t = api(server)
    assert t.start_apply("r1").run_id == "r1"
    assert server.order == ["r1"]
    assert sum(r.startswith("POST") for r in server.requests) == 1


def test_partial_put_keeps_the_certificate_key_by_sending_github_ssl_whole() -> None:
    server = FakeManageApi()
    old_key = server.settings["github_ssl"]["key"]
    t = api(server)
    t.write_settings({"tls.cert": NEW_CERT})
    assert server.bodies[-1] == {
        "github_ssl": {"enabled": True, "cert": NEW_CERT, "key": old_key},
    }
    assert server.settings["github_ssl"]["key"] == old_key  # not reset to its default


def test_top_level_fields_go_alone_without_reading_first() -> None:
    server = FakeManageApi()
    t = api(server)
    t.write_settings({"subdomain_isolation": True})
    assert server.bodies == [{"subdomain_isolation": True}]
    assert server.requests == ["PUT /manage/v1/config/settings"]


def test_a_run_succeeds_only_when_every_node_says_so_and_a_failure_names_the_node() -> None:
    server = FakeManageApi(nodes=("ghe-1", "ghe-2"), replicas=("ghe-2",), topology="Ha")
    server.fail_nodes = frozenset({"ghe-2"})
    t = api(server)
    t.start_apply("r1")
    status = t.apply_status("r1")
    assert not status.running
    assert not status.successful  # the top level says what ghe-1 says: true
    assert status.failed and "ghe-2" in (status.detail or "")


def test_events_follow_every_node_with_one_cursor_each() -> None:
    server = FakeManageApi(nodes=("ghe-1", "ghe-2"), apply_polls=1)
    t = api(server)
    t.start_apply("r1")
    first = t.apply_events(None)
    assert sorted(e.body for e in first.events) == [
        "ghe-1: Validating services",
        "ghe-2: Validating services",
    ]
    t.apply_status("r1")  # both nodes finish
    second = t.apply_events(first.cursor)
    # Each node's new event exactly once: no node skipped, none repeated from the start.
    assert sorted(e.body for e in second.events) == [
        "ghe-1: Configuration run complete",
        "ghe-2: Configuration run complete",
    ]
    third = t.apply_events(second.cursor)
    assert third.events == ()


def test_identify_names_the_primary_of_a_replica() -> None:
    server = FakeManageApi(nodes=("ghe-1", "ghe-2"), replicas=("ghe-2",), topology="Ha")
    info = api(server, host="ghe-2").identify()
    assert (info.topology, info.is_replica, info.primary) == ("Ha", True, "ghe-1")


def test_options_know_the_plain_http_port() -> None:
    assert ApiOptions(host="ghe", port=8080, scheme="http").base_url == (
        "http://ghe:8080/manage/v1"
    )
    assert ApiOptions(host="ghe").base_url == "https://ghe:8443/manage/v1"


def test_busy_client_error_is_not_a_traceback_when_answer_has_no_nodes() -> None:
    # Documented shape with an empty nodes list and running true.
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"running": True, "successful": False, "nodes": []})
        return httpx.Response(200, json={"run_id": "x"})

    options = ApiOptions(host="ghe", retries=0)
    t = ManageApiTransport(
        ManageApiSession(
            options,
            Secret(PASSWORD),
            client=httpx.Client(transport=httpx.MockTransport(handle), base_url=options.base_url),
        )
    )
    with pytest.raises(RefusedTarget, match="already in progress"):
        t.start_apply("r1")


@pytest.mark.parametrize("version", [vendored_versions()[0], vendored_versions()[-1]])
def test_a_whole_run_conforms_to_the_oldest_and_newest_description(version: str) -> None:
    server = FakeManageApi(nodes=("ghe-1", "ghe-2"), replicas=("ghe-2",), topology="Ha")
    options = ApiOptions(host="ghe-1", retries=0)
    t = ManageApiTransport(
        ManageApiSession(
            options, Secret(PASSWORD), client=client_for(server, options.base_url, version)
        )
    )
    assert t.identify().topology == "Ha"
    t.write_settings({"subdomain_isolation": True, "tls.cert": NEW_CERT})
    t.read_settings(["hostname", "tls.key"])
    t.start_apply("r1")
    cursor = t.apply_events(None).cursor
    assert t.apply_status("r1").successful
    t.apply_events(cursor)
    assert not t.apply_status("unknown-run").known
    transport = t.session._client._transport
    assert isinstance(transport, ValidatingTransport) and len(transport.exchanges) >= 9
