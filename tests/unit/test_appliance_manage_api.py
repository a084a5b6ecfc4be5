"""ManageApiTransport against a state-based fake of /manage/v1 (httpx.MockTransport, no sockets)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ghes_setup.appliance.manage_api import ManageApiTransport
from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession
from ghes_setup.appliance.transport import SettingsRejected, TlsNotTrusted
from ghes_setup.errors import (
    ApplianceResponseError,
    AuthenticationFailed,
    MaterialError,
    RefusedTarget,
    Unreachable,
    UnsupportedVersion,
)
from ghes_setup.progress import RecordingProgress
from ghes_setup.secrets import Secret
from tests.contract.validate import validating_transport, vendored_versions

PASSWORD = "correct-horse-battery"


class FakeManage:
    """Enough of /manage/v1 to exercise the client; counts what it was asked."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {
            "github_hostname": "ghe.example.com",
            "subdomain_isolation": False,
            "github_ssl": {"enabled": True, "cert": None, "key": None},
        }
        self.runs: dict[str, dict[str, Any]] = {}
        self.fail_503 = 0
        self.post_503 = 0  # POST config/apply answers 503 and starts nothing
        self.drop_after_post = 0  # POSTs that start a run, then lose the answer
        self.drop_error = "connection reset"
        self.connect_errors = 0
        self.posts = 0
        self.version = "3.17.2"
        self.requests: list[str] = []
        self.no_api = False  # an appliance from before the Manage API

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.no_api:
            return httpx.Response(404, text="Not Found")
        if self.connect_errors:
            self.connect_errors -= 1
            raise httpx.ConnectError("connection refused", request=request)
        if self.fail_503:
            self.fail_503 -= 1
            return httpx.Response(503, json={"message": "Service Unavailable"})
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"api_key:{PASSWORD}".encode()).decode()
        if auth != expected:
            return httpx.Response(401, json={"message": "Bad credentials"})
        path = request.url.path.removeprefix("/manage/v1")
        if (request.method, path) == ("GET", "/version"):
            return httpx.Response(
                200,
                json=[{"hostname": "ghe", "version": {"version": self.version, "platform": "kvm"}}],
            )
        if (request.method, path) == ("GET", "/config/nodes"):
            return httpx.Response(
                200,
                json={"topology": "SingleNode", "nodes": [{"hostname": "ghe", "replica": False}]},
            )
        if (request.method, path) == ("GET", "/config/settings"):
            return httpx.Response(200, json=self.settings)
        if (request.method, path) == ("PUT", "/config/settings"):
            body = json.loads(request.content)
            if "subdomain_isolation" in body and not isinstance(body["subdomain_isolation"], bool):
                return httpx.Response(
                    400, json={"message": "subdomain_isolation must be a boolean"}
                )
            for key, value in body.items():
                if isinstance(value, dict):
                    self.settings.setdefault(key, {}).update(value)
                else:
                    self.settings[key] = value
            return httpx.Response(204)
        if (request.method, path) == ("POST", "/config/apply"):
            if self.post_503:
                self.post_503 -= 1
                return httpx.Response(503, json={"message": "Service Unavailable"})
            self.posts += 1
            run_id = json.loads(request.content)["run_id"]
            self.runs.setdefault(run_id, {"running": True, "successful": False})
            if self.drop_after_post:
                self.drop_after_post -= 1
                raise httpx.ReadError(self.drop_error, request=request)
            return httpx.Response(200, json={"run_id": run_id})  # the documented answer
        if (request.method, path) == ("GET", "/config/apply"):
            run_id = request.url.params.get("run_id")
            if run_id is None:  # the latest run, or none yet
                run_id = next(reversed(self.runs), "")
                if not run_id:
                    return httpx.Response(
                        200, json={"running": False, "successful": False, "nodes": []}
                    )
            run = self.runs.get(run_id)
            if run is None:  # the documented answer for a run id it does not know
                return httpx.Response(400, json={"message": "Bad request"})
            node = {"run_id": run_id, "hostname": "ghe", **run}
            return httpx.Response(200, json={**run, "nodes": [node]})
        if (request.method, path) == ("GET", "/config/apply/events"):
            return httpx.Response(
                200,
                json={
                    "nodes": [
                        {
                            "node": "ghe",
                            "last_request_id": "t:s:0000000000000002",
                            "events": [
                                {
                                    "timestamp": "t1",
                                    "severity_text": "INFO",
                                    "body": "Validating",
                                    "config_run_id": "r1",
                                },
                                {
                                    "timestamp": "t2",
                                    "severity_text": "ERROR",
                                    "body": "Other run",
                                    "config_run_id": "zz",
                                },
                            ],
                        }
                    ]
                },
            )
        return httpx.Response(404, json={"message": "Not Found"})


