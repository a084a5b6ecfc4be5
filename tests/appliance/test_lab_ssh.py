"""SshTransport specifics against the lab's OpenSSH: utilities, one connection, few execs."""

from __future__ import annotations

import pytest

from ghes_setup import facts
from ghes_setup.lab.handle import LabHandle
from tests.appliance.conftest import ssh_transport

pytestmark = pytest.mark.lab


def test_run_utility_passes_arguments_and_stdin_verbatim(fresh_lab: LabHandle) -> None:
    with ssh_transport(fresh_lab) as transport:
        rc, out = transport.run_utility(["ghe-version"])
        assert rc == 0 and fresh_lab.ghes_version in out
        rc, out = transport.run_utility(["cat"], stdin=b"line one\n$(id) 'two'\n")
        assert (rc, out) == (0, "line one\n$(id) 'two'\n")
        rc, _ = transport.run_utility(["false"])
        assert rc == 1


def test_a_whole_read_plan_write_cycle_uses_one_connection_and_few_execs(
    fresh_lab: LabHandle,
) -> None:
    names = [s.name for s in facts.SETTINGS]
    with ssh_transport(fresh_lab) as transport:
        transport.identify(prefetch=names)
        current = transport.read_settings(names)  # served by identify's exec
        assert current["subdomain_isolation"] is False
        transport.write_settings({"subdomain_isolation": True, "packages.enabled": False})
        assert transport.read_settings(["subdomain_isolation"])["subdomain_isolation"] is True
        assert (transport.connections, transport.execs) == (1, 3)
