"""Wording shared by the DNS checks: "could not check" outcomes and record remedies.

A lookup that got no definitive answer (timeout, SERVFAIL, REFUSED, unreachable, no
nameserver) makes a check `error`, never `fail`: the records may well be right.
"""

from __future__ import annotations

from collections.abc import Iterable

from ghes_setup import facts
from ghes_setup.checks import Outcome
from ghes_setup.dns.lookup import Lookup
from ghes_setup.dns.records import records, zone_lines
from ghes_setup.net import Nameserver

PLACEHOLDER = "<appliance IP>"


def could_not_check(lookup: Lookup, what: str, **details: object) -> Outcome:
    """`error` for a lookup without a definitive answer, naming the server and what to try."""
    server = lookup.server
    if server:
        ns = Nameserver.parse(server)
        port = f" -p {ns.port}" if ns.port != facts.DNS_PORT else ""
        dig = f"dig @{ns.address}{port} {lookup.name}"
        remedy = (
            f"make sure nameserver {server} answers for {lookup.name} (try: {dig}); "
            "if it is only slow, raise --timeout"
        )
    else:
        remedy = "give the nameserver to ask with --nameserver IP[:PORT]"
    return Outcome.errored(
        f"could not check {what}: {lookup.name} {lookup.reason()}",
        remedy,
        details={"lookup": lookup.as_details(), **details},
    )


def record_remedy(name: str, addresses: Iterable[str], ttl: int) -> str:
    """Zone lines for `name` at `addresses`, or a placeholder record when none are known."""
    addrs = list(addresses)
    if not addrs:
        return f"{name}. {ttl} IN A {PLACEHOLDER}"
    return zone_lines(records(name, addrs, ttl=ttl))


def via(lookup: Lookup) -> str:
    """` (via CNAME a -> b)` for summaries, or nothing."""
    if not lookup.cname_chain:
        return ""
    return " (via CNAME " + " -> ".join(lookup.cname_chain) + ")"
