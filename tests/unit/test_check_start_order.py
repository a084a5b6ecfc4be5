"""`run_check` loads the check modules once the appliance has answered its first requests, or
after FIRST_ANSWER_WAIT_S: the appliance's chain is the longest of a `check` run and its first
steps are CPU work that the imports would slow (docs/performance.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pytest

from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.transport import ApplianceInfo
from ghes_setup.config.site import Site
from ghes_setup.net import SystemResolver
from ghes_setup.runbooks import check as check_runbook
from ghes_setup.runbooks.context import PipelineContext


class SlowToAnswer(FakeAppliance):
    """An appliance whose identify answers when the test says so."""

    def __init__(self) -> None:
        super().__init__(hostname="ghe.example.com")
        self.go = threading.Event()
        self.answered = threading.Event()

    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        self.go.wait(10)
        info = super().identify(prefetch)
        self.answered.set()
        return info


def _context(monkeypatch: pytest.MonkeyPatch, appliance: FakeAppliance) -> PipelineContext:
    ctx = PipelineContext(site=Site(hostname="ghe.example.com"), resolver=SystemResolver())
    monkeypatch.setattr(ctx, "transport", lambda: appliance)
    return ctx


def _record_table_load(monkeypatch: pytest.MonkeyPatch, appliance: SlowToAnswer) -> list[bool]:
    """Replace the check table by an empty one; note whether the appliance had answered."""
    seen: list[bool] = []

    def table(*, smoke: bool = False) -> check_runbook.Adapted:
        seen.append(appliance.answered.is_set())
        appliance.go.set()  # let the run end
        return ()

    monkeypatch.setattr(check_runbook, "check_table", table)
    return seen


def test_the_check_modules_load_after_the_appliances_first_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appliance = SlowToAnswer()
    seen = _record_table_load(monkeypatch, appliance)
    threading.Timer(0.1, appliance.go.set).start()
    check_runbook.run_check(_context(monkeypatch, appliance))
    assert seen == [True]


def test_an_appliance_that_does_not_answer_holds_the_other_checks_back_only_so_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(check_runbook, "FIRST_ANSWER_WAIT_S", 0.2)
    appliance = SlowToAnswer()
    seen = _record_table_load(monkeypatch, appliance)
    started = time.monotonic()
    check_runbook.run_check(_context(monkeypatch, appliance))
    assert seen == [False]  # loaded while the appliance still had not answered
    assert 0.2 <= time.monotonic() - started < 5


def test_await_appliance_without_a_started_appliance_returns_at_once() -> None:
    ctx = PipelineContext(site=Site(hostname="ghe.example.com"), resolver=SystemResolver())
    started = time.monotonic()
    assert ctx.await_appliance(5)
    assert time.monotonic() - started < 1


# --- the storage test starts once packages-enabled is known to pass, not when the runner gets
# to packages-storage (after the check modules have loaded)

STORAGE_URL = "http://minio.example.com:9000"


def _packages_appliance(bucket: str = "pkgs") -> FakeAppliance:
    from ghes_setup.appliance.fake import FakeStorage
    from ghes_setup.secrets import Secret

    return FakeAppliance(
        settings={
            "packages.enabled": True,
            "packages.storage_type": "s3",
            "packages.service_url": STORAGE_URL,
            "packages.bucket": bucket,
            "packages.s3_access_key": Secret("AK"),
            "packages.s3_secret_key": Secret("SK"),
        },
        storage=FakeStorage("s3", STORAGE_URL, "pkgs", "AK", "SK"),
    )


def _packages_context(monkeypatch: pytest.MonkeyPatch, appliance: FakeAppliance) -> PipelineContext:
    from ghes_setup.config.site import PackagesSettings

    packages = PackagesSettings(storage="minio", service_url=STORAGE_URL, bucket="pkgs")
    site = Site(hostname="ghe.example.com", packages=packages)
    ctx = PipelineContext(site=site, resolver=SystemResolver())
    monkeypatch.setattr(ctx, "transport", lambda: appliance)
    return ctx


def _packages_table(
    monkeypatch: pytest.MonkeyPatch, appliance: FakeAppliance, wait_s: float = 5.0
) -> list[bool]:
    """The appliance-reachable and Packages checks; the table notes, when it loads, whether the
    storage test has run by then (it waits up to `wait_s` for it)."""
    from ghes_setup.checks.catalogue import CheckId, Pipeline

    seen: list[bool] = []

    def table(*, smoke: bool = False) -> check_runbook.Adapted:
        deadline = time.monotonic() + wait_s
        while BLOB_CHECK not in _utilities(appliance) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(BLOB_CHECK in _utilities(appliance))
        pipeline = Pipeline.CHECK
        return check_runbook.pipeline_checks(
            pipeline, only=CheckId.APPLIANCE_REACHABLE
        ) + check_runbook.pipeline_checks(pipeline, area="packages")

    monkeypatch.setattr(check_runbook, "check_table", table)
    return seen


BLOB_CHECK = "ghe-check-blob-connection"


def _utilities(appliance: FakeAppliance) -> list[str]:
    return [argv[0] for argv in list(appliance.utility_calls)]


def test_the_storage_test_starts_before_the_check_modules_load_and_runs_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appliance = _packages_appliance()
    seen = _packages_table(monkeypatch, appliance)
    report = check_runbook.run_check(_packages_context(monkeypatch, appliance))
    assert seen == [True]
    assert _utilities(appliance) == [BLOB_CHECK]  # packages-storage took the early answer
    by_id = {r.id: r for r in report.results}
    assert by_id["packages-enabled"].status.value == "pass"
    assert by_id["packages-storage"].status.value == "pass"


def test_no_storage_test_ahead_when_packages_enabled_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appliance = _packages_appliance(bucket="other")  # not the site file's bucket
    monkeypatch.setattr(check_runbook, "FIRST_ANSWER_WAIT_S", 0.2)
    seen = _packages_table(monkeypatch, appliance, wait_s=0.3)
    report = check_runbook.run_check(_packages_context(monkeypatch, appliance))
    assert seen == [False]
    assert _utilities(appliance) == []  # packages-storage is skipped: nothing ran it
    by_id = {r.id: r for r in report.results}
    assert by_id["packages-enabled"].status.value == "fail"
    assert by_id["packages-storage"].status.value == "skip"
