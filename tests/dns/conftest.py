"""Fixtures that start real DNS servers and stop them (by PID / socket) at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.dns.servers import Dnsmasq, ScriptedDns, SilentUdp

ZONE = "ghe.lab.test"
APEX = "127.0.0.1"


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[Callable[..., Dnsmasq]]:
    """`dnsmasq(*options, zones=(ZONE,))` starts an instance; all are stopped afterwards."""
    started: list[Dnsmasq] = []

    def start(*options: str, zones: Sequence[str] = (ZONE,)) -> Dnsmasq:
        server = Dnsmasq(tmp_path, zones, options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def scripted_dns() -> Iterator[Callable[..., ScriptedDns]]:
    started: list[ScriptedDns] = []

    def start(**kw: Any) -> ScriptedDns:
        server = ScriptedDns(ZONE, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def silent_udp() -> Iterator[SilentUdp]:
    server = SilentUdp()
    yield server
    server.stop()
