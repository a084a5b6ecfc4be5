"""client-dns: the appliance's names resolve through THIS machine's resolver, to the appliance.

docker, podman and the Actions runner resolve with the operating system's resolver
(getaddrinfo: /etc/hosts, then the nameservers of /etc/resolv.conf), not with the DNS server
the admin checked from the appliance's side. So this asks getaddrinfo for HOSTNAME,
`containers.HOSTNAME`, each ecosystem's subdomain and a random label under HOSTNAME (only a
`*.HOSTNAME` wildcard answers that one; GHES's subdomain isolation docs ask for it).

Where the right answer is known, the addresses are compared: the site file's `[connection]
address`, and the appliance's DNS servers (the site's `nameservers`, or `--nameserver`). A
machine that resolves the names, but elsewhere than the appliance's DNS says, sits behind
split-horizon DNS (an internal and an external view, a stale /etc/hosts line): the check
names it so.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ghes_setup.checks import Outcome, check
from ghes_setup.client.context import ClientContext


def resolve_all(ctx: ClientContext) -> dict[str, tuple[tuple[str, ...], str | None]]:
    names = [*ctx.hosts, ctx.probe_name]
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        answers = list(pool.map(ctx.system_lookup, names))
    return dict(zip(names, answers, strict=True))


def _fmt(addresses: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(sorted(addresses)) or "nothing"


@check("client-dns", area="client")
def client_dns(ctx: ClientContext) -> Outcome:
    """HOSTNAME and its subdomains resolve here, to the appliance."""
    answers = ctx.once("dns", lambda: resolve_all(ctx))
    resolved = {n: a for n, (a, _) in answers.items() if a}
    details: dict[str, object] = {
        "resolver": "system (getaddrinfo: /etc/hosts, /etc/resolv.conf)",
        "names": {n: {"addresses": list(a), "error": e} for n, (a, e) in answers.items()},
        "wildcard_probe": ctx.probe_name,
    }
    missing = [n for n in ctx.hosts if n not in resolved]
    wildcard = ctx.probe_name in resolved
    if missing:
        why = "; ".join(f"{n}: {answers[n][1] or 'no address'}" for n in missing[:4])
        if len(missing) > 4:
            why += f"; and {len(missing) - 4} more"
        cause = (
            "this machine's resolver has no *.HOSTNAME wildcard"
            if not wildcard and ctx.hostname in resolved
            else "this machine's resolver does not know the appliance"
        )
        where = _fmt(resolved.get(ctx.hostname, ())) if ctx.hostname in resolved else "IP"
        return Outcome.failed(
            f"{len(missing)} name(s) do not resolve here: {why} ({cause})",
            f"have the DNS server this machine uses (/etc/resolv.conf) serve *.{ctx.hostname} "
            f"-> {where} (a wildcard record), or, for one machine, add to /etc/hosts: "
            f"{where} {' '.join(ctx.hosts)}",
            details={**details, "missing": missing, "wildcard": wildcard},
        )
    # Where should they point?
    expected: dict[str, frozenset[str]] = {}
    source: dict[str, str] = {}
    if ctx.expect:
        for name in ctx.hosts:
            expected[name] = ctx.expect
            source[name] = "the site file's connection.address"
    if ctx.appliance_dns is not None:
        servers = ", ".join(ctx.appliance_dns_servers) or "the appliance's DNS"
        for name in ctx.hosts:
            lookup = ctx.appliance_dns(name)
            if lookup.ok:
                expected.setdefault(name, lookup.address_set)
                source.setdefault(name, f"the appliance's DNS ({servers})")
    differ = {
        n: (resolved[n], expected[n])
        for n in ctx.hosts
        if n in expected and frozenset(resolved[n]) != expected[n]
    }
    details["expected"] = {n: sorted(a) for n, a in expected.items()}
    if differ:
        name, (here, there) = next(iter(differ.items()))
        via = source[name]
        others = f" (and {len(differ) - 1} more names)" if len(differ) > 1 else ""
        return Outcome.failed(
            f"split-horizon DNS: this machine resolves {name} to {_fmt(here)} but "
            f"{via} answers {_fmt(there)}{others}",
            f"make this machine's resolver give the appliance's addresses ({_fmt(there)}): "
            f"fix the records of the DNS view it uses, or a stale /etc/hosts line for {name}",
            details={**details, "split_horizon": sorted(differ)},
        )
    apex = _fmt(resolved[ctx.hostname])
    if not wildcard:
        return Outcome.warned(
            f"every needed name resolves ({apex}), but {ctx.probe_name} does not: no "
            f"*.{ctx.hostname} wildcard; a subdomain added later will be missing",
            f"add a wildcard record *.{ctx.hostname} -> {apex}",
            details={**details, "wildcard": False},
        )
    compared = " (matches " + "; ".join(sorted(set(source.values()))) + ")" if source else ""
    return Outcome.passed(
        f"{len(ctx.hosts)} names and the *.{ctx.hostname} wildcard resolve here to "
        f"{apex}{compared}",
        details={**details, "wildcard": True},
    )
