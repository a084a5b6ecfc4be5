"""The read-only appliance checks, against the in-memory fake."""

from __future__ import annotations

import pytest

from ghes_setup.appliance.context import Remembered
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.status import check_appliance
from ghes_setup.checks import Status
from ghes_setup.errors import Unreachable

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def statuses(fake: FakeAppliance) -> dict[str, Status]:
    report = check_appliance(fake, target="ghe.example.com")
    return {r.id: r.status for r in report.results}


def test_a_configured_appliance_passes_every_check() -> None:
    fake = FakeAppliance(
        settings={"subdomain_isolation": True, "tls.enabled": True, "tls.cert": PEM}
    )
    fake.start_apply("r1")
    while fake.apply_status("r1").running:
        pass
    assert set(statuses(fake).values()) == {Status.PASS}
    assert fake.reads == 1  # one settings read shared by the checks


def test_isolation_off_and_no_certificate_fail_with_remedies() -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False, "tls.enabled": True})
    report = check_appliance(fake)
    assert report.by_id("subdomain-isolation").status is Status.FAIL
    assert "config apply" in (report.by_id("subdomain-isolation").remedy or "")
    assert report.by_id("tls-enabled").status is Status.FAIL
    assert "no certificate" in report.by_id("tls-enabled").summary


def test_old_releases_warn_or_fail_on_version() -> None:
    assert statuses(FakeAppliance(version="3.11.2"))["appliance-version"] is Status.WARN
    assert statuses(FakeAppliance(version="3.4.9"))["appliance-version"] is Status.FAIL


def test_a_failed_last_run_fails_with_its_first_error() -> None:
    fake = FakeAppliance()
    fake.fail_next_apply("Reloading application services")
    fake.start_apply("r1")
    while fake.apply_status("r1").running:
        pass
    result = check_appliance(fake).by_id("appliance-config-apply")
    assert result.status is Status.FAIL
    assert "Reloading application services failed" in result.summary


def test_a_running_apply_warns() -> None:
    fake = FakeAppliance(apply_polls=100)
    fake.start_apply("r1")
    assert statuses(fake)["appliance-config-apply"] is Status.WARN


def test_unreachable_is_could_not_check_and_skips_the_rest() -> None:
    fake = FakeAppliance()
    fake.unreachable = True
    got = statuses(fake)
    assert got["appliance-reachable"] is Status.ERROR
    assert {got[i] for i in got if i != "appliance-reachable"} == {Status.SKIP}


def test_an_answer_or_its_error_is_asked_for_once() -> None:
    calls: list[str] = []

    def refused() -> str:
        calls.append("asked")
        raise Unreachable("ghe.example.com:122: connection refused")

    failing: Remembered[str] = Remembered()
    with pytest.raises(Unreachable) as first:
        failing.get(refused)
    with pytest.raises(Unreachable) as second:
        failing.get(refused)
    assert second.value is first.value and calls == ["asked"]

    answered: Remembered[str] = Remembered()
    assert answered.get(lambda: "3.14.2") == "3.14.2"
    assert answered.get(lambda: "never asked") == "3.14.2"


def test_a_bug_is_not_remembered() -> None:
    remembered: Remembered[str] = Remembered()
    with pytest.raises(KeyError):
        remembered.get(lambda: {}["missing"])
    assert remembered.get(lambda: "asked again") == "asked again"
