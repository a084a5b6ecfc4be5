"""The DNS area's service functions: `run_dns_check` (dns check) and `dns_records` (dns records).

The CLI turns options into a `DnsCheckRequest`, calls `run_dns_check`, and hands the `Report`
to a reporter. Nothing here prints.

`--resolve` pins and the site's `address` never answer a DNS check's lookups (that would hide
the very records being checked); a pin for HOSTNAME is used as the expected address set when
no `--expect` is given, because it says where the appliance really is.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ghes_setup.checks import Report, run_checks
from ghes_setup.checks.catalogue import Pipeline, checks
from ghes_setup.checks.runner import ResultCallback
from ghes_setup.config.site import Site, target_hostname
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.lookup import Lookups, normalise_address
from ghes_setup.dns.records import DEFAULT_TTL, HostsEntry, Record, hosts_entries
from ghes_setup.dns.records import records_for as _records_for
from ghes_setup.dns.resolver import DEFAULT_TIMEOUT, DnsResolver
from ghes_setup.errors import InputError
from ghes_setup.facts import GhesVersion
from ghes_setup.net import Nameserver, ResolveOverrides

COMMAND = "dns check"
# The DNS checks, in report order: the catalogue's rows of `dns check` (checks.catalogue).
CHECKS = checks(Pipeline.DNS_CHECK)


@dataclass(frozen=True, slots=True)
class DnsCheckRequest:
    hostname: str  # already validated (config.site.validate_hostname)
    expect: tuple[str, ...] = ()
    nameservers: tuple[Nameserver, ...] = ()
    overrides: ResolveOverrides | None = None
    ghes_version: GhesVersion | None = None
    timeout: float = DEFAULT_TIMEOUT
    ttl: int = DEFAULT_TTL


def parse_addresses(values: Sequence[str], option: str) -> tuple[str, ...]:
    """Normalised IPv4/IPv6 addresses; a bad one is an InputError (exit 3) naming it."""
    out: list[str] = []
    for value in values:
        try:
            out.append(normalise_address(value))
        except ValueError:
            raise InputError(
                f"{option} {value!r} is not an IPv4 or IPv6 address",
                hint=f"e.g. {option} 10.0.0.5 or {option} 2001:db8::5",
            ) from None
    return tuple(dict.fromkeys(out))


def expected_addresses(request: DnsCheckRequest) -> frozenset[str]:
    if request.expect:
        return frozenset(parse_addresses(request.expect, "--expect"))
    pinned = request.overrides.lookup(request.hostname) if request.overrides else None
    return frozenset(parse_addresses(pinned, "--resolve")) if pinned else frozenset()


def request_for_site(
    site: Site,
    *,
    hostname: str | None = None,
    expect: Sequence[str] = (),
    nameservers: Sequence[str] = (),
    resolve: Sequence[str] = (),
    ghes_version: GhesVersion | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> DnsCheckRequest:
    """A request from the site file, options winning: the site's nameservers, its pins, and,
    for the site's own hostname, its `address` (when an IP) as the expected address set and
    its `ghes_version`. A site without hostname needs `hostname`."""
    host = target_hostname(hostname, site, COMMAND)
    same_host = site.hostname == host
    expected = list(expect)
    if not expected and same_host and _is_ip(site.connection.address):
        expected = [str(site.connection.address)]
    return DnsCheckRequest(
        hostname=host,
        expect=tuple(expected),
        nameservers=tuple(
            Nameserver.parse(s) for s in (nameservers or site.connection.nameservers)
        ),
        overrides=ResolveOverrides.parse([*resolve, *site.connection.resolve]),
        ghes_version=ghes_version or (site.ghes_version if same_host else None),
        timeout=timeout,
    )


def _is_ip(text: str | None) -> bool:
    if not text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def build_context(request: DnsCheckRequest, lookups: Lookups) -> DnsContext:
    return DnsContext(
        hostname=request.hostname,
        lookups=lookups,
        expect=expected_addresses(request),
        version=request.ghes_version,
        ttl=request.ttl,
    )


def prepare(request: DnsCheckRequest, lookups: Lookups | None = None) -> DnsContext:
    """The context the DNS checks run against, with every lookup already in flight.

    dns-wildcard and dns-subdomains wait for dns-hostname (they compare against its answer),
    but their lookups need not: every query is put in flight now, so the whole check costs one
    round trip, not two. The resolver shares in-flight queries and caches answers, so the
    checks' own lookups find them. Pipelines (`ghes-setup check`) call this directly.
    """
    if request.timeout <= 0:
        raise InputError(f"--timeout {request.timeout:g}: must be more than 0 seconds")
    resolver = lookups or DnsResolver(request.nameservers or None, timeout=request.timeout)
    ctx = build_context(request, resolver)
    threading.Thread(
        target=resolver.lookup_many,
        args=([ctx.hostname, ctx.probe_name, *ctx.subdomain_hosts],),
        daemon=True,
    ).start()
    return ctx


def run_dns_check(
    request: DnsCheckRequest,
    *,
    lookups: Lookups | None = None,
    on_result: ResultCallback | None = None,
) -> Report:
    """Run dns-hostname, dns-wildcard, dns-subdomains and dns-consistency concurrently.

    `lookups` replaces the real resolver (tests pass a fake); by default a `DnsResolver` over
    `request.nameservers`, else the system's nameservers, with `request.timeout`.
    """
    results = run_checks(CHECKS, prepare(request, lookups), on_result=on_result)
    return Report(COMMAND, results, target=request.hostname)


def records_for(
    hostname: str,
    addresses: Sequence[str],
    version: GhesVersion | None = None,
    ttl: int = DEFAULT_TTL,
    *,
    all_subdomains: bool = False,
) -> list[Record]:
    """The records to create (apex + wildcard, or apex + each subdomain), as data."""
    if ttl <= 0:
        raise InputError(f"--ttl {ttl}: must be a positive number of seconds")
    addrs = parse_addresses(addresses, "--address")
    if not addrs:
        raise InputError("no --address given", hint="e.g. --address 10.0.0.5")
    return _records_for(hostname, addrs, version, ttl, all_subdomains=all_subdomains)


def hosts_for(
    hostname: str, addresses: Sequence[str], version: GhesVersion | None = None
) -> list[HostsEntry]:
    """/etc/hosts lines: each address with HOSTNAME and every isolation subdomain."""
    addrs = parse_addresses(addresses, "--address")
    if not addrs:
        raise InputError("no --address given", hint="e.g. --address 10.0.0.5")
    return hosts_entries(hostname, addrs, version)


@dataclass(frozen=True, slots=True)
class DnsRecords:
    """`dns records`: what `records_for` (style bind) or `hosts_for` (style hosts) made for
    HOSTNAME; `version` is the one asked for (None: the default release's subdomains)."""

    hostname: str
    version: GhesVersion | None
    style: Literal["bind", "hosts"]
    records: tuple[Record, ...] = ()
    entries: tuple[HostsEntry, ...] = ()
    all_subdomains: bool = False


def dns_records(
    hostname: str,
    addresses: Sequence[str],
    *,
    style: Literal["bind", "hosts"] = "bind",
    version: GhesVersion | None = None,
    ttl: int = DEFAULT_TTL,
    all_subdomains: bool = False,
) -> DnsRecords:
    """The records to create for HOSTNAME in `style`: zone records (apex and wildcard, or
    apex and each subdomain) or /etc/hosts entries."""
    if style == "hosts":
        entries = tuple(hosts_for(hostname, addresses, version))
        return DnsRecords(hostname, version, "hosts", entries=entries)
    records = tuple(records_for(hostname, addresses, version, ttl, all_subdomains=all_subdomains))
    return DnsRecords(hostname, version, "bind", records, all_subdomains=all_subdomains)
