"""registry-ping verdicts from what containers.HOSTNAME/v2/ answers (httpx.MockTransport)."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest

from ghes_setup.checks import Status
from ghes_setup.errors import Unreachable
from ghes_setup.registry.check_ping import PingRequest, judge, ping
from ghes_setup.registry.status import run_registry_status, wait_for_registry

REQUEST = PingRequest(hostname="ghe.example.com")
BEARER = (
    'Bearer realm="https://containers.ghe.example.com/token",service="containers.ghe.example.com"'
)

Handler = Callable[[httpx.Request], httpx.Response]


def factory(handler: Handler) -> Callable[[PingRequest], httpx.Client]:
    return lambda request: httpx.Client(transport=httpx.MockTransport(handler))


def answer_with(status: int, headers: dict[str, str] | None = None, body: object = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url == "https://containers.ghe.example.com/v2/"
        assert "authorization" not in request.headers
        return httpx.Response(status, headers=headers, json=body)

    return handle


def test_bearer_challenge_passes_with_realm_and_service_in_details() -> None:
    answer = ping(REQUEST, factory(answer_with(401, {"WWW-Authenticate": BEARER})))
    outcome = judge(REQUEST, answer)
    assert outcome.status is Status.PASS
    assert outcome.details["realm"] == "https://containers.ghe.example.com/token"
    assert outcome.details["service"] == "containers.ghe.example.com"
    assert "Bearer challenge" in outcome.summary


def test_open_registry_200_passes() -> None:
    outcome = judge(REQUEST, ping(REQUEST, factory(answer_with(200, body={}))))
    assert outcome.status is Status.PASS and "200" in outcome.summary


def test_404_fails_pointing_at_packages_and_isolation() -> None:
    body = {"errors": [{"code": "UNAVAILABLE", "message": "GitHub Packages is disabled"}]}
    outcome = judge(REQUEST, ping(REQUEST, factory(answer_with(404, body=body))))
    assert outcome.status is Status.FAIL
    assert "UNAVAILABLE" in outcome.summary
    assert outcome.remedy is not None and "registry start" in outcome.remedy
    assert "subdomain isolation" in outcome.remedy


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_fails_saying_the_registry_is_not_running(status: int) -> None:
    # 503 fails only when the appliance says it is not in maintenance mode (a 503 in
    # maintenance is tests/registry/test_maintenance.py's subject).
    request = PingRequest(hostname="ghe.example.com", maintenance=lambda: False)
    outcome = judge(request, ping(request, factory(answer_with(status))))
    assert outcome.status is Status.FAIL
    assert outcome.remedy is not None and "not answering" in outcome.remedy


def test_basic_challenge_is_not_a_registry() -> None:
    headers = {"WWW-Authenticate": 'Basic realm="GitHub"'}
    outcome = judge(REQUEST, ping(REQUEST, factory(answer_with(401, headers))))
    assert outcome.status is Status.FAIL and "Basic challenge" in outcome.summary


def test_tls_failure_fails_with_a_certificate_remedy() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause.verify_message = "Hostname mismatch, certificate is not valid for 'containers.x'"
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from cause

    outcome = judge(REQUEST, ping(REQUEST, factory(handle)))
    assert outcome.status is Status.FAIL
    assert "Hostname mismatch" in outcome.summary
    assert outcome.remedy is not None and "*.HOSTNAME" in outcome.remedy


def test_refused_connection_is_an_error_not_a_failure() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    outcome = judge(REQUEST, ping(REQUEST, factory(handle)))
    assert outcome.status is Status.ERROR and "no connection" in outcome.summary


def test_name_that_does_not_resolve_fails_with_a_dns_remedy() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise Unreachable("cannot resolve containers.ghe.example.com: NXDOMAIN")

    outcome = judge(REQUEST, ping(REQUEST, factory(handle)))
    assert outcome.status is Status.FAIL
    assert outcome.remedy is not None and "dns check" in outcome.remedy


def test_status_report_names_the_command_and_target() -> None:
    request = PingRequest(
        hostname="ghe.example.com",
        http_factory=factory(answer_with(401, {"WWW-Authenticate": BEARER})),
    )
    report = run_registry_status(request)
    assert report.command == "registry status" and report.target == "ghe.example.com"
    assert report.ids() == ("registry-ping",) and report.status is Status.PASS


def test_non_default_port_is_part_of_the_registry_host() -> None:
    request = PingRequest(hostname="ghe.example.com", https_port=8443)
    assert request.url == "https://containers.ghe.example.com:8443/v2/"


def test_wait_polls_until_the_challenge_appears() -> None:
    answers = iter([503, 404, 401])
    t = [0.0]

    def handle(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        headers = {"WWW-Authenticate": BEARER} if status == 401 else {}
        return httpx.Response(status, headers=headers)

    def sleep(s: float) -> None:
        t[0] += s

    result = wait_for_registry(
        REQUEST, timeout_s=60, now=lambda: t[0], sleep=sleep, http_factory=factory(handle)
    )
    assert result.ok and result.attempts == 3 and result.result.status is Status.PASS


def test_wait_gives_up_at_the_timeout_with_the_last_answer() -> None:
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    result = wait_for_registry(
        REQUEST,
        timeout_s=5,
        poll_s=1,
        now=lambda: t[0],
        sleep=sleep,
        http_factory=factory(answer_with(404)),
    )
    assert not result.ok and result.waited_s >= 5
    assert result.result.status is Status.FAIL and result.answer.status == 404
