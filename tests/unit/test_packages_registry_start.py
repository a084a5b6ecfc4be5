"""`registry start` against the fake appliance, with /v2/ served by httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import ghes_setup.runbooks.registry_start as runbook
from ghes_setup import exit_codes
from ghes_setup.appliance.apply import ApplyOptions, Clock
from ghes_setup.appliance.fake import FakeAppliance, FakeStorage
from ghes_setup.appliance.service import Connect
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.checks import CheckResult, Report, Status
from ghes_setup.config.site import PackagesSettings, Site, TlsSettings
from ghes_setup.errors import UnsupportedVersion
from ghes_setup.registry.check_ping import PingRequest
from ghes_setup.runbooks.registry_start import (
    RegistryNotAnswering,
    StartOptions,
    start_registry,
)

HOST = "ghe.example.com"
URL = "http://minio.example.com:9000"
ENV = {"GHES_SETUP_S3_ACCESS_KEY": "AKIAEXAMPLE1", "GHES_SETUP_S3_SECRET_KEY": "s3-secret-42"}
STORAGE = FakeStorage("s3", URL, "pkgs", "AKIAEXAMPLE1", "s3-secret-42")
BEARER = f'Bearer realm="https://containers.{HOST}/token",service="containers.{HOST}"'


def site(tls: TlsSettings | None = None) -> Site:
    return Site(
        hostname=HOST,
        tls=tls or TlsSettings(),
        packages=PackagesSettings(enabled=True, storage="minio", service_url=URL, bucket="pkgs"),
    )


class Clockwork:
    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, sleep=self.sleep)

    def sleep(self, s: float) -> None:
        self.t += s


def registry_of(fake: FakeAppliance) -> Callable[[PingRequest], httpx.Client]:
    """/v2/ answers like the appliance: a challenge once Packages, the container ecosystem and
    isolation are applied (here: once a configuration run succeeded with them set)."""

    def handle(request: httpx.Request) -> httpx.Response:
        applied = any(r.successful for r in fake.runs.values())
        ready = (
            applied
            and fake.value("packages.enabled") is True
            and fake.value("subdomain_isolation") is True
            and fake.value("packages.ecosystems.container") != "disabled"
        )
        if ready:
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        return httpx.Response(404, json={"errors": [{"code": "UNAVAILABLE"}]})

    return lambda request: httpx.Client(transport=httpx.MockTransport(handle))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[ApplianceTransport]:
    box: list[ApplianceTransport] = []

    def reopen(connect: Connect, progress: object = None) -> ApplianceTransport:
        if isinstance(box[0], FakeAppliance):
            box[0].closed = False
        return box[0]

    monkeypatch.setattr(runbook, "open_appliance", reopen)
    return box


def start(
    fake: FakeAppliance,
    opened: list[ApplianceTransport],
    tmp_path: Path,
    *,
    the_site: Site | None = None,
    http: Callable[[PingRequest], httpx.Client] | None = None,
    wait_s: float = 60,
    tls_gate: Callable[[Site], Report] | None = None,
) -> runbook.StartOutcome:
    opened[:] = [fake]
    return start_registry(
        Connect(site=the_site or site()),
        tls_gate=tls_gate,
        options=StartOptions(
            apply=ApplyOptions(snapshot_dir=tmp_path / "snap", poll_s=0.5), wait_s=wait_s
        ),
        environ=ENV,
        clock=Clockwork().clock(),
        http_factory=http or registry_of(fake),
    )


def test_start_applies_isolation_packages_and_container_once_then_sees_the_challenge(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=STORAGE, settings={"subdomain_isolation": False})
    outcome = start(fake, opened, tmp_path)
    assert fake.value("subdomain_isolation") is True
    assert fake.value("packages.enabled") is True
    assert fake.value("packages.ecosystems.container") == "enabled"  # not in the site: enabled
    assert len(fake.run_order) == 1 and fake.writes == 1
    assert outcome.precheck is not None and outcome.blob_check is not None
    assert outcome.wait is not None and outcome.wait.result.status is Status.PASS
    assert outcome.wait.answer.realm == f"https://containers.{HOST}/token"
    assert "hostname" not in outcome.apply.plan.desired  # never ours to change


def test_second_start_changes_nothing_and_only_checks(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=STORAGE, settings={"subdomain_isolation": False})
    start(fake, opened, tmp_path)
    again = start(fake, opened, tmp_path)
    assert again.apply.plan.empty and again.precheck is None
    assert len(fake.run_order) == 1
    assert again.wait is not None and again.wait.ok


def test_old_appliance_is_refused_with_exit_5_before_anything_is_written(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(version="3.4.9", storage=STORAGE)
    with pytest.raises(UnsupportedVersion) as info:
        start(fake, opened, tmp_path)
    assert "3.5" in info.value.message
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.UNSUPPORTED
    assert fake.writes == 0 and fake.utility_calls == []


def test_timeout_is_exit_1_naming_what_v2_last_answered(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=STORAGE, settings={"subdomain_isolation": False})

    def never(request: PingRequest) -> httpx.Client:
        return httpx.Client(
            transport=httpx.MockTransport(lambda r: httpx.Response(503, text="starting"))
        )

    with pytest.raises(RegistryNotAnswering) as info:
        start(fake, opened, tmp_path, http=never, wait_s=30)
    assert "within 30 s" in info.value.message and "HTTP 503" in info.value.message
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.CHECK_FAILED
    assert len(fake.run_order) == 1  # the apply happened; only the wait failed


def test_timeout_with_nothing_to_change_hints_at_an_unapplied_configuration(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=STORAGE, settings={"subdomain_isolation": False})
    start(fake, opened, tmp_path)
    fake.runs.clear()  # as if the settings were written but never applied
    with pytest.raises(RegistryNotAnswering) as info:
        start(fake, opened, tmp_path, wait_s=5)
    assert "ghe-config-apply" in (info.value.hint or "")


def test_site_certificate_goes_through_the_tls_gate_in_the_same_run(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    import trustme

    leaf = trustme.CA().issue_cert(HOST, f"*.{HOST}")
    cert, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    gated: list[Site] = []

    def gate(s: Site) -> Report:
        gated.append(s)
        return Report("tls check", (CheckResult("tls-key-match", "tls", Status.PASS, "ok"),))

    fake = FakeAppliance(storage=STORAGE, settings={"subdomain_isolation": False})
    outcome = start(
        fake, opened, tmp_path, the_site=site(TlsSettings(cert=cert, key=key)), tls_gate=gate
    )
    assert len(gated) == 1
    assert {"tls.cert", "tls.key", "subdomain_isolation"} <= set(outcome.apply.plan.changed_names)
    assert len(fake.run_order) == 1


def test_a_cluster_is_refused_with_exit_5_before_anything_is_written(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    from ghes_setup.errors import RefusedTarget

    fake = FakeAppliance(storage=STORAGE, topology="Cluster")
    before = dict(fake.store)
    with pytest.raises(RefusedTarget, match="does not support clustering") as info:
        start(fake, opened, tmp_path)
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.UNSUPPORTED
    assert fake.store == before and fake.writes == 0 and fake.utility_calls == []
