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
