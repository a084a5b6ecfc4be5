"""The runner: concurrency, `requires`, exceptions as data, order, worst()."""

from __future__ import annotations

import threading
import time

import pytest

from ghes_setup.checks import Outcome, Status, check, run_checks, worst
from ghes_setup.errors import Unreachable
from ghes_setup.secrets import Secret


class Ctx:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.lock = threading.Lock()

    def mark(self, name: str) -> None:
        with self.lock:
            self.started.append(name)


def _slow(check_id: str, status: Status = Status.PASS, delay: float = 0.2, requires=()):
    @check(check_id, area="dns", requires=requires)
    def run(ctx: Ctx) -> Outcome:
        ctx.mark(check_id)
        time.sleep(delay)
        return Outcome(status, f"{check_id} done")

    return run


def test_independent_checks_run_concurrently() -> None:
    checks = [_slow(f"c-{i}") for i in range(5)]
    start = time.perf_counter()
    results = run_checks(checks, Ctx())
    elapsed = time.perf_counter() - start
    assert [r.status for r in results] == [Status.PASS] * 5
    assert elapsed < 0.6, f"5 checks of 0.2 s took {elapsed:.2f} s: not concurrent"


def test_results_come_back_in_the_given_order_not_completion_order() -> None:
    checks = [_slow("a-slow", delay=0.3), _slow("b-fast", delay=0.0)]
    assert [r.id for r in run_checks(checks, Ctx())] == ["a-slow", "b-fast"]


def test_dependant_runs_after_its_requirement() -> None:
    ctx = Ctx()
    checks = [_slow("child", requires=("parent",), delay=0), _slow("parent", delay=0.1)]
    results = run_checks(checks, ctx)
    assert ctx.started == ["parent", "child"]
    assert [r.status for r in results] == [Status.PASS, Status.PASS]


@pytest.mark.parametrize("parent_status", [Status.FAIL, Status.ERROR, Status.SKIP])
def test_dependant_is_skipped_with_reason_when_requirement_did_not_pass(
    parent_status: Status,
) -> None:
    checks = [_slow("parent", parent_status, delay=0), _slow("child", requires=("parent",))]
    child = run_checks(checks, Ctx())[1]
    assert child.status is Status.SKIP
    assert "parent" in child.summary and parent_status.value in child.summary
    assert child.details["blocked_by"] == ["parent"]


def test_a_requirement_declared_twice_is_named_once_in_the_skip() -> None:
    """A pipeline may add a requirement the check already declares (`adapt(..., requires=)`)."""
    checks = [
        _slow("parent", Status.FAIL, delay=0),
        _slow("child", requires=("parent", "parent")),
    ]
    child = run_checks(checks, Ctx())[1]
    assert child.summary == "not run: requires parent (fail)"
    assert child.details["blocked_by"] == ["parent"]


def test_skip_chain_listed_before_its_requirements_is_not_mistaken_for_a_cycle() -> None:
    checks = [
        _slow("grandchild", requires=("child",), delay=0),
        _slow("child", requires=("parent",), delay=0),
        _slow("parent", Status.FAIL, delay=0),
    ]
    results = run_checks(checks, Ctx())
    assert [r.status for r in results] == [Status.SKIP, Status.SKIP, Status.FAIL]


def test_warning_requirement_still_lets_dependants_run() -> None:
    checks = [_slow("parent", Status.WARN, delay=0), _slow("child", requires=("parent",))]
    assert run_checks(checks, Ctx())[1].status is Status.PASS


def test_requirement_outside_the_run_counts_as_met() -> None:
    results = run_checks([_slow("child", requires=("not-selected",), delay=0)], Ctx())
    assert results[0].status is Status.PASS


def test_exception_in_check_becomes_error_result_with_reason() -> None:
    @check("boom", area="tls")
    def boom(ctx: Ctx) -> Outcome:
        raise RuntimeError("disk on fire")

    result = run_checks([boom], Ctx())[0]
    assert result.status is Status.ERROR
    assert "RuntimeError" in result.summary and "disk on fire" in result.summary
    assert result.remedy and "bug" in result.remedy


def test_ghes_setup_error_in_check_keeps_message_and_hint() -> None:
    @check("net", area="dns")
    def net(ctx: Ctx) -> Outcome:
        raise Unreachable("10.0.0.5:122 refused", hint="open port 122")

    result = run_checks([net], Ctx())[0]
    assert (result.status, result.summary, result.remedy) == (
        Status.ERROR,
        "10.0.0.5:122 refused",
        "open port 122",
    )


def test_exception_text_is_scrubbed_of_secrets() -> None:
    token = Secret("ghp_verysecretvalue123", "GHES_SETUP_TOKEN")

    @check("leaky", area="registry")
    def leaky(ctx: Ctx) -> Outcome:
        raise ValueError(f"bad header Authorization: token {token.reveal()}")

    result = run_checks([leaky], Ctx())[0]
    assert token.reveal() not in result.summary
    assert "********" in result.summary


def test_duplicate_ids_and_cycles_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        run_checks([_slow("x"), _slow("x")], Ctx())
    with pytest.raises(ValueError, match="circular"):
        run_checks([_slow("a", requires=("b",)), _slow("b", requires=("a",))], Ctx())


def test_duration_is_measured() -> None:
    result = run_checks([_slow("timed", delay=0.05)], Ctx())[0]
    assert 0.04 < result.duration_s < 1


def test_on_result_callback_sees_every_result() -> None:
    seen: list[str] = []
    run_checks(
        [_slow("p", delay=0), _slow("q", delay=0)], Ctx(), on_result=lambda r: seen.append(r.id)
    )
    assert sorted(seen) == ["p", "q"]


def test_worst_orders_skip_pass_warn_error_fail() -> None:
    assert worst([]) is Status.SKIP
    assert worst([Status.PASS, Status.SKIP]) is Status.PASS
    assert worst([Status.PASS, Status.WARN]) is Status.WARN
    assert worst([Status.WARN, Status.ERROR]) is Status.ERROR
    assert worst([Status.ERROR, Status.FAIL, Status.PASS]) is Status.FAIL
