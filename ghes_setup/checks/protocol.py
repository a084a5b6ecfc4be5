"""The `Check` protocol and the small adapter most checks use.

A check module (`<area>/check_<topic>.py`) defines one function decorated with `@check(...)`
that takes the area's context and returns an `Outcome`; the decorator makes it a `Check`
carrying its stable id, its area and the ids it `requires`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ghes_setup.checks.model import CheckResult, Outcome

C = TypeVar("C")
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
