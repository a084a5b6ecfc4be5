"""dns-consistency: every configured nameserver gives the same addresses for HOSTNAME, the
wildcard probe and every isolation subdomain.

Split-horizon setups, a secondary that missed a zone transfer, or an internal resolver with a
stale override all make some clients reach the appliance and others not; a stale record of its
own for one subdomain (`containers.` on the secondary only) is the case dns-subdomains cannot
see, as it takes the first server's answer like a stub resolver. Each nameserver is asked on
its own (the given `--nameserver`s, else the system's resolv.conf). NXDOMAIN, NODATA
and a broken CNAME chain count as "no addresses"; a server that gives no answer at all makes the
check `error` unless two others already disagree (then it fails: that is definite news).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ghes_setup.checks import Outcome, check
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.lookup import Lookup, format_set
from ghes_setup.dns.verdicts import could_not_check
from ghes_setup.net import Nameserver


@check("dns-consistency", area="dns")
def nameservers_agree(ctx: DnsContext) -> Outcome:
    """All given nameservers return the same addresses for HOSTNAME, the wildcard and every
    isolation subdomain."""
    servers = ctx.lookups.nameservers
    if len(servers) < 2:
        which = f" ({servers[0]})" if servers else ""
        return Outcome.skipped(
            f"only one nameserver to compare{which}" if servers else "no nameserver to compare",
            details={"nameservers": [str(s) for s in servers]},
        )
    names = (ctx.hostname, ctx.probe_name, *ctx.subdomain_hosts)

    def ask(server: Nameserver) -> dict[str, Lookup]:
        return dict(ctx.lookups.lookup_many(names, server=server))

    with ThreadPoolExecutor(max_workers=len(servers), thread_name_prefix="dns-ns") as pool:
        answers = dict(zip(servers, pool.map(ask, servers), strict=True))

    per_name: dict[str, dict[str, list[str] | str]] = {}
    disagree: list[str] = []
    unanswered: list[Lookup] = []
    for name in names:
        sets: dict[frozenset[str], list[str]] = {}
        shown: dict[str, list[str] | str] = {}
        for server in servers:
            result = answers[server][name]
            if not result.status.definitive:
                unanswered.append(result)
                shown[str(server)] = result.status.value
                continue
            sets.setdefault(result.address_set, []).append(str(server))
            # A CNAME loop gives no addresses, like NXDOMAIN, but the report says which it was.
            shown[str(server)] = (
                result.status.value if result.status.broken else list(result.addresses)
            )
        per_name[name] = shown
        if len(sets) > 1:
            disagree.append(name)
    details: dict[str, object] = {
        "nameservers": [str(s) for s in servers],
        "probe": ctx.probe_name,
        "answers": per_name,
        "disagree": disagree,
    }
    if disagree:
        name = disagree[0]
        views = "; ".join(
            f"{server}: {format_set(v) if isinstance(v, list) else v}"
            for server, v in per_name[name].items()
        )
        label = "the wildcard" if name == ctx.probe_name else name
        return Outcome.failed(
            f"nameservers disagree on {label}: {views}",
            "make every nameserver serve the same zone: update the stale one (zone transfer, "
            "split-horizon view, or a local override on a resolver)",
            details=details,
        )
    if unanswered:
        return could_not_check(unanswered[0], "that the nameservers agree", **details)
    agreed = f"{ctx.hostname} and the wildcard"
    if ctx.subdomain_hosts:
        agreed = f"{ctx.hostname}, the wildcard and {len(ctx.subdomain_hosts)} isolation subdomains"
    return Outcome.passed(f"{len(servers)} nameservers agree on {agreed}", details=details)
