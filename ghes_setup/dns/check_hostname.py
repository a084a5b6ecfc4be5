"""dns-hostname: HOSTNAME resolves (A and/or AAAA), to exactly the expected addresses if given.

GHES's hostname must be resolvable (configuring-the-hostname-for-your-instance.md); IPv4,
IPv6 and dual-stack are all fine. With `--expect` (or the site's `address`, or a `--resolve`
pin for HOSTNAME) the resolved address SET must EQUAL the expected set: an extra address is
as wrong as a missing one, because clients pick any of them and one that is not the appliance
(or its load balancer) breaks some connections but not others.
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.lookup import format_set, sort_addresses
from ghes_setup.dns.verdicts import (
    broken_chain,
    broken_chain_remedy,
    could_not_check,
    record_remedy,
    via,
)


@check("dns-hostname", area="dns")
def hostname_resolves(ctx: DnsContext) -> Outcome:
    """HOSTNAME resolves (A and/or AAAA), to the expected addresses when given."""
    host = ctx.hostname
    found = ctx.lookups.lookup(host)
    details: dict[str, object] = {
        "addresses": list(found.addresses),
        "cname_chain": list(found.cname_chain),
        "server": found.server,
    }
    if ctx.expect:
        details["expected"] = list(sort_addresses(ctx.expect))
    metrics = {"addresses": float(len(found.addresses))}
    if not found.status.definitive:
        return could_not_check(found, "the hostname", **details)
    if found.status.broken:
        return Outcome.failed(
            broken_chain(found),
            broken_chain_remedy(
                found,
                f"end {host}'s chain at the appliance's addresses "
                f"({record_remedy(host, ctx.expect, ctx.ttl)})",
            ),
            details={**details, "status": found.status.value},
            metrics=metrics,
        )
    if found.status.missing:
        return Outcome.failed(
            f"{host} {found.reason()}{via(found)}",
            f"add an address record for the appliance: {record_remedy(host, ctx.expect, ctx.ttl)}",
            details={**details, "status": found.status.value},
            metrics=metrics,
        )
    if ctx.expect and found.address_set != ctx.expect:
        missing = ctx.expect - found.address_set
        extra = found.address_set - ctx.expect
        parts = []
        if missing:
            parts.append(f"missing {format_set(missing)}")
        if extra:
            parts.append(f"unexpected {format_set(extra)}")
        return Outcome.failed(
            f"{host} resolves to {format_set(found.addresses)}{via(found)}, expected "
            f"{format_set(ctx.expect)} ({', '.join(parts)})",
            f"make {host} (or the end of its CNAME chain, {found.canonical_name}) have exactly: "
            f"{record_remedy(host, ctx.expect, ctx.ttl)}",
            details={**details, "missing": sorted(missing), "unexpected": sorted(extra)},
            metrics=metrics,
        )
    expected = " as expected" if ctx.expect else ""
    return Outcome.passed(
        f"{host} resolves to {format_set(found.addresses)}{via(found)}{expected}",
        details=details,
        metrics=metrics,
    )