def transport(
    server: FakeManage, password: str = PASSWORD
) -> tuple[ManageApiTransport, list[float]]:
    slept: list[float] = []
    options = ApiOptions(host="ghe.example.com", retries=3, backoff_s=0.1)
    # Every exchange is held to the official description (tests/contract/validate.py),
    # except in the tests that inject a fault the description does not list (503, a 404 from
    # an appliance before the Manage API): those answers are undocumented on purpose.
    inner: httpx.BaseTransport = httpx.MockTransport(server.handle)
    if not (server.fail_503 or server.post_503 or server.no_api):
        inner = validating_transport(vendored_versions()[-1], inner)
    client = httpx.Client(transport=inner, base_url=options.base_url)
    t = ManageApiTransport(
        ManageApiSession(
            options,
            Secret(password),
            client=client,
            sleep=slept.append,
            progress=RecordingProgress(),
        )
    )
    return t, slept


def test_identify_reads_version_and_topology() -> None:
    t, _ = transport(FakeManage())
    info = t.identify()
    assert (str(info.version), info.platform, info.topology, info.is_replica) == (
        "3.17.2",
        "kvm",
        "SingleNode",
        False,
    )


def test_settings_round_trip_through_the_documented_fields() -> None:
    server = FakeManage()
    t, _ = transport(server)
    t.write_settings({"subdomain_isolation": True, "tls.key": Secret("-----BEGIN KEY-----\nk\n")})
    assert server.settings["subdomain_isolation"] is True
    assert server.settings["github_ssl"] == {
        "enabled": True,
        "cert": None,
        "key": "-----BEGIN KEY-----\nk\n",
    }
    got = t.read_settings(["subdomain_isolation", "tls.key", "hostname"])
    assert got["subdomain_isolation"] is True
    assert isinstance(got["tls.key"], Secret)


def test_503_on_an_idempotent_call_is_retried_with_backoff_and_succeeds() -> None:
    server = FakeManage()
    server.fail_503 = 2
    t, slept = transport(server)
    assert t.read_settings(["hostname"])["hostname"] == "ghe.example.com"
    assert slept == [0.1, 0.2] and t.session.retried == 2


def test_retries_give_up_with_a_clear_error() -> None:
    server = FakeManage()
    server.fail_503 = 10
    t, slept = transport(server)
    with pytest.raises(ApplianceResponseError, match="HTTP 503 after 4 attempts"):
        t.read_settings(["hostname"])
    assert len(slept) == 3


def test_connection_errors_are_retried_then_reported_unreachable() -> None:
    server = FakeManage()
    server.connect_errors = 10
    t, _ = transport(server)
    with pytest.raises(Unreachable, match="connection refused") as info:
        t.identify()
    assert "8443" in (info.value.hint or "")


def test_wrong_password_is_authentication_failed_without_the_password() -> None:
    t, _ = transport(FakeManage(), password="wrong-password-here")
    with pytest.raises(AuthenticationFailed) as info:
        t.identify()
    assert "wrong-password-here" not in info.value.message + (info.value.hint or "")
    assert "GHES_SETUP_ADMIN_PASSWORD" in (info.value.hint or "")


def test_post_config_apply_503_is_not_retried_blindly() -> None:
    server = FakeManage()
    server.post_503 = 1  # the POST answers 503 and started nothing
    t, _ = transport(server)
    run = t.start_apply("r1")
    assert run.run_id == "r1"
    # GET (busy?) -> POST (503) -> GET status (400: unknown) -> POST again
    assert server.requests == [
        "GET /manage/v1/config/apply",
        "POST /manage/v1/config/apply",
        "GET /manage/v1/config/apply",
        "POST /manage/v1/config/apply",
    ]
    assert server.posts == 1


def test_a_post_whose_answer_was_lost_is_looked_up_not_repeated() -> None:
    server = FakeManage()
    server.drop_after_post = 1  # the run started, the answer never arrived
    t, _ = transport(server)
    assert t.start_apply("r1").run_id == "r1"
    assert server.posts == 1 and list(server.runs) == ["r1"]


