"""DnsResolver's logic without sockets: a subclass answers from an in-memory zone at the one
point where packets would leave (`_send`), so CNAME following, rcode mapping, the stub-resolver
order, the cache and make_resolver are tested on real dnspython messages."""

from __future__ import annotations

import itertools
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from ghes_setup.dns.lookup import MAX_CHAIN, Lookup, LookupStatus, format_set, sort_addresses
from ghes_setup.dns.resolver import (
    DnsAddressResolver,
    DnsResolver,
    _Answer,
    make_resolver,
)
from ghes_setup.errors import Unreachable
from ghes_setup.net import Nameserver, ResolveOverrides, SystemResolver
from tests.dns.fakes import HOST, IP, FakeDns, zone
from tests.imports import packages_loaded_by

NS1 = Nameserver("127.0.0.1", 5301)
NS2 = Nameserver("127.0.0.1", 5302)


class Zone:
    """name -> list of (type, value); rcodes forced per name; what a server would send."""

    def __init__(
        self,
        records: dict[str, list[tuple[str, str]]],
        *,
        rcode: dict[str, int] | None = None,
        include_chain_targets: bool = True,
        error: _Answer | None = None,
    ) -> None:
        self.records = records
        self.rcode = rcode or {}
        self.include_chain_targets = include_chain_targets
        self.error = error

    def respond(self, name: str, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        response = dns.message.make_response(query)
        if name in self.rcode:
            response.set_rcode(self.rcode[name])
            return response
        current, depth = name, 0
        while current in self.records and depth < 10:
            entries = self.records[current]
            cname = [v for t, v in entries if t == "CNAME"]
            wanted = [v for t, v in entries if t == dns.rdatatype.to_text(rdtype)]
            if wanted:
                response.answer.append(
                    dns.rrset.from_text_list(
                        current + ".", 60, "IN", dns.rdatatype.to_text(rdtype), wanted
                    )
                )
                return response
            if not cname:
                return response  # NODATA
            response.answer.append(dns.rrset.from_text(current + ".", 60, "IN", "CNAME", cname[0]))
            if not self.include_chain_targets:
                return response
            current, depth = cname[0].rstrip("."), depth + 1
        if depth == 0:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


class ZoneResolver(DnsResolver):
    def __init__(self, zones: dict[Nameserver, Zone], **kw: object) -> None:
        super().__init__(list(zones), **kw)  # type: ignore[arg-type]
        self.zones = zones
        self.sent: list[tuple[str, str, str]] = []
        self.sent_lock = threading.Lock()

    def _send(self, server, name, wanted, timeout, rdtype):  # type: ignore[no-untyped-def,override]
        with self.sent_lock:
            self.sent.append((str(server), name, rdtype))
        z = self.zones[server]
        if z.error is not None:
            return z.error
        return z.respond(name, wanted)


def test_a_and_aaaa_are_merged_into_one_sorted_address_set() -> None:
    r = ZoneResolver({NS1: Zone({HOST: [("AAAA", "2001:db8::5"), ("A", IP), ("A", "10.0.0.4")]})})
    result = r.lookup(HOST)
    assert result.status is LookupStatus.OK
    assert result.addresses == ("10.0.0.4", IP, "2001:db8::5")
    assert result.server == str(NS1)


def test_cname_chain_is_followed_and_recorded() -> None:
    records = {
        "www.alias.test": [("CNAME", "hop1.alias.test.")],
        "hop1.alias.test": [("CNAME", "hop2.alias.test.")],
        "hop2.alias.test": [("A", "127.0.0.1")],
    }
    result = ZoneResolver({NS1: Zone(records)}).lookup("www.alias.test")
    assert result.status is LookupStatus.OK
    assert result.cname_chain == ("hop1.alias.test", "hop2.alias.test")
    assert result.canonical_name == "hop2.alias.test"


def test_chain_ending_without_data_is_asked_again_for_its_target() -> None:
    # dnsmasq does this: containers -> edge -> apex, without the apex's A in the answer
    records = {
        f"containers.{HOST}": [("CNAME", "edge.lb.test.")],
        "edge.lb.test": [("CNAME", f"{HOST}.")],
        HOST: [("A", IP)],
    }
    r = ZoneResolver({NS1: Zone(records, include_chain_targets=False)})
    result = r.lookup(f"containers.{HOST}")
    assert result.status is LookupStatus.OK
    assert result.addresses == (IP,)
    assert result.cname_chain == ("edge.lb.test", HOST)


def test_cname_loop_is_a_definitive_cname_loop_not_servfail_or_a_hang() -> None:
    records = {"a.test": [("CNAME", "b.test.")], "b.test": [("CNAME", "a.test.")]}
    result = ZoneResolver({NS1: Zone(records, include_chain_targets=False)}).lookup("a.test")
    assert result.status is LookupStatus.CNAME_LOOP
    assert result.status.definitive and result.status.broken and not result.status.missing
    assert result.cname_loop == ("a.test", "b.test", "a.test")
    assert "CNAME loop at a.test" in result.detail


@pytest.mark.parametrize("chased", [True, False])
def test_a_loop_further_down_the_chain_is_shown_from_where_it_starts(chased: bool) -> None:
    # z4/z5 of the review: containers -> loop1 -> loop2 -> loop1, whether the server puts the
    # whole loop in one answer (a recursive resolver) or one CNAME per answer (authoritative)
    records = {
        f"containers.{HOST}": [("CNAME", "loop1.example.test.")],
        "loop1.example.test": [("CNAME", "loop2.example.test.")],
        "loop2.example.test": [("CNAME", "loop1.example.test.")],
    }
    r = ZoneResolver({NS1: Zone(records, include_chain_targets=chased)})
    result = r.lookup(f"containers.{HOST}")
    assert result.status is LookupStatus.CNAME_LOOP
    assert result.cname_loop == ("loop1.example.test", "loop2.example.test", "loop1.example.test")


@pytest.mark.parametrize("chased", [True, False])
def test_a_chain_longer_than_the_limit_is_long_chain(chased: bool) -> None:
    hops = [f"hop{i}.test" for i in range(MAX_CHAIN + 2)]
    records = {a: [("CNAME", b + ".")] for a, b in itertools.pairwise(hops)}
    records[hops[-1]] = [("A", IP)]
    r = ZoneResolver({NS1: Zone(records, include_chain_targets=chased)})
    result = r.lookup(hops[0])
    assert result.status is LookupStatus.LONG_CHAIN
    assert result.status.definitive and result.status.broken
    assert f"CNAME chain longer than {MAX_CHAIN}" in result.detail
    # the limit itself is fine, even asked one CNAME at a time
    within = r.lookup(hops[1])
    assert within.ok, within
    assert len(within.cname_chain) == MAX_CHAIN


# A lost packet and a slow server, over real UDP: tests/dns/test_dns_scenarios.py.


@pytest.mark.parametrize("rcode", [dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED])
def test_an_answer_is_never_retried(rcode: int) -> None:
    r = ZoneResolver({NS1: Zone({}, rcode={HOST: rcode})})
    assert r.lookup(HOST).status is not LookupStatus.OK
    assert sorted(r.sent) == [(str(NS1), HOST, "A"), (str(NS1), HOST, "AAAA")]


def test_an_unreachable_server_is_not_retried() -> None:
    down = _Answer(LookupStatus.UNREACHABLE, server=str(NS1), detail="refused")
    r = ZoneResolver({NS1: Zone({}, error=down)})
    assert r.lookup(HOST).status is LookupStatus.UNREACHABLE
    assert len(r.sent) == 2


def test_nxdomain_and_nodata_are_told_apart() -> None:
    r = ZoneResolver({NS1: Zone({"mx-only.test": [("MX", "10 mail.test.")]})})
    assert r.lookup("mx-only.test").status is LookupStatus.NODATA
    assert r.lookup("nothing.test").status is LookupStatus.NXDOMAIN


@pytest.mark.parametrize(
    ("rcode", "status"),
    [
        (dns.rcode.SERVFAIL, LookupStatus.SERVFAIL),
        (dns.rcode.REFUSED, LookupStatus.REFUSED),
        (dns.rcode.NOTIMP, LookupStatus.SERVFAIL),
    ],
)
def test_server_failures_map_to_could_not_check_statuses(rcode: int, status: LookupStatus) -> None:
    result = ZoneResolver({NS1: Zone({}, rcode={HOST: rcode})}).lookup(HOST)
    assert result.status is status
    assert not result.status.definitive
    assert dns.rcode.to_text(rcode) in result.detail  # type: ignore[arg-type]


def test_an_undecided_half_makes_the_lookup_undecided() -> None:
    class AaaaTimesOut(ZoneResolver):
        def _send(self, server, name, wanted, timeout, rdtype):  # type: ignore[no-untyped-def,override]
            if rdtype == "AAAA":
                return _Answer(LookupStatus.TIMEOUT, server=str(server), detail="AAAA timed out")
            return super()._send(server, name, wanted, timeout, rdtype)

    result = AaaaTimesOut({NS1: Zone({HOST: [("A", IP)]})}).lookup(HOST)
    assert result.status is LookupStatus.TIMEOUT
    assert result.addresses == ()
    assert "the A query gave 10.0.0.5" in result.detail


def test_stub_mode_uses_the_next_server_when_the_first_gives_no_answer() -> None:
    down = _Answer(LookupStatus.TIMEOUT, server=str(NS1), detail="silent")
    r = ZoneResolver({NS1: Zone({}, error=down), NS2: Zone({HOST: [("A", IP)]})})
    result = r.lookup(HOST)
    assert result.ok
    assert result.server == str(NS2)


def test_stub_mode_stops_at_the_first_definitive_answer() -> None:
    r = ZoneResolver({NS1: Zone({}), NS2: Zone({HOST: [("A", IP)]})})
    assert r.lookup(HOST).status is LookupStatus.NXDOMAIN
    assert {s for s, _, _ in r.sent} == {str(NS1)}


def test_all_servers_failing_names_each_one() -> None:
    down1 = _Answer(LookupStatus.TIMEOUT, server=str(NS1))
    down2 = _Answer(LookupStatus.REFUSED, server=str(NS2))
    r = ZoneResolver({NS1: Zone({}, error=down1), NS2: Zone({}, error=down2)})
    result = r.lookup(HOST)
    assert result.status is LookupStatus.TIMEOUT
    assert "127.0.0.1:5301: lookup timed out" in result.detail
    assert "127.0.0.1:5302: query refused (REFUSED)" in result.detail


def test_one_server_can_be_asked_on_its_own() -> None:
    r = ZoneResolver({NS1: Zone({HOST: [("A", IP)]}), NS2: Zone({HOST: [("A", "10.9.9.9")]})})
    assert r.lookup(HOST, server=NS2).addresses == ("10.9.9.9",)
    assert r.lookup(HOST, server=NS1).addresses == (IP,)


def test_repeated_and_concurrent_lookups_hit_the_cache() -> None:
    r = ZoneResolver({NS1: Zone({HOST: [("A", IP)]})})
    names = [HOST] * 5 + [HOST.upper(), HOST + "."]
    results = r.lookup_many(names)
    threads = [threading.Thread(target=r.lookup, args=(HOST,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(res.ok for res in results.values())
    assert sorted(r.sent) == [(str(NS1), HOST, "A"), (str(NS1), HOST, "AAAA")]
    assert r.queries_sent == 0  # _send is replaced; the real one counts packets


def test_lookup_many_keys_results_by_the_names_as_given() -> None:
    r = ZoneResolver({NS1: Zone({HOST: [("A", IP)]})})
    results = r.lookup_many([HOST, "GHE.example.com."])
    assert set(results) == {HOST, "GHE.example.com."}
    assert results["GHE.example.com."].ok


def test_lookup_many_of_nothing_is_empty() -> None:
    assert ZoneResolver({NS1: Zone({})}).lookup_many([]) == {}


def test_no_nameservers_anywhere_is_no_nameservers() -> None:
    r = DnsResolver(None, system=lambda: ())
    assert r.nameservers == ()
    assert r.uses_system_config
    assert r.lookup(HOST).status is LookupStatus.NO_NAMESERVERS


def test_system_nameservers_are_read_once() -> None:
    calls: list[int] = []

    def system() -> tuple[Nameserver, ...]:
        calls.append(1)
        return (NS1,)

    r = DnsResolver(None, system=system)
    assert r.nameservers == (NS1,)
    assert r.nameservers == (NS1,)
    assert calls == [1]


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        DnsResolver([NS1], timeout=0)


# ------------------------------------------------------------------ make_resolver


def test_make_resolver_without_nameservers_is_the_system_resolver() -> None:
    resolver = make_resolver((), ResolveOverrides.parse([f"{HOST}:{IP}"]))
    assert isinstance(resolver, SystemResolver)
    assert resolver.addresses(HOST) == (IP,)


def test_make_resolver_with_nameservers_uses_dns_after_the_pins() -> None:
    resolver = make_resolver([NS1], ResolveOverrides.parse([f".{HOST}:10.1.1.1"]), timeout=0.5)
    assert isinstance(resolver, DnsAddressResolver)
    assert resolver.addresses(f"containers.{HOST}") == ("10.1.1.1",)
    assert resolver.addresses("192.0.2.1") == ("192.0.2.1",)
    assert resolver.addresses("[2001:db8::1]") == ("2001:db8::1",)


def test_address_resolver_answers_from_dns() -> None:
    resolver = DnsAddressResolver(FakeDns(zone()))
    assert resolver.addresses(f"media.{HOST}") == (IP,)


def test_address_resolver_raises_unreachable_with_a_hint() -> None:
    resolver = DnsAddressResolver(FakeDns(zone(wildcard=None)))
    with pytest.raises(Unreachable) as info:
        resolver.addresses(f"media.{HOST}")
    assert "cannot resolve media.ghe.example.com" in info.value.message
    assert "NXDOMAIN" in info.value.message
    assert "--resolve" in (info.value.hint or "")
    assert "\n" not in info.value.message


# ------------------------------------------------------------------ the result type


def test_lookup_reason_and_details_are_json_friendly() -> None:
    failed = Lookup(HOST, LookupStatus.TIMEOUT, server="10.0.0.53", detail="A: no answer")
    assert failed.reason() == "lookup timed out: A: no answer"
    assert failed.as_details()["status"] == "timeout"
    ok = Lookup(HOST, LookupStatus.OK, (IP,), ("lb.example.net",), "10.0.0.53")
    assert ok.reason() == "resolves"
    assert ok.as_details()["cname_chain"] == ["lb.example.net"]


def test_addresses_sort_v4_first_numerically_and_format_as_a_set() -> None:
    assert sort_addresses(["2001:db8::1", "10.0.0.10", "10.0.0.9", "10.0.0.9"]) == (
        "10.0.0.9",
        "10.0.0.10",
        "2001:db8::1",
    )
    assert format_set([]) == "{}"
    assert format_set(["10.0.0.2", "10.0.0.1"]) == "{10.0.0.1, 10.0.0.2}"


def test_a_runs_resolver_loads_dnspython_only_when_it_queries() -> None:
    """Building the resolver, and answering a pinned name, happen at start-up before the
    appliance's chain begins: they must not wait for dnspython (about 40 ms) to load."""
    code = (
        "from ghes_setup.dns.resolver import make_resolver\n"
        "from ghes_setup.net import Nameserver, ResolveOverrides\n"
        "r = make_resolver([Nameserver.parse('127.0.0.1:53')],\n"
        "                  ResolveOverrides.parse(['ghe.example.com:127.0.0.10']))\n"
        "assert r.addresses('ghe.example.com') == ('127.0.0.10',)\n"
    )
    assert packages_loaded_by(code, ["dns"]) == []
