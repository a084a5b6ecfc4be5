"""dns-cname-target: when HOSTNAME is a CNAME, *.HOSTNAME and the subdomains follow it too.

Behind a load balancer, GHES's docs point both HOSTNAME and `*.HOSTNAME` at the balancer
(enabling-subdomain-isolation, "Using GitHub Enterprise Server with a load balancer"; see
docs/reference/ghes-facts.md §4.2). When HOSTNAME is a CNAME to the balancer's name but the
wildcard (or a subdomain's own record) holds A/AAAA records copied from that name's current
answer, every check passes today; the day the balancer's addresses change (an AWS Application
or Classic Load Balancer's do over time, which is why AWS says to point a CNAME or alias at its
DNS name), or the CNAME is moved to a replica during a failover, HOSTNAME follows and the
copies do not: `containers.HOSTNAME` and the other isolation subdomains break while HOSTNAME
still works. This check warns about the copies before that day.

It asks nothing new: the lookups of dns-hostname, dns-wildcard and dns-subdomains (the resolver
answers them from its cache), compared by where their CNAME chains end. A name with address
records of its own, or whose chain ends elsewhere, is a copy; a name that does not resolve,
or resolves elsewhere, is already a failure of dns-wildcard / dns-subdomains and is not
repeated here. Warn, never fail: the names work now.
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.dns.context import DnsContext
from ghes_setup.dns.verdicts import could_not_check

SHOW = 4  # names listed in the summary; details.copies has them all


@check("dns-cname-target", area="dns", requires=("dns-hostname",))
def cname_target_followed(ctx: DnsContext) -> Outcome:
    """When HOSTNAME is a CNAME, *.HOSTNAME and the subdomains lead to the same target."""
    host = ctx.hostname
    apex = ctx.lookups.lookup(host)
    if not apex.ok:  # dns-hostname passed a moment ago; a flaky server can still do this
        return could_not_check(apex, "where HOSTNAME's CNAME leads")
    target = apex.canonical_name
    details: dict[str, object] = {"cname_chain": list(apex.cname_chain), "target": target}
    if not apex.cname_chain:
        return Outcome.passed(
            f"{host} has address records of its own (no CNAME): no target to follow",
            details=details,
        )
    names = (ctx.probe_name, *ctx.subdomain_hosts)
    found = ctx.lookups.lookup_many(names)
    # Only names that resolve to HOSTNAME's addresses: the others fail dns-wildcard or
    # dns-subdomains already (or could not be looked up, an error there).
    same = [n for n in names if found[n].ok and found[n].address_set == apex.address_set]
    copies = [n for n in same if found[n].canonical_name != target]
    shown = [_label(n, ctx) for n in copies]
    details.update(
        {
            "checked": list(names),
            "copies": shown,
            "ends": {_label(n, ctx): found[n].canonical_name for n in copies},
        }
    )
    if not copies:
        return Outcome.passed(
            f"{host} is a CNAME to {target}; *.{host} and the subdomains that resolve lead "
            "there too",
            details=details,
        )
    listed = ", ".join(shown[:SHOW])
    if len(shown) > SHOW:
        listed += f" and {len(shown) - SHOW} more (details.copies)"
    return Outcome.warned(
        f"{host} is a CNAME to {target}, but {len(copies)} name(s) hold copies of its addresses "
        f"instead of following it: {listed}; when {target}'s addresses change (a cloud load "
        "balancer's, a failover), they keep the old ones",
        f"make each a CNAME to {host}: `*.{host}. {ctx.ttl} IN CNAME {host}.` for the "
        f"wildcard, `NAME. {ctx.ttl} IN CNAME {host}.` for a subdomain's own record (or "
        "delete that record: the wildcard covers it)",
        details=details,
    )


def _label(name: str, ctx: DnsContext) -> str:
    """The wildcard's probe name is shown as `*.HOSTNAME`: that is the record to change."""
    return f"*.{ctx.hostname}" if name == ctx.probe_name else name
