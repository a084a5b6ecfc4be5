"""DNS lookups: the one module that imports dnspython.

Two things live here:
- `DnsResolver`, used by the DNS checks: asks given nameservers (or the ones in the system's
  resolv.conf) for A and AAAA, follows CNAME chains, and returns a typed `Lookup` whose status
  tells a definitive answer (OK, NXDOMAIN, NODATA) from "could not check" (SERVFAIL,
  TIMEOUT, REFUSED, UNREACHABLE, NO_NAMESERVERS). It sends its own queries (`dns.query`)
  rather than using `dns.resolver.Resolver`, because the checks need exactly what each server
  said: REFUSED and SERVFAIL are different news, and dns-consistency must ask one server at a
  time.
- `make_resolver`, the agreed entry point that turns `--resolve` and `--nameserver` into the
  `net.AddressResolver` the TLS probe, the HTTP clients and SSH use.

Every query runs with a timeout; independent queries run concurrently in a thread pool; and a
per-resolver cache (with in-flight de-duplication) makes HOSTNAME one query per record type
and server however many checks ask for it. dnspython exceptions never leave this module.
dnspython loads with the first query (about 40 ms): a run whose appliance address is pinned
builds its resolver at start-up without waiting for it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ghes_setup.config.site import Site
from ghes_setup.dns.lookup import MAX_CHAIN, Lookup, Lookups, LookupStatus, sort_addresses
from ghes_setup.errors import Unreachable
from ghes_setup.memo import SharedAnswers
from ghes_setup.net import (
    AddressResolver,
    Nameserver,
    ResolveOverrides,
    SystemResolver,
    comparable,
    known_addresses,
    pins_for,
)
from ghes_setup.trace import event

if TYPE_CHECKING:
    import dns.message
    import dns.rdatatype

DEFAULT_TIMEOUT = 3.0
# A query that gets no answer is sent once more on the same socket (`_exchange`), like glibc's
# `attempts:2`: one lost UDP packet among the ~38 queries of a run must not turn a check into
# "could not check", and an answer to the first send still counts until the timeout.
ATTEMPTS = 2
# Concurrent queries per `lookup_many` call: every isolation subdomain, A and AAAA, at once.
MAX_WORKERS = 64
RECORD_TYPES = ("A", "AAAA")


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one server said about one name and one record type."""

    status: LookupStatus
    addresses: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    server: str | None = None
    detail: str = ""


