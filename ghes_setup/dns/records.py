"""The DNS records subdomain isolation needs, as data (for `dns records` and for remedies).

GHES's docs (enabling-subdomain-isolation.md, docs/reference/ghes-facts.md §4.2) ask for HOSTNAME
and a wildcard `*.HOSTNAME` pointing at the appliance (or its load balancer), or one record per
isolation subdomain. An A record for each IPv4 address, an AAAA for each IPv6 one. This module
only builds data; the text comes from templates (render layer) or from `zone_line`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ghes_setup import facts

DEFAULT_TTL = 300


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record. `name` has no trailing dot; `purpose` says why it is needed."""

    name: str
    rtype: str  # "A" or "AAAA"
    value: str
    ttl: int = DEFAULT_TTL
    purpose: str = ""

    @property
    def fqdn(self) -> str:
        return f"{self.name}."

    def zone_line(self) -> str:
        """`*.ghe.example.com. 300 IN A 10.0.0.5` (BIND master-file syntax)."""
        return f"{self.fqdn} {self.ttl} IN {self.rtype} {self.value}"


@dataclass(frozen=True, slots=True)
class HostsEntry:
    """One /etc/hosts line: an address and every name that must map to it."""

    address: str
    names: tuple[str, ...]


def record_type(address: str) -> str:
    return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"


def records(
    name: str, addresses: Iterable[str], *, ttl: int = DEFAULT_TTL, purpose: str = ""
) -> list[Record]:
    """A/AAAA records for `name`, one per address (IPv4 first)."""
    ordered = sorted(
        {ipaddress.ip_address(a) for a in addresses}, key=lambda a: (a.version, int(a))
    )
    return [Record(name, record_type(a.compressed), a.compressed, ttl, purpose) for a in ordered]


def zone_lines(recs: Sequence[Record]) -> str:
    """Records as `a; b` for a one-line remedy."""
    return "; ".join(r.zone_line() for r in recs)


def records_for(
    hostname: str,
    addresses: Sequence[str],
    version: facts.GhesVersion | None = None,
    ttl: int = DEFAULT_TTL,
    *,
    all_subdomains: bool = False,
) -> list[Record]:
    """What to create for `hostname` at `addresses`: the apex, the wildcard, and with
    `all_subdomains` one record per isolation subdomain of `version` (for DNS services
    that cannot serve wildcards; the wildcard is then left out)."""
    out = records(hostname, addresses, ttl=ttl, purpose="the appliance's hostname")
    if all_subdomains:
        for host in facts.isolation_hosts(hostname, version):
            out += records(host, addresses, ttl=ttl, purpose="isolation subdomain")
    else:
        out += records(
            f"*.{hostname}",
            addresses,
            ttl=ttl,
            purpose="every isolation subdomain (assets., containers., ...)",
        )
    return out


def hosts_entries(
    hostname: str, addresses: Sequence[str], version: facts.GhesVersion | None = None
) -> list[HostsEntry]:
    """/etc/hosts has no wildcards: every address lists HOSTNAME and each subdomain."""
    names = (hostname, *facts.isolation_hosts(hostname, version))
    return [HostsEntry(r.value, names) for r in records(hostname, addresses)]
