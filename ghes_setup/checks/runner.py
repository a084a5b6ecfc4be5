"""Run checks concurrently, honour `requires`, and turn exceptions into `error` results.

Checks are I/O bound (DNS, TLS handshakes, HTTP, SSH), so a thread pool is the right tool. A
check starts as soon as every check it requires has finished; if one of those did not pass (or
pass with a warning), it is not run and becomes `skip` with the reason. Results come back in
the order the checks were given, whatever order they finished in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from ghes_setup.checks.failure import error_result
from ghes_setup.checks.model import CheckResult, Status
from ghes_setup.checks.protocol import Check

C = TypeVar("C")

ResultCallback = Callable[[CheckResult], None]


def run_checks(
    checks: Sequence[Check[C]],
    ctx: C,
    *,
    max_workers: int = 16,
    on_result: ResultCallback | None = None,
) -> tuple[CheckResult, ...]:
    """Run `checks` against `ctx`; return one result per check, in the given order."""
    ids = [c.id for c in checks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate check ids: {ids}")
    selected = set(ids)
    # Requirements on checks that are not part of this run are treated as met.
    pending = {c.id: c for c in checks}
    # Each requirement once, however often it is declared (a skip names each one).
    deps = {c.id: tuple(dict.fromkeys(r for r in c.requires if r in selected)) for c in checks}
    done: dict[str, CheckResult] = {}

    def finish(result: CheckResult) -> None:
        done[result.id] = result
        if on_result is not None:
            on_result(result)

    pool = ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(checks))))
    try:
        running: dict[Future[CheckResult], Check[C]] = {}
        while pending or running:
            progressed = True
            while progressed:  # a skip can unblock checks listed before it: go round again
                progressed = False
                for check_id in list(pending):
                    if not all(d in done for d in deps[check_id]):
                        continue
                    progressed = True
                    chk = pending.pop(check_id)
                    blocked = [d for d in deps[check_id] if not done[d].status.ok]
                    if blocked:
                        finish(_skipped(chk, blocked, done))
                    else:
                        running[pool.submit(_run_one, chk, ctx)] = chk
            if not running:
                if pending:  # a cycle in `requires`: a bug in the check table
                    raise ValueError(f"checks with circular requirements: {sorted(pending)}")
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                finish(future.result())
    except BaseException:
        # Ctrl-C or SIGTERM (or a bug): do not wait for checks blocked in a read (up to their
        # timeouts); the run must end now, with its one line and its failure textfile.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return tuple(done[i] for i in ids)


def _run_one(chk: Check[C], ctx: C) -> CheckResult:
    start = time.perf_counter()
    try:
        return chk.run(ctx)
    except Exception as exc:  # a check must never abort the run; this is its safety net
        return error_result(chk.id, chk.area, exc, duration_s=time.perf_counter() - start)


def _skipped(chk: Check[C], blocked: list[str], done: dict[str, CheckResult]) -> CheckResult:
    reasons = ", ".join(f"{b} ({done[b].status.value})" for b in blocked)
    return CheckResult(
        id=chk.id,
        area=chk.area,
        status=Status.SKIP,
        summary=f"not run: requires {reasons}",
        details={"blocked_by": blocked},
    )
