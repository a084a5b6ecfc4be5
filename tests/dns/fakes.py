"""A state-based fake of `ghes_setup.dns.lookup.Lookups`: zones in memory, per nameserver.

It behaves like DNS where the checks care: CNAMEs are followed (and recorded), a wildcard
answers every name under its suffix that has no record of its own, names with neither are
NXDOMAIN, a CNAME loop or a chain longer than MAX_CHAIN is CNAME_LOOP or LONG_CHAIN (its
chain ending as DnsResolver's does), and a name or a whole server can be made to fail
(timeout, SERVFAIL, ...). It implements the same interface as `DnsResolver`, including asking
one server or all of them in order like a stub resolver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ghes_setup.dns.lookup import MAX_CHAIN, Lookup, LookupStatus, sort_addresses
from ghes_setup.net import Nameserver

HOST = "ghe.example.com"
IP = "10.0.0.5"
NS1 = Nameserver("10.0.0.53")
NS2 = Nameserver("10.0.0.54")


@dataclass
class FakeZone:
    records: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cnames: dict[str, str] = field(default_factory=dict)
    wildcards: dict[str, tuple[str, ...]] = field(default_factory=dict)  # suffix -> addresses
    nodata: set[str] = field(default_factory=set)
    failures: dict[str, LookupStatus] = field(default_factory=dict)  # name -> forced status
    down: LookupStatus | None = None  # the whole server answers like this

    def resolve(self, name: str, server: str) -> Lookup:
        if self.down is not None:
            return Lookup(name, self.down, server=server, detail=f"{server} is down")
        chain: list[str] = []
        current = name.lower().rstrip(".")
        seen = {current}
        while True:
            if current in self.failures:
                return Lookup(name, self.failures[current], cname_chain=tuple(chain), server=server)
            if current in self.cnames:
                current = self.cnames[current]
                chain.append(current)
                if current in seen:  # as DnsResolver: the chain ends with the name met twice
                    status = LookupStatus.CNAME_LOOP
                    return Lookup(name, status, cname_chain=tuple(chain), server=server)
                if len(chain) > MAX_CHAIN:
                    status = LookupStatus.LONG_CHAIN
                    return Lookup(name, status, cname_chain=tuple(chain), server=server)
                seen.add(current)
                continue
            if current in self.records:
                return self._found(name, self.records[current], chain, server)
            if current in self.nodata:
                return Lookup(name, LookupStatus.NODATA, cname_chain=tuple(chain), server=server)
            for suffix, addresses in self.wildcards.items():
                if current.endswith("." + suffix):
                    return self._found(name, addresses, chain, server)
            return Lookup(name, LookupStatus.NXDOMAIN, cname_chain=tuple(chain), server=server)

    @staticmethod
    def _found(name: str, addresses: Sequence[str], chain: list[str], server: str) -> Lookup:
        if not addresses:
            return Lookup(name, LookupStatus.NODATA, cname_chain=tuple(chain), server=server)
        return Lookup(name, LookupStatus.OK, sort_addresses(addresses), tuple(chain), server=server)


def zone(
    *,
    apex: Sequence[str] = (IP,),
    wildcard: Sequence[str] | None = (IP,),
    host: str = HOST,
    **kw: object,
) -> FakeZone:
    """A zone for `host`: the apex at `apex`, `*.host` at `wildcard` (None: no wildcard)."""
    z = FakeZone(**kw)  # type: ignore[arg-type]
    if apex:
        z.records.setdefault(host, tuple(apex))
    if wildcard is not None:
        z.wildcards[host] = tuple(wildcard)
    return z


class FakeDns:
    """`Lookups` over FakeZones, one per nameserver, asked in order like a stub resolver."""

    def __init__(self, *zones: FakeZone, servers: Sequence[Nameserver] = (NS1, NS2)) -> None:
        self.zones = dict(zip(servers, zones, strict=False))
        self.asked: list[tuple[str, str]] = []  # (server, name), in order

    @property
    def nameservers(self) -> tuple[Nameserver, ...]:
        return tuple(self.zones)

    def lookup(self, name: str, *, server: Nameserver | None = None) -> Lookup:
        if server is not None:
            self.asked.append((str(server), name))
            return self.zones[server].resolve(name, str(server))
        if not self.zones:
            return Lookup(name, LookupStatus.NO_NAMESERVERS, detail="no nameserver")
        first: Lookup | None = None
        for ns, z in self.zones.items():
            self.asked.append((str(ns), name))
            result = z.resolve(name, str(ns))
            if result.status.definitive:
                return result
            first = first or result
        assert first is not None
        return first

    def lookup_many(
        self, names: Sequence[str], *, server: Nameserver | None = None
    ) -> Mapping[str, Lookup]:
        return {n: self.lookup(n, server=server) for n in names}
