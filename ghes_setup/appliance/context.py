"""What the appliance checks share: one transport, and one identify/read for all of them.

Checks run concurrently (`checks.run_checks`), so the context memoises the appliance's answers
under a lock: five checks cost one identify and one settings read, not five.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ghes_setup.appliance.transport import ApplianceInfo, ApplianceTransport, Settings
from ghes_setup.errors import GhesSetupError

# The settings the read-only checks look at.
CHECKED_SETTINGS: Final = ("subdomain_isolation", "tls.enabled", "tls.cert")


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _info: ApplianceInfo | GhesSetupError | None = field(default=None, repr=False)
    _settings: Settings | GhesSetupError | None = field(default=None, repr=False)

    def info(self) -> ApplianceInfo:
        with self._lock:
            if self._info is None:
                try:
                    self._info = self.transport.identify(
                        [n for n in self.prefetch if self.transport.supports(n)]
                    )
                except GhesSetupError as exc:
                    self._info = exc
            if isinstance(self._info, GhesSetupError):
                raise self._info
            return self._info

    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                names = [n for n in CHECKED_SETTINGS if self.transport.supports(n)]
                try:
                    self._settings = self.transport.read_settings(names)
                except GhesSetupError as exc:
                    self._settings = exc
            if isinstance(self._settings, GhesSetupError):
                raise self._settings
            return self._settings
