"""The contract every ApplianceTransport keeps: the fake, SSH to the lab, the Manage API to
the lab. The same assertions, whatever is behind the transport."""

from __future__ import annotations

import time
import uuid

import pytest

from ghes_setup.appliance.transport import ApplyStatus, SettingsRejected, same_value
from ghes_setup.facts import GhesVersion
from ghes_setup.secrets import Secret
from tests.appliance.conftest import Subject

CORE = ["hostname", "subdomain_isolation", "tls.enabled", "tls.cert", "tls.key"]


def test_identify_reports_the_appliances_version(subject: Subject) -> None:
    info = subject.transport.identify()
    assert info.version == GhesVersion.parse(subject.version)
    assert not info.is_replica
    assert info.topology == "SingleNode"


def test_a_fresh_appliance_reads_as_fresh(subject: Subject) -> None:
    got = subject.transport.read_settings(CORE)
    assert list(got) == CORE
    assert got["hostname"] == subject.hostname
    assert got["subdomain_isolation"] is False
    assert got["tls.enabled"] is True
    assert got["tls.cert"] is None and got["tls.key"] is None


def test_values_round_trip_including_multi_line_pem_and_a_secret(
    subject: Subject, pem_pair: tuple[str, str]
) -> None:
    chain, key = pem_pair
    wanted = {
        "subdomain_isolation": True,
        "tls.cert": chain,
        "tls.key": Secret(key, "test key"),
    }
    subject.transport.write_settings(wanted)
    got = subject.transport.read_settings(list(wanted))
    for name, value in wanted.items():
        assert same_value(name, got[name], value), name
    assert isinstance(got["tls.key"], Secret)
    assert key.splitlines()[1] not in repr(got)


def test_one_invalid_value_writes_nothing(subject: Subject, pem_pair: tuple[str, str]) -> None:
    before = subject.transport.read_settings(CORE)
    with pytest.raises(SettingsRejected):
        subject.transport.write_settings(
            {
                "subdomain_isolation": True,
                "tls.key": Secret(pem_pair[1]),
                "tls.cert": "this is not a certificate",
            }
        )
    assert subject.transport.read_settings(CORE) == before


def test_unsetting_a_value_reads_back_as_not_set(
    subject: Subject, pem_pair: tuple[str, str]
) -> None:
    subject.transport.write_settings({"tls.cert": pem_pair[0]})
    subject.transport.write_settings({"tls.cert": None})
    assert subject.transport.read_settings(["tls.cert"])["tls.cert"] is None


def wait_done(subject: Subject, run_id: str, timeout: float = 60) -> ApplyStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = subject.transport.apply_status(run_id)
        if status.known and not status.running:
            return status
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {status}"
        time.sleep(0.05)


def test_config_apply_runs_to_success_with_readable_status_and_events(subject: Subject) -> None:
    run = subject.transport.start_apply(f"contract-{uuid.uuid4().hex[:12]}")
    assert run.run_id
    status = wait_done(subject, run.run_id)
    assert status.successful and not status.failed
    batch = subject.transport.apply_events(None)
    bodies = [e.body for e in batch.events]
    assert any("complete" in b.lower() for b in bodies), bodies
    assert not any(e.is_error for e in batch.events)
    assert batch.cursor
    later = subject.transport.apply_events(batch.cursor)
    assert later.events == ()


def test_status_of_an_unknown_run_is_unknown(subject: Subject) -> None:
    assert not subject.transport.apply_status("no-such-run").known


def test_supports_the_documented_fields(subject: Subject) -> None:
    for name in CORE:
        assert subject.transport.supports(name)
