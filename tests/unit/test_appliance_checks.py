"""The read-only appliance checks, against the in-memory fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup.appliance.context import Remembered
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.status import check_appliance
from ghes_setup.checks import Status
from ghes_setup.config.site import Site, TlsSettings
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


# ------------------------------------------------------------- compared with the site file
def _site(tmp_path: Path, cert: str = PEM, **kw: object) -> Site:
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "key.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    )
    tls = TlsSettings(cert=tmp_path / "cert.pem", key=tmp_path / "key.pem")
    return Site(hostname="ghe.example.com", tls=tls, **kw)  # type: ignore[arg-type]


def _configured(**settings: object) -> FakeAppliance:
    base = {
        "hostname": "ghe.example.com",
        "subdomain_isolation": True,
        "tls.enabled": True,
        "tls.cert": PEM,
    }
    return FakeAppliance(settings={**base, **settings})


def test_the_site_files_certificate_installed_passes_whitespace_aside(tmp_path: Path) -> None:
    site = _site(tmp_path, cert=PEM.replace("\n", "\r\n") + "\n")
    report = check_appliance(_configured(), site=site)
    assert report.by_id("tls-enabled").status is Status.PASS
    assert report.by_id("subdomain-isolation").status is Status.PASS


def test_another_certificate_installed_than_the_site_files_fails(tmp_path: Path) -> None:
    other = PEM.replace("MIIB", "MIIC")
    result = check_appliance(_configured(**{"tls.cert": other}), site=_site(tmp_path))
    tls = result.by_id("tls-enabled")
    assert tls.status is Status.FAIL
    assert "not the site file's (cert.pem)" in tls.summary and "config apply" in (tls.remedy or "")
    assert tls.details["site_certificate"] != tls.details["certificate"]


def test_an_unreadable_site_certificate_is_an_error_not_a_pass(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (tmp_path / "cert.pem").unlink()
    assert check_appliance(_configured(), site=site).by_id("tls-enabled").status is Status.ERROR


def test_another_stored_hostname_than_the_site_files_fails(tmp_path: Path) -> None:
    fake = _configured(hostname="ghe-staging.example.com")
    result = check_appliance(fake, site=_site(tmp_path)).by_id("subdomain-isolation")
    assert result.status is Status.FAIL
    assert "ghe-staging.example.com" in result.summary


def test_isolation_on_while_the_site_file_turns_it_off_fails(tmp_path: Path) -> None:
    site = _site(tmp_path, subdomain_isolation=False)
    result = check_appliance(_configured(), site=site).by_id("subdomain-isolation")
    assert result.status is Status.FAIL and "turns it off" in result.summary