def system_nameservers() -> tuple[Nameserver, ...]:
    """The nameservers of the system's resolver configuration (/etc/resolv.conf)."""
    import dns.resolver

    try:
        conf = dns.resolver.Resolver(configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return ()
    servers: list[Nameserver] = []
    for entry in conf.nameservers:
        address = str(entry)
        try:
            ipaddress.ip_address(address)
        except ValueError:  # DNS-over-HTTPS URLs and the like: not ours to ask
            continue
        servers.append(Nameserver(address, int(conf.port)))
    return tuple(servers)


class DnsResolver:
    """A and AAAA lookups through given nameservers, or the system's when none are given.

    `timeout` bounds each server's answer for one name and record type, CNAME follow-ups and
    the repeat of a query that got no answer (ATTEMPTS) included. With several nameservers and
    no `server=`, they are asked in order, like a stub resolver: the first definitive answer
    wins; if none gives one, the lookup reports the first server's failure and names every
    server tried.
    """

    def __init__(
        self,
        nameservers: Sequence[Nameserver] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        system: Callable[[], tuple[Nameserver, ...]] = system_nameservers,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self._given = tuple(nameservers) if nameservers else None
        self._system = system
        self._system_servers: tuple[Nameserver, ...] | None = None
        self._lock = threading.Lock()
        self._cache: SharedAnswers[tuple[str, str, str], _Answer] = SharedAnswers()
        self.queries_sent = 0  # for tests and the benchmark: proves the cache works

    # ------------------------------------------------------------------ public interface
    @property
    def nameservers(self) -> tuple[Nameserver, ...]:
        if self._given is not None:
            return self._given
        with self._lock:
            if self._system_servers is None:
                self._system_servers = self._system()
            return self._system_servers

    @property
    def uses_system_config(self) -> bool:
        return self._given is None

    def lookup(self, name: str, *, server: Nameserver | None = None) -> Lookup:
        return self.lookup_many([name], server=server)[name]

    def lookup_many(
        self, names: Sequence[str], *, server: Nameserver | None = None
    ) -> Mapping[str, Lookup]:
        """Look up every name (A and AAAA) concurrently; keyed by the names as given."""
        unique = list(dict.fromkeys(names))
        tasks = [(n, t) for n in unique for t in RECORD_TYPES]
        if not tasks:
            return {}
        workers = min(MAX_WORKERS, len(tasks))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dns") as pool:
            futures = {task: pool.submit(self._answer, *task, server) for task in tasks}
            answers = {task: fut.result() for task, fut in futures.items()}
        return {n: _combine(n, answers[(n, "A")], answers[(n, "AAAA")]) for n in unique}

    # ------------------------------------------------------------------ internals
    def _answer(self, name: str, rdtype: str, server: Nameserver | None) -> _Answer:
        if server is not None:
            return self._cached(server, name, rdtype)
        servers = self.nameservers
        if not servers:
            return _Answer(
                LookupStatus.NO_NAMESERVERS,
                detail="no --nameserver given and the system resolver configuration has none",
            )
        failures: list[_Answer] = []
        for candidate in servers:
            answer = self._cached(candidate, name, rdtype)
            if answer.status.definitive:
                return answer
            failures.append(answer)
        first = failures[0]
        if len(failures) == 1:
            return first
        tried = "; ".join(f"{f.server}: {f.status.describe}" for f in failures)
        return _Answer(
            first.status, server=first.server, detail=f"every nameserver failed ({tried})"
        )

    def _cached(self, server: Nameserver, name: str, rdtype: str) -> _Answer:
        key = (str(server), _norm(name), rdtype)
        return self._cache.get(key, lambda: self._resolve(server, _norm(name), rdtype))

    def _resolve(self, server: Nameserver, name: str, rdtype: str) -> _Answer:
        """One server, one record type: query, follow CNAMEs (re-asking for the chain's end
        when the server did not include it, as an authoritative-only server does)."""
        import dns.rcode
        import dns.rdatatype

        deadline = time.monotonic() + self.timeout
        where = str(server)
        chain: list[str] = []
        current = name
        seen = {name}
        wanted = dns.rdatatype.from_text(rdtype)
        # One query more than hops: a server that gives one CNAME per answer needs it for the
        # addresses at the end of a chain of MAX_CHAIN hops.
        for _ in range(MAX_CHAIN + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Answer(
                    LookupStatus.TIMEOUT,
                    chain=tuple(chain),
                    server=where,
                    detail=f"{rdtype} {name}: no answer from {where} within {self.timeout:g} s",
                )
            response = self._send(server, current, wanted, remaining, rdtype)
            if isinstance(response, _Answer):  # no answer to judge; keep the chain so far
                return replace(response, chain=tuple(chain))
            rcode = response.rcode()
            addresses, hops = _walk(response, current, wanted)
            for hop in hops:
                if hop in seen:
                    # The chain's last name is the one met twice: the loop can be shown whole.
                    return _Answer(
                        LookupStatus.CNAME_LOOP,
                        chain=(*chain, hop),
                        server=where,
                        detail=f"{rdtype} {name}: CNAME loop at {hop}",
                    )
                seen.add(hop)
                chain.append(hop)
                if len(chain) > MAX_CHAIN:
                    return _too_long(rdtype, name, chain, where)
            if addresses:
                return _Answer(LookupStatus.OK, sort_addresses(addresses), tuple(chain), where)
            if rcode == dns.rcode.NXDOMAIN:
                return _Answer(LookupStatus.NXDOMAIN, chain=tuple(chain), server=where)
            if rcode != dns.rcode.NOERROR:
                status = {
                    dns.rcode.SERVFAIL: LookupStatus.SERVFAIL,
                    dns.rcode.REFUSED: LookupStatus.REFUSED,
                }.get(rcode, LookupStatus.SERVFAIL)
                return _Answer(
                    status,
                    chain=tuple(chain),
                    server=where,
                    detail=f"{rdtype} {current}: {where} answered {dns.rcode.to_text(rcode)}",
                )
            if not hops:
                return _Answer(LookupStatus.NODATA, chain=tuple(chain), server=where)
            current = chain[-1]  # the chain ended in a CNAME without data: ask for its target
        return _too_long(rdtype, name, chain, where)

    def _send(
        self,
        server: Nameserver,
        name: str,
        wanted: dns.rdatatype.RdataType,
        timeout: float,
        rdtype: str,
    ) -> dns.message.Message | _Answer:
        import dns.exception
        import dns.message
        import dns.query
        import dns.rcode

        where = str(server)
        query = dns.message.make_query(name, wanted)  # RD set: recursive servers recurse
        with self._lock:
            self.queries_sent += 1
        event("dns", f"> {rdtype} {name} @{where}")
        try:
            response, tcp = _exchange(query, server, timeout)
        except dns.exception.Timeout:
            event("dns", f"! {rdtype} {name} @{where}: timeout")
            return _Answer(
                LookupStatus.TIMEOUT,
                server=where,
                detail=f"{rdtype} {name}: no answer from {where} within {self.timeout:g} s "
                f"(sent {ATTEMPTS} times)",
            )
        except OSError as exc:  # ICMP port unreachable, no route, bad address family
            return _Answer(
                LookupStatus.UNREACHABLE,
                server=where,
                detail=f"{rdtype} {name}: {where}: {exc.strerror or exc}",
            )
        except dns.exception.DNSException as exc:  # malformed or mismatched response
            return _Answer(
                LookupStatus.SERVFAIL,
                server=where,
                detail=f"{rdtype} {name}: unreadable answer from {where} ({type(exc).__name__})",
            )
        event(
            "dns",
            f"< {rdtype} {name} @{where}{' (tcp)' if tcp else ''}: "
            f"{dns.rcode.to_text(response.rcode())}, {len(response.answer)} answer RRset(s)",
        )
        return response


def _exchange(
    query: dns.message.Message, server: Nameserver, timeout: float
) -> tuple[dns.message.Message, bool]:
    """One query over UDP, sent again on the same socket when no answer has come after an equal
    share of `timeout` (ATTEMPTS sends in all), then over TCP if the answer was truncated.

    An answer to any of the sends counts until `timeout` is up: a lost packet is made good, and
    a slow server that answers the first send late loses nothing (glibc's resolver resends the
    same way, `attempts:2`). Raises `dns.exception.Timeout` when nothing came."""
    import socket

    import dns.exception
    import dns.inet
    import dns.message
    import dns.query

    family = dns.inet.af_for_address(server.address)
    destination = dns.inet.low_level_address_tuple((server.address, server.port), family)
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for attempt in range(1, ATTEMPTS + 1):
            dns.query.send_udp(sock, query, destination)
            left = deadline - time.monotonic()
            wait = left if attempt == ATTEMPTS else left / (ATTEMPTS - attempt + 1)
            try:
                # dnspython's expirations are wall-clock times.
                response, _ = dns.query.receive_udp(
                    sock,
                    destination,
                    expiration=time.time() + max(wait, 0.0),
                    ignore_unexpected=True,
                    ignore_errors=True,  # a stray or mismatched datagram is not the answer
                    query=query,
                    raise_on_truncation=True,
                )
                return response, False
            except dns.message.Truncated:
                break
            except dns.exception.Timeout:
                if attempt == ATTEMPTS:
                    raise
    left = max(deadline - time.monotonic(), 0.001)
    return dns.query.tcp(query, server.address, timeout=left, port=server.port), True


def _too_long(rdtype: str, name: str, chain: list[str], where: str) -> _Answer:
    return _Answer(
        LookupStatus.LONG_CHAIN,
        chain=tuple(chain),
        server=where,
        detail=f"{rdtype} {name}: CNAME chain longer than {MAX_CHAIN}",
    )


def _norm(name: str) -> str:
    """The name as queried: A-labels by IDNA 2008 (`net.to_ascii`), never dnspython's default
    IDNA 2003 encoding, which would ask for `strasse.example` instead of `straße.example`.
    A name IDNA refuses goes as written: dnspython then says what is wrong with it."""
    return comparable(name)


def _walk(
    response: dns.message.Message, qname: str, wanted: dns.rdatatype.RdataType
) -> tuple[list[str], list[str]]:
    """Follow the answer section from `qname`: (addresses at the end, CNAME targets in order)."""
    import dns.name
    import dns.rdatatype

    current = dns.name.from_text(qname)
    hops: list[str] = []
    for _ in range(MAX_CHAIN + 1):
        records = [
            rrset for rrset in response.answer if rrset.name == current and rrset.rdtype == wanted
        ]
        if records:
            return [rdata.to_text() for rrset in records for rdata in rrset], hops
        cname = next(
            (
                rrset
                for rrset in response.answer
                if rrset.name == current and rrset.rdtype == dns.rdatatype.CNAME
            ),
            None,
        )
        if cname is None:
            break
        target = next(iter(cname)).target
        hops.append(_norm(target.to_text()))
        if target == current:
            break
        current = target
    return [], hops


def _combine(name: str, a: _Answer, aaaa: _Answer) -> Lookup:
    """A and AAAA into one Lookup. An undecided half makes the whole undecided: comparing
    address sets with one family missing could hide a record that points elsewhere."""
    for rdtype, part, other in (("A", a, aaaa), ("AAAA", aaaa, a)):
        if not part.status.definitive:
            detail = part.detail or f"{rdtype}: {part.status.describe}"
            if other.addresses:
                detail += f" (the {'AAAA' if rdtype == 'A' else 'A'} query gave "
                detail += ", ".join(other.addresses) + ")"
            return Lookup(
                name,
                part.status,
                cname_chain=a.chain or aaaa.chain,
                server=part.server,
                detail=detail,
            )
    chain = a.chain or aaaa.chain
    # A broken chain outranks addresses from the other half: the records are at fault either way.
    for part in (a, aaaa):
        if part.status.broken:
            return Lookup(name, part.status, (), part.chain, part.server, part.detail)
    addresses = sort_addresses((*a.addresses, *aaaa.addresses))
    if addresses:
        return Lookup(name, LookupStatus.OK, addresses, chain, a.server or aaaa.server)
    status = (
        LookupStatus.NXDOMAIN
        if LookupStatus.NXDOMAIN in (a.status, aaaa.status)
        else LookupStatus.NODATA
    )
    return Lookup(name, status, (), chain, a.server or aaaa.server)


class DnsAddressResolver:
    """`net.AddressResolver` over DNS: pins first, IP literals as they are, then DnsResolver.

    Answers are cached for the life of the object (one run), so the TLS probe, the HTTP
    client and SSH resolve HOSTNAME once between them.
    """

    def __init__(self, lookups: Lookups, overrides: ResolveOverrides | None = None) -> None:
        self.dns = lookups
        self.overrides = overrides or ResolveOverrides()

    def addresses(self, host: str) -> tuple[str, ...]:
        known = known_addresses(self.overrides, host)
        if known is not None:
            return known
        result = self.dns.lookup(host)
        if result.ok:
            return result.addresses
        servers = ", ".join(str(s) for s in self.dns.nameservers) or "none"
        raise Unreachable(
            f"cannot resolve {host} (nameservers {servers}): {result.reason()}",
            hint="check the DNS records (ghes-setup dns check), or pin the address with "
            "--resolve HOST:IP",
        )


def make_resolver(
    nameservers: Sequence[Nameserver] = (),
    overrides: ResolveOverrides | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> AddressResolver:
    """Overrides first; then the given nameservers (dnspython), else the system resolver."""
    if nameservers:
        return DnsAddressResolver(DnsResolver(nameservers, timeout=timeout), overrides)
    return SystemResolver(overrides)


def for_site(
    site: Site | None,
    nameservers: Sequence[str] = (),
    resolve: Sequence[str] = (),
) -> AddressResolver:
    """A run's name resolution: the `--resolve` pins and the site's, its `address` pinned for
    its hostname and every name under it (the appliance before DNS exists, a bastion, the
    lab), then `--nameserver` or the site's nameservers, then the system resolver."""
    pins = list(resolve)
    servers = list(nameservers)
    if site is not None:
        pins += list(site.connection.resolve)
        if site.connection.address and site.hostname:
            pins += pins_for(site.hostname, site.connection.address, what="[connection] address")
        servers = servers or list(site.connection.nameservers)
    return make_resolver([Nameserver.parse(s) for s in servers], ResolveOverrides.parse(pins))
