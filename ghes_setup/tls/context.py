"""What the certificate checks look at: the loaded material, the hostname, trust, thresholds.

One frozen object per run, built by `tls.service`. `now` is injectable so tests can judge
expiry at any moment without waiting or faking the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from ghes_setup.facts import GhesVersion
from ghes_setup.tls.material import CertBundle, KeyFile, LoadFailure, leaf_of
from ghes_setup.tls.trust import Trust

DEFAULT_WARN_DAYS = 30
DEFAULT_CRIT_DAYS = 7


class MaterialUnavailable(RuntimeError):
    """A check ran although `tls-pem` did not pass: a bug in a check's `requires`."""


@dataclass(frozen=True, slots=True)
class TlsMaterialContext:
    hostname: str
    bundle: CertBundle | LoadFailure
    key: KeyFile | LoadFailure
    trust: Trust
    now: datetime
    warn_days: int = DEFAULT_WARN_DAYS
    crit_days: int = DEFAULT_CRIT_DAYS
    ghes_version: GhesVersion | None = None

    @property
    def certs(self) -> tuple[x509.Certificate, ...]:
        if isinstance(self.bundle, LoadFailure):
            raise MaterialUnavailable("the certificate bundle did not load (see tls-pem)")
        return self.bundle.certs

    @property
    def leaf(self) -> x509.Certificate:
        """The end-entity certificate, wherever the bundle put it (`tls-chain-order` judges
        the position; the other checks judge the certificate itself)."""
        return leaf_of(self.certs)

    @property
    def key_file(self) -> KeyFile:
        if isinstance(self.key, LoadFailure):
            raise MaterialUnavailable("the key did not load (see tls-pem)")
        return self.key

    def thresholds(self) -> dict[str, tuple[str | None, str | None]]:
        return day_thresholds(self.warn_days, self.crit_days)


def day_thresholds(warn_days: int, crit_days: int) -> dict[str, tuple[str | None, str | None]]:
    """Nagios ranges: OK while days_left >= warn; critical below crit."""
    return {"days_left": (f"{warn_days}:", f"{crit_days}:")}


def days_left(cert: x509.Certificate, now: datetime) -> int:
    """Whole days until notAfter, rounded down; negative once expired."""
    return math.floor((cert.not_valid_after_utc - now).total_seconds() / 86400)
