"""registry-ping reports maintenance mode as maintenance, not as a registry failure.

GHES answers web and API requests with 503 in maintenance mode (docs: "Enabling and scheduling
maintenance mode"). Unit level: `judge` with the maintenance probe, the probe over each
transport (the Manage API fake validated against the official description, the fake
appliance), and `ghe-maintenance -q` parsing. No sockets.
"""

from __future__ import annotations

import httpx
import pytest

from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.maintenance import in_maintenance, parse_ghe_maintenance
from ghes_setup.appliance.manage_api import ManageApiTransport
from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession
from ghes_setup.appliance.selector import RoutedTransport
from ghes_setup.checks import Status
from ghes_setup.errors import Unreachable
from ghes_setup.registry.check_ping import PingAnswer, PingRequest, judge, ping
from ghes_setup.secrets import Secret
from tests.appliance.manage_fake import PASSWORD, FakeManageApi, client_for

ANSWER_503 = PingAnswer("http", "HTTP 503", status=503)


def request(state: bool | str | None) -> PingRequest:
    def probe() -> bool | None:
        if state == "raise":
            raise Unreachable("no way in")
        return state  # type: ignore[return-value]

    return PingRequest(hostname="ghe.example.com", maintenance=probe)


def test_503_in_maintenance_is_a_warning_that_names_maintenance() -> None:
    outcome = judge(request(True), ANSWER_503)
    assert outcome.status is Status.WARN
    assert "maintenance mode" in outcome.summary
    assert outcome.details["maintenance"] is True
    assert "ghe-maintenance -u" in (outcome.remedy or "")


@pytest.mark.parametrize("state", [None, "raise"])
def test_503_with_the_state_unknown_says_maintenance_may_be_why(state: object) -> None:
    outcome = judge(request(state), ANSWER_503)  # type: ignore[arg-type]
    assert outcome.status is Status.WARN
    assert "maintenance mode?" in outcome.summary
    assert "ghe-maintenance -q" in (outcome.remedy or "")


def test_503_outside_maintenance_is_a_registry_failure() -> None:
    outcome = judge(request(False), ANSWER_503)
    assert outcome.status is Status.FAIL
    assert outcome.details["maintenance"] is False


def test_a_healthy_registry_never_asks_for_the_maintenance_state() -> None:
    asked: list[int] = []

    def probe() -> bool | None:
        asked.append(1)
        return True

    req = PingRequest(
        hostname="ghe.example.com",
        maintenance=probe,
        http_factory=lambda _r: httpx.Client(
            transport=httpx.MockTransport(
                lambda _q: httpx.Response(
                    401, headers={"WWW-Authenticate": 'Bearer realm="https://x/token"'}
                )
            )
        ),
    )
    assert judge(req, ping(req)).status is Status.PASS
    assert asked == []


def test_the_manage_api_reads_maintenance_per_node() -> None:
    server = FakeManageApi(nodes=("ghe-1", "ghe-2"))
    options = ApiOptions(host="ghe-1", retries=0)
    api = ManageApiTransport(
        ManageApiSession(options, Secret(PASSWORD), client=client_for(server, options.base_url))
    )
    assert api.maintenance() is False
    server.maintenance = True
    assert api.maintenance() is True
    assert in_maintenance(RoutedTransport(ssh=FakeAppliance(), api=api)) is True


def test_the_routed_transport_falls_back_to_ssh_for_the_state() -> None:
    ssh = FakeAppliance()
    ssh.in_maintenance = True
    api = FakeAppliance()
    api.unreachable = True
    assert in_maintenance(RoutedTransport(ssh=ssh, api=api)) is True
    ssh.in_maintenance = None
    assert in_maintenance(RoutedTransport(ssh=ssh, api=None)) is None


def test_ghe_maintenance_query_output() -> None:
    assert parse_ghe_maintenance("maintenance mode set\n") is True
    assert parse_ghe_maintenance("maintenance mode not set\n") is False
    assert parse_ghe_maintenance("bash: ghe-maintenance: command not found") is None
