"""A memo for answers that several threads of one run may ask for at once.

The first caller of a key computes its answer; callers that come while it runs wait for it
and get the same answer (or the same exception); later callers get it at once. The client
checks share their measurements this way (`client.context.ClientContext.once`), and the DNS
resolver its answers (`dns.resolver.DnsResolver`): the checks run concurrently
(`checks.runner`), and a measurement or a query must not run twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedAnswers(Generic[K, V]):
    """Each key's answer computed once, by its first caller, and shared with the others."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[K, Future[V]] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            future = self._answers.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._answers[key] = future
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
                raise
        return future.result()
