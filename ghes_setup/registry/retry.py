"""Bounded retries with exponential backoff, sized for cron: a count AND a total time budget.

A smoke test run from cron must end, whatever the registry does: at most `attempts` tries per
operation, and no new try once `budget_s` seconds have passed since the operation began.
Which failures are worth a retry (connection errors, 5xx, 429) is the client's decision; this
module only says whether and how long to wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    initial_delay_s: float = 0.25
    max_delay_s: float = 4.0
    multiplier: float = 2.0
    budget_s: float = 60.0  # no new try after this long since the operation began
    jitter: float = 0.2  # +/- this fraction of each delay

    def start(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> RetryState:
        return RetryState(self, clock, rng, clock())


NO_RETRY: Final = RetryPolicy(attempts=1)


@dataclass
class RetryState:
    """The retry budget of one operation."""

    policy: RetryPolicy
    clock: Callable[[], float]
    rng: Callable[[], float]
    started: float
    failures: int = 0
    waited_s: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def next_delay(self, reason: str, retry_after: float | None = None) -> float | None:
        """Record a failure; the seconds to wait before the next try, or None to give up."""
        self.failures += 1
        self.reasons.append(reason)
        if self.failures >= self.policy.attempts:
            return None
        base = self.policy.initial_delay_s * self.policy.multiplier ** (self.failures - 1)
        delay = min(self.policy.max_delay_s, base)
        delay *= 1 + self.policy.jitter * (2 * self.rng() - 1)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.max_delay_s))
        if self.clock() - self.started + delay > self.policy.budget_s:
            return None
        self.waited_s += delay
        return delay

    @property
    def retries(self) -> int:
        """How many times the operation was tried again so far."""
        return min(self.failures, self.policy.attempts - 1)


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After: 3` (seconds). The HTTP-date form is ignored: the budget bounds us anyway."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
