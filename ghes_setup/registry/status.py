"""`registry status`: the `registry-ping` check as a report (read-only, cron-friendly).

`run_registry_status(request)` runs `check_ping.registry_ping` against containers.HOSTNAME and
returns a `Report` for any reporter (human, JSON, Nagios, Prometheus). `wait_for_registry`
polls the same probe until it passes or a deadline passes (`registry start`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ghes_setup.checks import Report, run_checks
from ghes_setup.checks.catalogue import Pipeline, checks
from ghes_setup.checks.model import CheckResult
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.registry.check_ping import (
    AREA,
    CHECK_ID,
    HttpFactory,
    PingAnswer,
    PingRequest,
    judge,
    ping,
)

__all__ = ["PingRequest", "WaitResult", "run_registry_status", "wait_for_registry"]


def run_registry_status(request: PingRequest) -> Report:
    """Check `registry-ping` once; the report of `ghes-setup registry status`."""
    results = run_checks(checks(Pipeline.REGISTRY_STATUS), request)
    return Report("registry status", results, target=request.hostname)


@dataclass(frozen=True, slots=True)
class WaitResult:
    """The last answer, the check result made of it, and how long the wait took."""

    answer: PingAnswer
    result: CheckResult
    waited_s: float
    attempts: int

    @property
    def ok(self) -> bool:
        return self.answer.ok


def wait_for_registry(
    request: PingRequest,
    *,
    timeout_s: float,
    poll_s: float = 1.0,
    progress: ProgressSink | None = None,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    http_factory: HttpFactory | None = None,
) -> WaitResult:
    """Ping until /v2/ answers as a registry or `timeout_s` passes; the last answer either way."""
    sink = progress or NullProgress()
    start = now()
    attempts = 0
    last: str | None = None
    while True:
        attempts += 1
        answer = ping(request, http_factory)
        elapsed = now() - start
        if answer.ok or elapsed >= timeout_s:
            outcome = judge(request, answer)
            result = CheckResult.from_outcome(CHECK_ID, AREA, outcome, answer.seconds)
            return WaitResult(answer, result, elapsed, attempts)
        if answer.short() != last:  # say what it answers now, once per change
            last = answer.short()
            sink.log(f"{request.url}: {last}")
        sink.advance(elapsed, timeout_s, f"waiting for {request.registry_host}/v2/")
        sleep(min(poll_s, max(0.0, timeout_s - elapsed)))
