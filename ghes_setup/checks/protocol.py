"""The `Check` protocol and the small adapter most checks use.

A check module (`<area>/check_<topic>.py`) defines one function decorated with `@check(...)`
that takes the area's context and returns an `Outcome`; the decorator makes it a `Check`
carrying its stable id, its area and the ids it `requires`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from ghes_setup.checks.model import CheckResult, Outcome

C = TypeVar("C")
D = TypeVar("D")
C_contra = TypeVar("C_contra", contravariant=True)


class Check(Protocol[C_contra]):
    @property
    def id(self) -> str: ...

    @property
    def area(self) -> str: ...

    @property
    def requires(self) -> tuple[str, ...]: ...

    def run(self, ctx: C_contra) -> CheckResult: ...


@dataclass(frozen=True, slots=True)
class FunctionCheck(Generic[C]):
    id: str
    area: str
    evaluate: Callable[[C], Outcome]
    requires: tuple[str, ...] = ()
    title: str = ""

    def run(self, ctx: C) -> CheckResult:
        start = time.perf_counter()
        outcome = self.evaluate(ctx)
        return CheckResult.from_outcome(self.id, self.area, outcome, time.perf_counter() - start)


def check(
    check_id: str, *, area: str, requires: tuple[str, ...] = (), title: str = ""
) -> Callable[[Callable[[C], Outcome]], FunctionCheck[C]]:
    """Decorator: `@check("dns-wildcard", area="dns", requires=("dns-hostname",))`."""

    def wrap(fn: Callable[[C], Outcome]) -> FunctionCheck[C]:
        doc = (fn.__doc__ or "").strip().splitlines()
        return FunctionCheck(
            id=check_id,
            area=area,
            evaluate=fn,
            requires=requires,
            title=title or (doc[0] if doc else ""),
        )

    return wrap


@dataclass(frozen=True, slots=True)
class AdaptedCheck(Generic[C, D]):
    """A check of one area run against a pipeline's wider context.

    Pipelines (`check`, `up`, `verify`) run checks of several areas in ONE `run_checks` call, so
    that concurrency and `requires` work across areas; `get` picks (or lazily builds) the
    area's own context out of the pipeline's. If `get` raises, the runner records an `error`
    result for this check, as for any exception inside a check.
    """

    inner: Check[D]
    get: Callable[[C], D]
    extra_requires: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def area(self) -> str:
        return self.inner.area

    @property
    def requires(self) -> tuple[str, ...]:
        return (*self.inner.requires, *self.extra_requires)

    def run(self, ctx: C) -> CheckResult:
        start = time.perf_counter()
        result = self.inner.run(self.get(ctx))
        return replace(result, duration_s=time.perf_counter() - start)


def adapt(
    inner: Check[D], get: Callable[[C], D], *, requires: tuple[str, ...] = ()
) -> AdaptedCheck[C, D]:
    """`inner` against the pipeline's context; `requires` adds ordering the pipeline needs
    (e.g. Packages after the appliance answered, so both share one read)."""
    return AdaptedCheck(inner, get, requires)
