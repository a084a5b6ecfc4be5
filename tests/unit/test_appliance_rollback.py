"""Rollback picks the right snapshot and restores only what its run changed; a snapshot's
values are validated like a site file's before anything is written (issue 13 items 2, 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ghes_setup.appliance import checkpoint as checkpoints
from ghes_setup.appliance.apply import ApplyOptions, Clock, apply_site, rollback
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.config.site import Connection, Site
from ghes_setup.errors import ApplyFailed, InputError

HOST = "ghe.example.com"


def fast() -> Clock:
    return Clock(sleep=lambda _s: None)


def options(tmp_path: Path) -> ApplyOptions:
    return ApplyOptions(snapshot_dir=tmp_path / "snapshots", poll_s=0.5)


def site(address: str | None = None, isolation: bool = True) -> Site:
    return Site(
        hostname=HOST,
        subdomain_isolation=isolation,
        connection=Connection(address=address),
    )


def failed_apply(fake: FakeAppliance, tmp_path: Path, address: str | None = None) -> Path:
    fake.fail_next_apply("Reloading application services")
    with pytest.raises(ApplyFailed) as info:
        apply_site(fake, site(address), tls_gate=None, options=options(tmp_path), clock=fast())
    assert info.value.snapshot
    return Path(info.value.snapshot)


def test_snapshots_are_named_by_the_appliance_and_the_run(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    path = failed_apply(fake, tmp_path, "10.0.0.5")
    assert re.fullmatch(
        r"ghe\.example\.com@10\.0\.0\.5-ghes-setup-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}\.json", path.name
    ), path.name
    record = checkpoints.load(path)
    assert record.run_id and record.run_id in path.name and record.run_id == fake.run_order[-1]
    assert record.changed == ("subdomain_isolation",) and record.state == checkpoints.FAILED


def test_rollback_without_a_path_takes_the_last_run_against_this_appliance(
    tmp_path: Path,
) -> None:
    """Two appliances behind the same name (a primary and a rehearsal lab): each its own."""
    first = FakeAppliance(settings={"subdomain_isolation": False})
    other = FakeAppliance(settings={"subdomain_isolation": False})
    mine = failed_apply(first, tmp_path, "10.0.0.5")
    failed_apply(other, tmp_path, "10.0.0.6")  # later, another appliance, same hostname
    outcome = rollback(first, site("10.0.0.5"), options=options(tmp_path), clock=fast())
    assert outcome.plan.changed_names == ("subdomain_isolation",)
    assert first.value("subdomain_isolation") is False
    assert other.value("subdomain_isolation") is True  # untouched
    assert checkpoints.latest(HOST, tmp_path / "snapshots", f"{HOST}@10.0.0.5") == mine


def test_rollback_restores_only_what_its_run_changed(tmp_path: Path) -> None:
    """The snapshot holds every setting of the plan; the rollback plans only the changed ones
    (tests/e2e/test_pending.py shows a certificate installed meanwhile surviving it)."""
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    path = failed_apply(fake, tmp_path)
    record = checkpoints.load(path)
    assert set(record.settings) == {"hostname", "subdomain_isolation"}
    assert dict(record.restorable) == {"subdomain_isolation": False}
    outcome = rollback(fake, site(), path, options=options(tmp_path), clock=fast())
    assert outcome.plan.changed_names == ("subdomain_isolation",)
    assert set(outcome.plan.desired) == {"subdomain_isolation"}


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("hostname", "not a host name", "hostname"),
        ("tls.cert", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
         "PEM"),
        ("packages.ecosystems.npm", "sometimes", "enabled, read-only, disabled"),
    ],
)  # fmt: skip
def test_a_damaged_snapshot_is_refused_before_anything_is_written(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    path = failed_apply(fake, tmp_path)
    raw = json.loads(path.read_text())
    raw["settings"][setting] = value
    raw["changed"] = sorted({*raw["changed"], setting})
    path.write_text(json.dumps(raw))
    writes = fake.writes
    with pytest.raises(InputError, match=re.escape(message)):
        rollback(fake, site(), path, options=options(tmp_path), clock=fast())
    assert fake.writes == writes
