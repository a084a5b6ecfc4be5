"""The typed result of a DNS lookup, and the interface the DNS checks use to get one.

This module must not import dnspython: the checks (and their unit tests' fakes) depend on it,
and import-linter keeps dnspython inside `ghes_setup.dns.resolver`. A lookup asks for A and
AAAA together because GHES may be reached over IPv4, IPv6 or both; every comparison the checks
make is between address SETS (A ∪ AAAA), so A-only, AAAA-only and dual-stack are all valid.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ghes_setup.net import Nameserver, comparable

# A CNAME chain longer than this is treated as broken (RFC 1034 resolvers use similar caps).
MAX_CHAIN = 8


class LookupStatus(Enum):
    """How a lookup ended.

    NXDOMAIN and NODATA are definitive answers: the name (or its address records) does not
    exist, so a check fails. CNAME_LOOP and LONG_CHAIN are definitive too: the server answered,
    and its CNAMEs lead back into themselves or on past MAX_CHAIN hops, a fault in the records
    that a check fails. SERVFAIL, TIMEOUT, REFUSED, UNREACHABLE and NO_NAMESERVERS mean nobody
    gave an answer we can judge: the check could not be evaluated (`error`).
    """

    OK = "ok"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists but has no A or AAAA record
    CNAME_LOOP = "cname-loop"  # the CNAME chain comes back to a name it passed
    LONG_CHAIN = "cname-chain-too-long"  # more than MAX_CHAIN CNAMEs in a row
    SERVFAIL = "servfail"  # the server failed (or answered something unreadable)
    TIMEOUT = "timeout"  # no answer within the timeout
    REFUSED = "refused"  # the server will not answer for this name (not its zone, ACL)
    UNREACHABLE = "unreachable"  # the packet could not be sent or was rejected (ICMP)
    NO_NAMESERVERS = "no-nameservers"  # nothing to ask: no --nameserver and no resolv.conf

    @property
    def definitive(self) -> bool:
        """An answer a check can judge (found, or definitely not there)."""
        return self in (
            LookupStatus.OK,
            LookupStatus.NXDOMAIN,
            LookupStatus.NODATA,
            LookupStatus.CNAME_LOOP,
            LookupStatus.LONG_CHAIN,
        )

    @property
    def missing(self) -> bool:
        """The records are definitely not there (a check fails)."""
        return self in (LookupStatus.NXDOMAIN, LookupStatus.NODATA)

    @property
    def broken(self) -> bool:
        """The records are there but their CNAME chain leads nowhere (a check fails)."""
        return self in (LookupStatus.CNAME_LOOP, LookupStatus.LONG_CHAIN)

    @property
    def describe(self) -> str:
        return _DESCRIBE[self]


_DESCRIBE = {
    LookupStatus.OK: "resolves",
    LookupStatus.NXDOMAIN: "does not exist (NXDOMAIN)",
    LookupStatus.NODATA: "has no A or AAAA record (NODATA)",
    LookupStatus.CNAME_LOOP: "leads into a CNAME loop",
    LookupStatus.LONG_CHAIN: f"has a CNAME chain longer than {MAX_CHAIN}",
    LookupStatus.SERVFAIL: "server failure (SERVFAIL)",
    LookupStatus.TIMEOUT: "lookup timed out",
    LookupStatus.REFUSED: "query refused (REFUSED)",
    LookupStatus.UNREACHABLE: "nameserver unreachable",
    LookupStatus.NO_NAMESERVERS: "no nameserver to ask",
}


@dataclass(frozen=True, slots=True)
class Lookup:
    """A and AAAA for one name, as one answer.

    `addresses` is A then AAAA, each normalised (`ipaddress` compressed form) and sorted.
    `cname_chain` lists the names the CNAMEs led to, in order (empty when `name` had address
    records itself); for CNAME_LOOP it ends with the name met a second time. `server` is the
    nameserver that gave this answer (`IP[:PORT]`), or None when none did. `detail` says more
    when the lookup did not succeed (which record type, which servers were tried).
    """

    name: str
    status: LookupStatus
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    server: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is LookupStatus.OK

    @property
    def address_set(self) -> frozenset[str]:
        return frozenset(self.addresses)

    @property
    def canonical_name(self) -> str:
        """Where the CNAME chain ends (the name itself without one)."""
        return self.cname_chain[-1] if self.cname_chain else self.name

    @property
    def cname_loop(self) -> tuple[str, ...]:
        """For CNAME_LOOP, the loop from the name met twice round to it again (`a, b, a`)."""
        if self.status is not LookupStatus.CNAME_LOOP or not self.cname_chain:
            return ()
        path = (comparable(self.name), *self.cname_chain)
        return path[path.index(path[-1]) :]

    def reason(self) -> str:
        """One phrase for a summary: `does not exist (NXDOMAIN)`, `lookup timed out (...)`."""
        text = self.status.describe
        return f"{text}: {self.detail}" if self.detail and not self.ok else text

    def as_details(self) -> dict[str, object]:
        """JSON-friendly form for a check's `details`."""
        return {
            "name": self.name,
            "status": self.status.value,
            "addresses": list(self.addresses),
            "cname_chain": list(self.cname_chain),
            "server": self.server,
            **({"detail": self.detail} if self.detail else {}),
        }


class Lookups(Protocol):
    """What the DNS checks need from a resolver (DnsResolver, or a test's fake).

    `server=None` asks the configured nameservers the way a stub resolver does (the first
    that gives a definitive answer wins); a given `server` asks only that one.
    """

    @property
    def nameservers(self) -> tuple[Nameserver, ...]:
        """The servers "configured" means: the given ones, else the system's resolv.conf."""
        ...

    def lookup(self, name: str, *, server: Nameserver | None = None) -> Lookup: ...

    def lookup_many(
        self, names: Sequence[str], *, server: Nameserver | None = None
    ) -> Mapping[str, Lookup]:
        """All `names` concurrently; the mapping is keyed by the names as given."""
        ...


def normalise_address(text: str) -> str:
    """`10.0.0.5`, `2001:DB8::0:1` -> canonical text (`2001:db8::1`); ValueError if not an IP."""
    return ipaddress.ip_address(text.strip().strip("[]")).compressed


def sort_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Unique, IPv4 before IPv6, numerically sorted."""
    parsed = {ipaddress.ip_address(a) for a in addresses}
    return tuple(a.compressed for a in sorted(parsed, key=lambda a: (a.version, int(a))))


def format_set(addresses: Iterable[str]) -> str:
    """`{10.0.0.5, 2001:db8::5}` for summaries; `{}` for nothing."""
    return "{" + ", ".join(sort_addresses(addresses)) + "}"