def test_a_lost_post_answer_is_logged_without_a_secret_its_error_repeats() -> None:
    server = FakeManage()
    server.drop_after_post = 1
    server.drop_error = f"connection reset while sending api_key:{PASSWORD}"
    t, _ = transport(server)
    assert t.start_apply("r1").run_id == "r1"
    progress = t.session.progress
    assert isinstance(progress, RecordingProgress)
    logged = [m for kind, m in progress.events if kind == "log"]
    assert any("ambiguous" in m for m in logged)
    assert not any(PASSWORD in m for m in logged)


def test_a_busy_appliance_refuses_a_second_run() -> None:
    server = FakeManage()
    server.runs["other"] = {"running": True, "successful": False}
    t, _ = transport(server)
    with pytest.raises(RefusedTarget, match="already in progress"):
        t.start_apply("r2")


def test_status_of_an_unknown_run_is_unknown_and_events_skip_other_runs() -> None:
    t, _ = transport(FakeManage())
    assert not t.apply_status("nope").known
    t.last_run_id = "r1"
    batch = t.apply_events(None)
    assert [e.body for e in batch.events] == ["Validating"]
    assert batch.cursor == '{"ghe":"t:s:0000000000000002"}'  # one cursor per node


def test_a_missing_settings_field_is_a_response_error() -> None:
    server = FakeManage()
    del server.settings["github_ssl"]
    t, _ = transport(server)
    with pytest.raises(ApplianceResponseError, match=r"no field github_ssl\.cert"):
        t.read_settings(["tls.cert"])


def test_no_manage_api_means_unsupported_version() -> None:
    server = FakeManage()
    server.no_api = True
    t, _ = transport(server)
    with pytest.raises(UnsupportedVersion, match=r"3\.12"):
        t.identify()


def test_settings_without_an_api_field_are_refused_before_sending() -> None:
    server = FakeManage()
    t, _ = transport(server)
    with pytest.raises(SettingsRejected, match=r"no field for packages\.enabled"):
        t.write_settings({"packages.enabled": True})
    assert server.requests == []


@pytest.mark.parametrize(
    ("ssl_text", "says", "hint"),
    [
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired",
            "out of date",
            "renewed certificate",
        ),
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
            "issuer certificate",
            "certificate verify failed",
            "--ca-file",
        ),
    ],
)
def test_an_expired_certificate_says_renew_not_pass_a_ca_file(
    ssl_text: str, says: str, hint: str
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(ssl_text, request=request)

    options = ApiOptions(host="ghe.example.com", retries=0, backoff_s=0.0)
    client = httpx.Client(transport=httpx.MockTransport(refuse), base_url=options.base_url)
    t = ManageApiTransport(
        ManageApiSession(
            options,
            Secret(PASSWORD),
            client=client,
            sleep=lambda _s: None,
            progress=RecordingProgress(),
        )
    )
    with pytest.raises(TlsNotTrusted) as info:
        t.identify()
    assert says in info.value.message
    assert hint in (info.value.hint or "")
    assert ("--ca-file" in (info.value.hint or "")) is (hint == "--ca-file")


def test_the_client_is_built_on_the_first_request_and_never_after_close(tmp_path: Path) -> None:
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate\n", encoding="utf-8")
    options = ApiOptions(host="ghe.example.com", ca_file=bad_ca)
    t = ManageApiTransport(
        ManageApiSession(options, Secret(PASSWORD))
    )  # nothing loaded, nothing sent yet
    with pytest.raises(MaterialError, match="cannot load it as PEM"):
        t.identify()  # the CA file, refused before anything is sent
    assert t.session.requests == 0
    t.close()
    with pytest.raises(RuntimeError, match="after close"):
        t.identify()  # not a new client behind a closed transport


def test_a_certificate_that_does_not_verify_is_not_asked_for_again() -> None:
    sent: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        raise httpx.ConnectError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate",
            request=request,
        )

    options = ApiOptions(host="ghe.example.com", retries=3, backoff_s=1.0)
    client = httpx.Client(transport=httpx.MockTransport(refuse), base_url=options.base_url)
    slept: list[float] = []
    t = ManageApiTransport(
        ManageApiSession(options, Secret(PASSWORD), client=client, sleep=slept.append)
    )
    with pytest.raises(TlsNotTrusted, match="certificate verify failed"):
        t.identify()
    assert (len(sent), slept) == (1, [])  # exit 4 at once, not after three backoffs
