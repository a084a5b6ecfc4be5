"""The private test servers survive losing their port to another socket (the CI flake)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import ports
from tests.dns import servers
from tests.dns.servers import Dnsmasq, query
from tests.tls import servers as tls_servers
from tests.tls.servers import Nginx

pytestmark = pytest.mark.lab


@pytest.fixture
def squatter() -> Iterator[int]:
    """UDP and TCP sockets bound to 0.0.0.0:P, as a resolver's autobound source port would be.

    Bound, not listening: a listener would answer the servers' readiness probe itself.
    """
    port = ports.free_port("0.0.0.0", udp=True)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp.bind(("0.0.0.0", port))
    tcp.bind(("0.0.0.0", port))
    yield port
    udp.close()
    tcp.close()


def _first_taken(monkeypatch: pytest.MonkeyPatch, module: object, port: int) -> list[int]:
    handed: list[int] = []

    def pick(address: str, *, udp: bool = False) -> int:
        chosen = port if not handed else ports.free_port(address, udp=udp)
        handed.append(chosen)
        return chosen

    monkeypatch.setattr(module, "free_port", pick)
    return handed


def test_dnsmasq_restarts_on_a_fresh_port_when_its_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, squatter: int
) -> None:
    handed = _first_taken(monkeypatch, servers, squatter)
    server = Dnsmasq(tmp_path, ("ghe.lab.test",), ("--address=/ghe.lab.test/127.0.0.1",))
    try:
        assert handed[0] == squatter
        assert server.port != squatter and len(handed) == 2
        assert str(query(server.nameserver, "ghe.lab.test").a.rdata) == "127.0.0.1"
    finally:
        server.stop()


def test_nginx_restarts_on_a_fresh_port_when_its_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, squatter: int
) -> None:
    handed = _first_taken(monkeypatch, tls_servers, squatter)
    server = Nginx(tmp_path, {}).start()
    try:
        assert handed[0] == squatter
        assert server.port != squatter and len(handed) == 2
    finally:
        server.stop()


def test_free_ports_come_from_below_the_ephemeral_range() -> None:
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    low = int(ephemeral[0])
    picked = {ports.free_port("127.0.0.1", udp=True) for _ in range(50)}
    assert all(ports.PORT_RANGE[0] <= p < low for p in picked), sorted(picked)
    assert len(picked) > 40  # random, not a sequence the next caller could predict
