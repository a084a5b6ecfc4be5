"""Right verdicts (issue 13 item 7) against the lab: a DNS timeout is `error` (Nagios
UNKNOWN), an expired certificate says expired, a registry answering 502 is "failing", and
`up` does not wait its registry timeout when nothing changed and the front door refuses."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, RR, A, DNSRecord

from ghes_setup.lab.handle import LabHandle
from tests.conftest import assert_no_traceback
from tests.e2e.conftest import site_variant

pytestmark = pytest.mark.lab


def by_id(doc: dict[str, object], check_id: str) -> dict[str, object]:
    return next(r for r in doc["results"] if r["id"] == check_id)  # type: ignore[union-attr,index]


class ApexOnlyDns:
    """A nameserver that answers HOSTNAME and is silent (times out) for every other name."""

    def __init__(self, address: str, hostname: str, answer: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hostname, self.answer = hostname, answer
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = DNSRecord.parse(data)
            if str(query.q.qname).rstrip(".").lower() != self.hostname:
                continue  # silence: the client times out
            reply = query.reply()
            if QTYPE[query.q.qtype] == "A":
                reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(self.answer), ttl=60))
            self.sock.sendto(reply.pack(), peer)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def apex_only_dns(registry_lab: LabHandle) -> Iterator[ApexOnlyDns]:
    server = ApexOnlyDns(registry_lab.address, registry_lab.hostname, registry_lab.address)
    yield server
    server.stop()


def test_a_dns_timeout_is_error_and_nagios_unknown_never_add_a_wildcard(
    registry_lab: LabHandle, run_tool, tmp_path: Path, apex_only_dns: ApexOnlyDns
) -> None:
    env = {"GHES_SETUP_CONNECTION_NAMESERVERS": f"{registry_lab.address}:{apex_only_dns.port}"}
    result = run_tool("check", "--format", "json", "--timeout", "1", env=env)
    assert_no_traceback(result)
    doc = result.json()
    for check_id in ("dns-wildcard", "dns-subdomains"):
        found = by_id(doc, check_id)
        assert found["status"] == "error", found
        assert "add the wildcard" not in str(found.get("remedy")), found
    failing = [r for r in doc["results"] if r["status"] == "fail"]
    assert not [r for r in failing if "wildcard" in str(r.get("remedy"))], failing
    nagios = run_tool("dns", "check", "--format", "nagios", "--timeout", "1", env=env)
    assert nagios.exit_code == 3, nagios
    assert nagios.stdout.startswith("GHES-SETUP UNKNOWN"), nagios.stdout


def test_an_expired_certificate_says_expired_not_ca_file(registry_lab: LabHandle, run_tool) -> None:
    registry_lab.fault("cert-expired")
    try:
        result = run_tool("check", "--format", "json")
    finally:
        registry_lab.clear_faults()
    served = by_id(result.json(), "tls-served")
    assert served["status"] == "fail", served
    assert "expired" in str(served["summary"]).lower(), served
    assert "--ca-file" not in str(served["remedy"]), served
    assert "renew" in str(served["remedy"]).lower(), served


def test_up_does_not_wait_its_registry_timeout_when_nothing_changed_and_the_door_is_shut(
    registry_lab: LabHandle, run_tool, tmp_path: Path
) -> None:
    settle = run_tool("up", "--yes", "--no-smoke")
    assert settle.exit_code == 0, settle
    closed = socket.socket()
    closed.bind((registry_lab.address, 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connections are refused
    site = site_variant(registry_lab, tmp_path, {"connection.https_port": str(port)})
    started = time.monotonic()
    result = run_tool("up", "--site", str(site), "--yes", "--no-smoke", "--registry-timeout", "60")
    took = time.monotonic() - started
    assert result.exit_code != 0, result
    assert took < 30, f"up waited {took:.0f} s for a registry nothing could bring up: {result}"
    assert "is set up" not in result.stdout
