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


def test_an_ecosystem_key_set_to_an_empty_value_reads_as_unset(fresh_lab: LabHandle) -> None:
    # ghe-config prints an empty value for it (exit 0): unset, which GHES reads as enabled;
    # before, the empty text failed to decode ("expected true, false or readonly").
    with ssh_transport(fresh_lab) as t:
        t.write_keys({"app.packages.npm-enabled": ""})
        try:
            assert t.read_settings(["packages.ecosystems.npm"])["packages.ecosystems.npm"] is None
        finally:
            t.write_keys({"app.packages.npm-enabled": None})
