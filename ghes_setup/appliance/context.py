"""What the appliance checks share: one transport, and one identify/read for all of them.

Checks run concurrently (`checks.run_checks`), so the context memoises the appliance's answers
under a lock: five checks cost one identify and one settings read, not five.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Generic, TypeVar

from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplianceTransport,
    ApplyStatus,
    Settings,
)
from ghes_setup.config.site import Site
from ghes_setup.errors import GhesSetupError

# The settings the read-only checks look at.
CHECKED_SETTINGS: Final = ("hostname", "subdomain_isolation", "tls.enabled", "tls.cert")

T = TypeVar("T")


class Remembered(Generic[T]):
    """One answer of the appliance, asked for once: the first call computes it, or its
    `GhesSetupError`, and every later call gets the same (each check that needs an unreachable
    appliance reports the same reason, and the appliance is asked once). Not locked: the caller
    holds its context's lock."""

    def __init__(self) -> None:
        self._answer: T | GhesSetupError | None = None

    def get(self, compute: Callable[[], T]) -> T:
        if self._answer is None:
            try:
                self._answer = compute()
            except GhesSetupError as exc:
                self._answer = exc
        if isinstance(self._answer, GhesSetupError):
            raise self._answer
        return self._answer


@dataclass
class ApplianceContext:
    transport: ApplianceTransport
    # Settings to read in identify's round trip (SSH) for the checks that come next: the
    # cron `check` passes every setting its appliance and Packages checks read.
    prefetch: tuple[str, ...] = CHECKED_SETTINGS
    # The run records `appliance-pending` reads (`checkpoint.appliance_key`, the checkpoint
    # folder); without them only the appliance's own run records count.
    appliance: str | None = None
    state_dir: Path | None = None
    # The site file the checks compare the stored settings with (hostname, isolation, the
    # certificate); without one they judge the appliance alone.
    site: Site | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _info: Remembered[ApplianceInfo] = field(default_factory=Remembered, repr=False)
    _settings: Remembered[Settings] = field(default_factory=Remembered, repr=False)
    _apply: Remembered[ApplyStatus] = field(default_factory=Remembered, repr=False)

    def info(self) -> ApplianceInfo:
        with self._lock:
            return self._info.get(
                lambda: self.transport.identify(
                    [n for n in self.prefetch if self.transport.supports(n)]
                )
            )

    def settings(self) -> Settings:
        with self._lock:
            return self._settings.get(
                lambda: self.transport.read_settings(
                    [n for n in CHECKED_SETTINGS if self.transport.supports(n)]
                )
            )

    def latest_run(self) -> ApplyStatus:
        """The latest configuration run, asked once a run: the checks that read it
        (`appliance-config-apply`, `appliance-pending`) report the same one."""
        with self._lock:
            return self._apply.get(lambda: self.transport.apply_status(None))
