"""Wording shared by the DNS checks: "could not check" outcomes and record remedies.

A lookup that got no definitive answer (timeout, SERVFAIL, REFUSED, unreachable, no
nameserver) makes a check `error`, never `fail`: the records may well be right. A CNAME loop or
an over-long chain is an answer: the records are wrong, and the check fails naming the loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from ghes_setup import facts
from ghes_setup.checks import Outcome
from ghes_setup.dns.lookup import MAX_CHAIN, Lookup, LookupStatus
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


def broken_chain(lookup: Lookup) -> str:
    """What is wrong with a CNAME_LOOP or LONG_CHAIN lookup, for a summary."""
    if lookup.status is LookupStatus.CNAME_LOOP:
        return f"{lookup.name} leads into a CNAME loop: {' -> '.join(lookup.cname_loop)}"
    return f"{lookup.name} has a CNAME chain longer than {MAX_CHAIN}: " + " -> ".join(
        (lookup.name, *lookup.cname_chain)
    )


def broken_chain_remedy(lookup: Lookup, fix: str) -> str:
    """`break the CNAME loop at X` (or shorten the chain), then what to point it at."""
    if lookup.status is LookupStatus.CNAME_LOOP and lookup.cname_loop:
        return f"break the CNAME loop at {lookup.cname_loop[0]}: {fix}"
    return f"shorten the CNAME chain of {lookup.name} to at most {MAX_CHAIN} hops: {fix}"
