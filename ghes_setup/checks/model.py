"""Frozen result data: `Status`, `Outcome` (what a check decides), `CheckResult`, `Report`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Anything json.dumps accepts; details are free-form per check but always JSON-serialisable.
JsonValue = Any


class Status(Enum):
    """Five states. Severity order (for `worst`): skip < pass < warn < error < fail.

    `error` means "could not be evaluated" (timeout, unreachable, a bug in a check); it ranks
    below `fail` because a check that ran and failed is the more definite news.
    """

    SKIP = "skip"
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    ERROR = "error"
    FAIL = "fail"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def ok(self) -> bool:
        """True when dependants may run: the check passed, possibly with a warning."""
        return self in (Status.PASS, Status.WARN)


_SEVERITY = {Status.SKIP: 0, Status.PASS: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; `skip` for nothing at all."""
    return max(statuses, key=lambda s: s.severity, default=Status.SKIP)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check decided, before the runner stamps it with id, area and duration.

    `thresholds` maps a metric name to Nagios range strings (warn, crit), e.g.
    `{"days_left": ("30:", "7:")}`; it feeds perfdata and is not part of the JSON document.
    """

    status: Status
    summary: str
    remedy: str | None = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    thresholds: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def passed(cls, summary: str, **kw: Any) -> Outcome:
        return cls(Status.PASS, summary, **kw)

    @classmethod
    def warned(cls, summary: str, remedy: str | None = None, **kw: Any) -> Outcome:
        return cls(Status.WARN, summary, remedy, **kw)

    @classmethod
    def failed(cls, summary: str, remedy: str | None = None, **kw: Any) -> Outcome:
        return cls(Status.FAIL, summary, remedy, **kw)

    @classmethod
    def errored(cls, summary: str, remedy: str | None = None, **kw: Any) -> Outcome:
        return cls(Status.ERROR, summary, remedy, **kw)

    @classmethod
    def skipped(cls, summary: str, **kw: Any) -> Outcome:
        return cls(Status.SKIP, summary, **kw)


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    area: str
    status: Status
    summary: str
    remedy: str | None = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    thresholds: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @classmethod
    def from_outcome(
        cls, check_id: str, area: str, outcome: Outcome, duration_s: float = 0.0
    ) -> CheckResult:
        return cls(
            id=check_id,
            area=area,
            status=outcome.status,
            summary=outcome.summary,
            remedy=outcome.remedy,
            details=dict(outcome.details),
            metrics=dict(outcome.metrics),
            duration_s=duration_s,
            thresholds=dict(outcome.thresholds),
        )


@dataclass(frozen=True, slots=True)
class Report:
    """The results of one command, in the order the checks were given.

    `target` is the appliance's hostname when there is one (a label for Prometheus and the
    Nagios line); `title` is a short human name for the run.
    """

    command: str
    results: tuple[CheckResult, ...]
    target: str | None = None

    @property
    def status(self) -> Status:
        return worst(r.status for r in self.results)

    def by_id(self, check_id: str) -> CheckResult:
        for result in self.results:
            if result.id == check_id:
                return result
        raise KeyError(check_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.results)
