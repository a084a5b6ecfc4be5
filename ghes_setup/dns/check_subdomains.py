"""dns-subdomains: every isolation subdomain of the target version resolves like HOSTNAME.

The list is version-aware (facts.isolation_subdomains; docs/reference/ghes-facts.md §4.1):
containers. from 3.5, notebooks./viewscreen. from 3.7, render. before 3.7. A wildcard covers them
all, but an explicit record for one name overrides the wildcard: a stale `uploads.HOSTNAME` pointing
at an old server is exactly what this check catches. Every name is looked up concurrently.

`details.failing` lists the names that definitely do not resolve to HOSTNAME's addresses,
`details.reasons` says why for each (nxdomain, nodata, different-addresses), `details.unchecked`
lists names whose lookup gave no answer (timeout, servfail, ...), `details.checked` all names.
"""

from __future__ import annotations

from collections.abc import Mapping

from ghes_setup.checks import Outcome, check
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.lookup import Lookup, format_set
from ghes_setup.dns.verdicts import could_not_check, record_remedy

DIFFERENT = "different-addresses"
SHOW = 8  # names listed in a summary or remedy; details.failing has them all


@check("dns-subdomains", area="dns", requires=("dns-hostname",))
def subdomains_resolve(ctx: DnsContext) -> Outcome:
    """Every isolation subdomain resolves to the same addresses as HOSTNAME."""
    host = ctx.hostname
    names = ctx.subdomain_hosts
    apex = ctx.lookups.lookup(host)
    base: dict[str, object] = {
        "ghes_version": str(ctx.target_version),
        "version_assumed": ctx.version is None,
        "hostname_addresses": list(apex.addresses),
        "checked": list(names),
    }
    if not apex.ok:
        return could_not_check(apex, "the subdomains (HOSTNAME itself)", **base)
    found = ctx.lookups.lookup_many(names)
    reasons: dict[str, str] = {}
    unchecked: dict[str, str] = {}
    for name in names:
        result = found[name]
        if not result.status.definitive:
            unchecked[name] = result.status.value
        elif result.status.missing:
            reasons[name] = result.status.value
        elif result.address_set != apex.address_set:
            reasons[name] = DIFFERENT
    failing = list(reasons)
    details = {
        **base,
        "failing": failing,
        "reasons": reasons,
        "unchecked": list(unchecked),
        "results": {n: _brief(found[n]) for n in names},
    }
    metrics = {"checked": float(len(names)), "failing": float(len(failing))}
    if failing:
        listed = ", ".join(f"{n.removesuffix('.' + host)} ({reasons[n]})" for n in failing[:SHOW])
        if len(failing) > SHOW:
            listed += f" and {len(failing) - SHOW} more (details.failing)"
        return Outcome.failed(
            f"{len(failing)} of {len(names)} isolation subdomains do not resolve to "
            f"{format_set(apex.addresses)} like {host}: {listed}",
            _remedy(ctx, apex, found, reasons),
            details=details,
            metrics=metrics,
        )
    if unchecked:
        first = found[next(iter(unchecked))]
        outcome = could_not_check(first, f"{len(unchecked)} of {len(names)} subdomains")
        return Outcome.errored(
            outcome.summary,
            outcome.remedy,
            details={**details, "lookup": first.as_details()},
            metrics=metrics,
        )
    return Outcome.passed(
        f"all {len(names)} isolation subdomains for GHES {ctx.target_version} resolve to "
        f"{format_set(apex.addresses)} like {host}",
        details=details,
        metrics=metrics,
    )


def _brief(result: Lookup) -> dict[str, object]:
    out: dict[str, object] = {"status": result.status.value, "addresses": list(result.addresses)}
    if result.cname_chain:
        out["cname_chain"] = list(result.cname_chain)
    return out


def _remedy(
    ctx: DnsContext, apex: Lookup, found: Mapping[str, Lookup], reasons: dict[str, str]
) -> str:
    host = ctx.hostname
    missing = [n for n, r in reasons.items() if r != DIFFERENT]
    different = [n for n, r in reasons.items() if r == DIFFERENT]
    parts = []
    if missing:
        parts.append(
            f"add the wildcard {record_remedy('*.' + host, apex.addresses, ctx.ttl)} "
            + (
                f"(covers every subdomain) or a record for each of: {', '.join(missing)}"
                if len(missing) <= SHOW
                else f"(covers every subdomain) or a record for each of the {len(missing)} "
                "names in details.failing"
            )
        )
    if different:
        shown = ", ".join(f"{n} -> {format_set(found[n].addresses)}" for n in different)
        parts.append(
            f"fix or delete the records that override the wildcard ({shown}) so they point "
            f"to {format_set(apex.addresses)}"
        )
    return "; ".join(parts)
