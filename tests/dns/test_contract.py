"""The contract the DNS fake keeps with a real server: the same tests run against
tests/dns/fakes.py (`FakeDns` over a `FakeZone`) and against dnsmasq (tests/dns/servers.py)
asked through the real `DnsResolver`. The DNS unit tests trust the fake's answers (wildcards,
exact records winning over a wildcard, CNAMEs followed, NXDOMAIN, NODATA); a test here fails
when dnsmasq answers the same zone differently.

A scenario is written once as records, CNAMEs and an optional wildcard; each subject turns it
into its own configuration (a FakeZone, or dnsmasq's --host-record/--cname/--address).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ghes_setup.dns.lookup import Lookup, Lookups, LookupStatus
from ghes_setup.dns.resolver import DnsResolver
from tests.dns.conftest import ZONE
from tests.dns.fakes import NS1, FakeDns, FakeZone
from tests.dns.servers import Dnsmasq

IP = "127.0.0.1"
OTHER = "127.0.0.9"
V6 = "::1"


@dataclass(frozen=True)
class Scenario:
    records: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> addresses
    cnames: dict[str, str] = field(default_factory=dict)  # alias -> target
    wildcard: tuple[str, ...] | None = None  # the addresses of every other name under ZONE


Serve = Callable[[Scenario], Lookups]


def _fake(scenario: Scenario) -> Lookups:
    zone = FakeZone(records=dict(scenario.records), cnames=dict(scenario.cnames))
    if scenario.wildcard is not None:
        zone.wildcards[ZONE] = scenario.wildcard
    return FakeDns(zone, servers=(NS1,))


def _dnsmasq(start: Callable[..., Dnsmasq]) -> Serve:
    def serve(scenario: Scenario) -> Lookups:
        options = [f"--address=/{ZONE}/{a}" for a in scenario.wildcard or ()]
        options += [
            f"--host-record={n},{a}" for n, addrs in scenario.records.items() for a in addrs
        ]
        options += [f"--cname={alias},{target}" for alias, target in scenario.cnames.items()]
        return DnsResolver([start(*options).nameserver], timeout=2)

    return serve


@pytest.fixture(params=["fake", pytest.param("dnsmasq", marks=pytest.mark.lab)])
def serve(request: pytest.FixtureRequest) -> Serve:
    if request.param == "fake":
        return _fake
    return _dnsmasq(request.getfixturevalue("dnsmasq"))


def answer(lookup: Lookup) -> tuple[LookupStatus, tuple[str, ...], tuple[str, ...]]:
    """What both must agree on (not `server` or `detail`: those name the subject)."""
    return lookup.status, lookup.addresses, lookup.cname_chain


def test_a_wildcard_answers_any_name_under_the_zone(serve: Serve) -> None:
    dns = serve(Scenario(records={ZONE: (IP,)}, wildcard=(IP,)))
    assert answer(dns.lookup(ZONE)) == (LookupStatus.OK, (IP,), ())
    assert answer(dns.lookup(f"uploads.{ZONE}")) == (LookupStatus.OK, (IP,), ())
    assert answer(dns.lookup(f"a.b.{ZONE}")) == (LookupStatus.OK, (IP,), ())


def test_an_exact_record_wins_over_the_wildcard(serve: Serve) -> None:
    dns = serve(Scenario(records={ZONE: (IP,), f"uploads.{ZONE}": (OTHER,)}, wildcard=(IP,)))
    assert answer(dns.lookup(f"uploads.{ZONE}")) == (LookupStatus.OK, (OTHER,), ())
    assert answer(dns.lookup(f"media.{ZONE}")) == (LookupStatus.OK, (IP,), ())


def test_without_a_wildcard_another_name_is_nxdomain(serve: Serve) -> None:
    dns = serve(Scenario(records={ZONE: (IP,)}))
    assert answer(dns.lookup(ZONE)) == (LookupStatus.OK, (IP,), ())
    assert dns.lookup(f"uploads.{ZONE}").status is LookupStatus.NXDOMAIN


def test_a_cname_is_followed_and_recorded(serve: Serve) -> None:
    dns = serve(Scenario(records={ZONE: (IP,)}, cnames={f"media.{ZONE}": ZONE}))
    assert answer(dns.lookup(f"media.{ZONE}")) == (LookupStatus.OK, (IP,), (ZONE,))


def test_ipv4_and_ipv6_come_back_together_a_first(serve: Serve) -> None:
    dns = serve(Scenario(records={ZONE: (IP, V6)}))
    assert answer(dns.lookup(ZONE)) == (LookupStatus.OK, (IP, V6), ())


def test_lookup_many_answers_each_name_as_lookup_does(serve: Serve) -> None:
    dns = serve(Scenario(records={ZONE: (IP,), f"uploads.{ZONE}": (OTHER,)}))
    names = [ZONE, f"uploads.{ZONE}", f"media.{ZONE}"]
    many = dns.lookup_many(names)
    assert list(many) == names
    assert [answer(many[n]) for n in names] == [answer(dns.lookup(n)) for n in names]
    assert many[f"media.{ZONE}"].status is LookupStatus.NXDOMAIN
