"""SshTransport specifics against the lab's OpenSSH: utilities, one connection, few execs."""

from __future__ import annotations

import time
from pathlib import Path

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
        assert (transport.connection.connections, transport.connection.execs) == (1, 3)


def test_an_ecosystem_key_set_to_an_empty_value_reads_as_unset(fresh_lab: LabHandle) -> None:
    # ghe-config prints an empty value for it (exit 0): unset, which GHES reads as enabled;
    # before, the empty text failed to decode ("expected true, false or readonly").
    with ssh_transport(fresh_lab) as t:
        t.write_keys({"app.packages.npm-enabled": ""})
        try:
            assert t.read_settings(["packages.ecosystems.npm"])["packages.ecosystems.npm"] is None
        finally:
            t.write_keys({"app.packages.npm-enabled": None})


def test_a_connection_made_ahead_runs_nothing_and_serves_the_first_exec(
    fresh_lab: LabHandle,
) -> None:
    with ssh_transport(fresh_lab) as transport:
        c = transport.connection
        transport.connect_ahead()
        transport.connect_ahead()  # one connection, however often it is asked
        deadline = time.monotonic() + 10
        while c.sessions == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Logged in with one session channel open, and nothing run on it.
        assert (c.connections, c.sessions, c.execs) == (1, 1, 0)
        assert transport.identify(["packages.enabled"]).hostname == fresh_lab.hostname
        # The first exec ran on the channel opened ahead; the next one opens its own.
        assert (c.connections, c.sessions, c.execs) == (1, 1, 1)
        transport.identify()
        assert (c.connections, c.sessions, c.execs) == (1, 2, 2)


def test_a_connection_made_ahead_and_closed_at_once_is_not_used_again(
    fresh_lab: LabHandle,
) -> None:
    transport = ssh_transport(fresh_lab)
    transport.connect_ahead()
    transport.close()  # before the handshakes end: the connecting thread closes its result
    transport.identify()  # a later call connects anew
    assert (transport.connection.connections, transport.connection.execs) == (2, 1)
    transport.close()


def test_accept_new_host_key_connects_only_when_used(fresh_lab: LabHandle, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    transport = ssh_transport(fresh_lab, known_hosts=known, accept_new_host_key=True)
    transport.connect_ahead()
    time.sleep(0.3)
    assert transport.connection.connections == 0  # no connection, no key added for nothing
    assert not known.exists()
    transport.close()
