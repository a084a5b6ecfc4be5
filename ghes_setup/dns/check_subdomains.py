"""dns-subdomains: every isolation subdomain of the target version resolves like HOSTNAME.

The list is version-aware (facts.isolation_subdomains; docs/reference/ghes-facts.md §4.1):
containers. from 3.5, notebooks./viewscreen. from 3.7, render. before 3.7. A wildcard covers them
all, but an explicit record for one name overrides the wildcard: a stale `uploads.HOSTNAME` pointing
at an old server is exactly what this check catches. Every name is looked up concurrently.

`details.failing` lists the names that definitely do not resolve to HOSTNAME's addresses,
`details.reasons` says why for each (nxdomain, nodata, cname-loop, cname-chain-too-long,
different-addresses), `details.unchecked` lists names whose lookup gave no answer (timeout,
servfail, ...), `details.checked` all names.

The remedy blames what the wildcard probe's answer (asked for dns-wildcard; the resolver's cache
answers it again) shows is at fault: with a working wildcard, a missing name has records of its
own that hide it (a CNAME to a name without addresses, or a record under it such as
`_acme-challenge.containers` TXT, which makes `containers` exist without addresses); a name
resolving where the wildcard does is wrong because the wildcard is, not because of its own record.
"""

from __future__ import annotations

from collections.abc import Mapping

from ghes_setup.checks import Outcome, check
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.lookup import Lookup, format_set
from ghes_setup.dns.verdicts import broken_chain_remedy, could_not_check, record_remedy

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
        elif result.status.missing or result.status.broken:
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
        # Already answered for dns-wildcard (and put in flight by `prepare`): no new query.
        probe = ctx.lookups.lookup(ctx.probe_name)
        details["wildcard"] = {"probe": ctx.probe_name, **_brief(probe)}
        listed = ", ".join(f"{n.removesuffix('.' + host)} ({reasons[n]})" for n in failing[:SHOW])
        if len(failing) > SHOW:
            listed += f" and {len(failing) - SHOW} more (details.failing)"
        return Outcome.failed(
            f"{len(failing)} of {len(names)} isolation subdomains do not resolve to "
            f"{format_set(apex.addresses)} like {host}: {listed}",
            _remedy(ctx, apex, probe, found, reasons),
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
    ctx: DnsContext,
    apex: Lookup,
    probe: Lookup,
    found: Mapping[str, Lookup],
    reasons: dict[str, str],
) -> str:
    host = ctx.hostname
    wildcard = record_remedy("*." + host, apex.addresses, ctx.ttl)
    missing = [n for n in reasons if found[n].status.missing]
    broken = [n for n in reasons if found[n].status.broken]
    different = [n for n, r in reasons.items() if r == DIFFERENT]
    # Names that resolve exactly like the probe get their addresses from the wildcard.
    wrong_wildcard = probe.ok and probe.address_set != apex.address_set
    through = [n for n in different if wrong_wildcard and found[n].address_set == probe.address_set]
    own = [n for n in different if n not in through]
    parts = []
    if through:
        parts.append(
            f"fix the wildcard, which points to {format_set(probe.addresses)}: {wildcard} "
            f"(that fixes {_names(through)})"
        )
    if missing and probe.ok:
        shown = ", ".join(
            n + (f" (CNAME to {found[n].canonical_name})" if found[n].cname_chain else "")
            for n in missing[:SHOW]
        )
        if len(missing) > SHOW:
            shown += f" and {len(missing) - SHOW} more (details.failing)"
        one = len(missing) == 1
        parts.append(
            f"{shown} {'has records of its' if one else 'have records of their'} own that hide "
            f"the wildcard *.{host} but no address: give {'it' if one else 'each'} an address "
            f"record ({record_remedy(missing[0], apex.addresses, ctx.ttl)}) in place of those "
            "records, or remove them (a CNAME, or a name under it such as _acme-challenge)"
        )
    elif missing:
        verb = "repair" if probe.status.broken else "add"
        parts.append(
            f"{verb} the wildcard {wildcard} "
            + (
                f"(covers every subdomain) or a record for each of: {', '.join(missing)}"
                if len(missing) <= SHOW
                else f"(covers every subdomain) or a record for each of the {len(missing)} "
                "names in details.failing"
            )
        )
    parts.extend(
        broken_chain_remedy(found[n], f"{n} must lead to {host} ({n}. {ctx.ttl} IN CNAME {host}.)")
        for n in broken[:SHOW]
    )
    if own:
        shown = ", ".join(f"{n} -> {format_set(found[n].addresses)}" for n in own)
        whose = "that override the wildcard" if probe.ok else "of their own"
        parts.append(
            f"fix or delete the records {whose} ({shown}) so they point "
            f"to {format_set(apex.addresses)}"
        )
    return "; ".join(parts)


def _names(names: list[str]) -> str:
    listed = ", ".join(names[:SHOW])
    return listed + (f" and {len(names) - SHOW} more" if len(names) > SHOW else "")
