"""What the DNS checks get: the target, the expectations and a `Lookups` to ask.

Built by `ghes_setup.dns.service` (with the real `DnsResolver`) or by tests (with a fake).
Must not import dnspython (import-linter): checks depend on it.
"""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass, field

from ghes_setup import facts
from ghes_setup.dns.lookup import Lookups
from ghes_setup.facts import GhesVersion

PROBE_PREFIX = "ghes-setup-probe-"


def probe_label() -> str:
    """A label nobody has a record for, so only a wildcard can answer it."""
    return f"{PROBE_PREFIX}{_random.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class DnsContext:
    """One `dns check` run.

    `expect` (normalised addresses) is the address set HOSTNAME must have exactly, or empty
    for "whatever it resolves to". `version` picks the isolation subdomains; None means
    `facts.DEFAULT_GHES_VERSION` (recorded in details as assumed). `probe` is the random
    label the wildcard check and dns-consistency both ask for (so it is asked once).
    """

    hostname: str
    lookups: Lookups
    expect: frozenset[str] = frozenset()
    version: GhesVersion | None = None
    probe: str = field(default_factory=probe_label)
    ttl: int = 300

    @property
    def probe_name(self) -> str:
        return f"{self.probe}.{self.hostname}"

    @property
    def target_version(self) -> GhesVersion:
        return self.version or facts.DEFAULT_GHES_VERSION

    @property
    def subdomain_hosts(self) -> tuple[str, ...]:
        return facts.isolation_hosts(self.hostname, self.version)
