"""dns-wildcard: a random label under HOSTNAME resolves, to the same addresses as HOSTNAME.

Subdomain isolation serves assets., media., containers., ... from the appliance; GHES's docs
ask for a wildcard `*.HOSTNAME` record pointing where HOSTNAME points
(enabling-subdomain-isolation.md; behind a load balancer both must resolve to it). A label
nobody would create (`ghes-setup-probe-<8 hex>`) can only be answered by a wildcard, so this
tells "wildcard present" from "someone created a few names by hand" (dns-subdomains checks
those). A CNAME wildcard pointing at HOSTNAME is fine: address sets are compared.
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.lookup import format_set
from ghes_setup.dns.verdicts import (
    broken_chain,
    broken_chain_remedy,
    could_not_check,
    record_remedy,
    via,
)


@check("dns-wildcard", area="dns", requires=("dns-hostname",))
def wildcard_resolves(ctx: DnsContext) -> Outcome:
    """*.HOSTNAME resolves, to the same addresses as HOSTNAME."""
    host = ctx.hostname
    apex = ctx.lookups.lookup(host)
    probe = ctx.lookups.lookup(ctx.probe_name)
    details: dict[str, object] = {
        "probe": ctx.probe_name,
        "addresses": list(probe.addresses),
        "cname_chain": list(probe.cname_chain),
        "hostname_addresses": list(apex.addresses),
        "server": probe.server,
    }
    if not apex.ok:  # dns-hostname passed a moment ago; a flaky server can still do this
        return could_not_check(apex, "the wildcard (HOSTNAME itself)", **details)
    if not probe.status.definitive:
        return could_not_check(probe, "the wildcard", **details)
    wanted = record_remedy(f"*.{host}", apex.addresses, ctx.ttl)
    if probe.status.broken:
        return Outcome.failed(
            f"the wildcard is broken: {broken_chain(probe)}",
            broken_chain_remedy(
                probe, f"point the wildcard at {host}: *.{host}. {ctx.ttl} IN CNAME {host}."
            ),
            details={**details, "status": probe.status.value},
        )
    if probe.status.missing:
        return Outcome.failed(
            f"no wildcard record: {ctx.probe_name} {probe.reason()}",
            f"add the wildcard record: {wanted}",
            details={**details, "status": probe.status.value},
        )
    if probe.address_set != apex.address_set:
        return Outcome.failed(
            f"*.{host} resolves to {format_set(probe.addresses)}{via(probe)} but {host} to "
            f"{format_set(apex.addresses)}",
            f"point the wildcard where {host} points: {wanted}",
            details=details,
        )
    return Outcome.passed(
        f"*.{host} resolves to {format_set(probe.addresses)}{via(probe)}, same as {host}",
        details=details,
    )
