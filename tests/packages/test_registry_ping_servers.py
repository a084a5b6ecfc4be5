"""registry-ping against real TLS servers on loopback (Python's ssl module on both sides).

Each server presents a trustme certificate and answers /v2/ like a registry, or refuses the
handshake with the `unrecognized_name` alert (a front door that does not serve the name), so
the TLS verdicts come from real handshakes, not from simulated exceptions.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from ghes_setup.checks import Status
from ghes_setup.net import ResolveOverrides, SystemResolver
from ghes_setup.registry.check_ping import PingRequest, judge, ping
from tests.conftest import CliRunner

pytestmark = pytest.mark.lab

HOST = "ghe.ping.test"
ADDRESS = "127.0.0.1"
BEARER = f'Bearer realm="https://containers.{HOST}/token",service="containers.{HOST}"'


class RegistryHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/v2/":
            body = b'{"errors":[{"code":"UNAUTHORIZED"}]}'
            self.send_response(401)
            self.send_header("WWW-Authenticate", BEARER)
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        else:
            body = b"{}"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[int]:
    server = ThreadingHTTPServer((ADDRESS, 0), RegistryHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return context


def request(port: int, ca_file: Path | None) -> PingRequest:
    resolver = SystemResolver(ResolveOverrides.parse([f".{HOST}:{ADDRESS}", f"{HOST}:{ADDRESS}"]))
    return PingRequest(hostname=HOST, https_port=port, ca_file=ca_file, resolver=resolver)


def test_wildcard_certificate_and_bearer_challenge_pass(ca: trustme.CA, ca_file: Path) -> None:
    with tls_server(server_context(ca, HOST, f"*.{HOST}")) as port:
        outcome = judge(request(port, ca_file), ping(request(port, ca_file)))
    assert outcome.status is Status.PASS, outcome
    assert outcome.details["realm"] == f"https://containers.{HOST}/token"
    assert outcome.details["api_version"] == "registry/2.0"


def test_certificate_without_the_wildcard_fails_with_a_certificate_remedy(
    ca: trustme.CA, ca_file: Path
) -> None:
    with tls_server(server_context(ca, HOST)) as port:
        outcome = judge(request(port, ca_file), ping(request(port, ca_file)))
    assert outcome.status is Status.FAIL, outcome
    assert "certificate" in outcome.summary.lower()
    assert outcome.remedy is not None and "*.HOSTNAME" in outcome.remedy


def test_untrusted_ca_fails_and_the_remedy_mentions_ca_file(ca: trustme.CA) -> None:
    with tls_server(server_context(ca, HOST, f"*.{HOST}")) as port:
        outcome = judge(request(port, None), ping(request(port, None)))
    assert outcome.status is Status.FAIL, outcome
    assert outcome.remedy is not None and "--ca-file" in outcome.remedy


def test_unrecognized_name_alert_fails_saying_the_name_is_not_served(
    ca: trustme.CA, ca_file: Path
) -> None:
    context = server_context(ca, HOST)

    def only_the_apex(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> int | None:
        return None if name == HOST else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME

    context.sni_callback = only_the_apex  # type: ignore[assignment]
    with tls_server(context) as port:
        outcome = judge(request(port, ca_file), ping(request(port, ca_file)))
    assert outcome.status is Status.FAIL, outcome
    assert "does not serve this name" in outcome.summary


def test_nothing_listening_is_an_error(ca_file: Path) -> None:
    with tls_server(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)) as port:
        pass  # the port is free again
    outcome = judge(request(port, ca_file), ping(request(port, ca_file)))
    assert outcome.status is Status.ERROR, outcome


def test_registry_status_command_against_a_real_server(
    cli: CliRunner, ca: trustme.CA, ca_file: Path
) -> None:
    with tls_server(server_context(ca, HOST, f"*.{HOST}")) as port:
        result = cli(
            "registry",
            "status",
            HOST,
            "--ca-file",
            str(ca_file),
            "--resolve",
            f".{HOST}:{ADDRESS}",
            "--format",
            "prometheus",
            env={"GHES_SETUP_CONNECTION_HTTPS_PORT": str(port)},
        )
    assert result.exit_code == 0, result
    assert (
        f'ghes_setup_check_status{{check="registry-ping",area="registry",host="{HOST}",'
        'status="pass"} 1'
    ) in result.stdout
