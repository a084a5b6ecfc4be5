"""The four DNS checks against a state-based fake resolver: every status path and remedy."""

from __future__ import annotations

import itertools
import json

import pytest

from ghes_setup import facts
from ghes_setup.checks.catalogue import Pipeline, rows
from ghes_setup.checks.model import Report, Status
from ghes_setup.dns.lookup import MAX_CHAIN, Lookup, LookupStatus
from ghes_setup.dns.service import DnsCheckRequest, run_dns_check
from ghes_setup.errors import InputError
from ghes_setup.exit_codes import ExitCode, NagiosCode, for_status, nagios_for_status
from ghes_setup.facts import GhesVersion
from ghes_setup.net import ResolveOverrides
from ghes_setup.reporting import json_report, nagios, prometheus
from tests.dns.fakes import HOST, IP, NS1, NS2, FakeDns, FakeZone, zone
from tests.schema import assert_valid_report

IDS = tuple(r.id for r in rows(Pipeline.DNS_CHECK))  # the catalogue's, in report order
OTHER = "10.9.9.9"
V6 = "2001:db8::5"


def run(*zones: FakeZone, **request: object) -> Report:
    fake = FakeDns(*zones)
    req = DnsCheckRequest(hostname=HOST, **request)  # type: ignore[arg-type]
    return run_dns_check(req, lookups=fake)


def statuses(report: Report) -> dict[str, str]:
    return {r.id: r.status.value for r in report.results}


# ------------------------------------------------------------------ whole runs


def test_report_has_the_catalogues_ids_in_contract_order_and_target() -> None:
    report = run(zone())
    assert report.ids() == IDS
    assert report.command == "dns check"
    assert report.target == HOST


def test_wildcard_setup_passes_and_consistency_skips_with_one_nameserver() -> None:
    report = run(zone())
    assert statuses(report) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",
        "dns-subdomains": "pass",
        "dns-consistency": "skip",
        "dns-cname-target": "pass",
    }
    assert "only one nameserver to compare" in report.by_id("dns-consistency").summary
    assert for_status(report.status) is ExitCode.OK


def test_no_nameservers_at_all_is_error_not_fail() -> None:
    report = run_dns_check(DnsCheckRequest(hostname=HOST), lookups=FakeDns())
    assert report.by_id("dns-hostname").status is Status.ERROR
    assert "no nameserver" in report.by_id("dns-hostname").summary
    assert report.by_id("dns-consistency").status is Status.SKIP
    assert for_status(report.status) is ExitCode.NOT_EVALUATED


@pytest.mark.parametrize(
    ("apex", "label"),
    [((IP,), "A only"), ((V6,), "AAAA only"), ((IP, V6), "dual stack")],
)
def test_a_only_aaaa_only_and_dual_stack_all_pass(apex: tuple[str, ...], label: str) -> None:
    report = run(zone(apex=apex, wildcard=apex))
    assert report.status is Status.PASS, label
    assert report.by_id("dns-hostname").details["addresses"] == list(apex)


# ------------------------------------------------------------------ dns-hostname


@pytest.mark.parametrize(
    ("kind", "zone_kw", "word"),
    [
        ("nxdomain", {"apex": ()}, "NXDOMAIN"),
        ("nodata", {"apex": (), "nodata": {HOST}}, "NODATA"),
    ],
)
def test_hostname_missing_fails_and_dependants_skip(
    kind: str, zone_kw: dict[str, object], word: str
) -> None:
    report = run(zone(wildcard=None, **zone_kw))  # type: ignore[arg-type]
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.FAIL
    assert word in hostname.summary
    assert hostname.details["status"] == kind
    assert f"{HOST}. 300 IN A <appliance IP>" in (hostname.remedy or "")
    assert report.by_id("dns-wildcard").status is Status.SKIP
    assert report.by_id("dns-subdomains").status is Status.SKIP
    assert for_status(report.status) is ExitCode.CHECK_FAILED


def test_hostname_missing_remedy_uses_the_expected_addresses() -> None:
    report = run(zone(apex=(), wildcard=None), expect=(IP, V6))
    remedy = report.by_id("dns-hostname").remedy or ""
    assert f"{HOST}. 300 IN A {IP}" in remedy
    assert f"{HOST}. 300 IN AAAA {V6}" in remedy


@pytest.mark.parametrize(
    "status",
    [LookupStatus.TIMEOUT, LookupStatus.SERVFAIL, LookupStatus.REFUSED, LookupStatus.UNREACHABLE],
)
def test_hostname_without_an_answer_is_error_could_not_check(status: LookupStatus) -> None:
    report = run(zone(failures={HOST: status}))
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.ERROR
    assert hostname.summary.startswith("could not check the hostname")
    assert "dig @10.0.0.53 ghe.example.com" in (hostname.remedy or "")
    assert report.by_id("dns-wildcard").status is Status.SKIP
    assert for_status(report.status) is ExitCode.NOT_EVALUATED
    assert nagios_for_status(report.status) is NagiosCode.UNKNOWN


def test_expect_equal_set_passes_whatever_the_spelling_and_order() -> None:
    report = run(zone(apex=(IP, V6), wildcard=(IP, V6)), expect=("2001:DB8:0::5", IP))
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.PASS
    assert "as expected" in hostname.summary
    assert hostname.details["expected"] == [IP, V6]


def test_expect_missing_address_fails_naming_it() -> None:
    report = run(zone(), expect=(IP, V6))
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.FAIL
    assert hostname.details["missing"] == [V6]
    assert hostname.details["unexpected"] == []
    assert f"{HOST}. 300 IN AAAA {V6}" in (hostname.remedy or "")


def test_expect_is_an_exact_set_so_an_extra_address_fails() -> None:
    report = run(zone(apex=(IP, OTHER)), expect=(IP,))
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.FAIL
    assert hostname.details["unexpected"] == [OTHER]
    assert "unexpected {10.9.9.9}" in hostname.summary


def test_resolve_pin_for_hostname_is_the_expectation_not_the_answer() -> None:
    pins = ResolveOverrides.parse([f"{HOST}:{OTHER}"])
    report = run(zone(), overrides=pins)
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.FAIL  # DNS says 10.0.0.5; the pin says 10.9.9.9
    assert hostname.details["addresses"] == [IP]
    assert hostname.details["expected"] == [OTHER]


def test_expect_overrides_a_resolve_pin() -> None:
    pins = ResolveOverrides.parse([f"{HOST}:{OTHER}"])
    report = run(zone(), overrides=pins, expect=(IP,))
    assert report.by_id("dns-hostname").status is Status.PASS


def test_bad_expect_address_is_input_error() -> None:
    with pytest.raises(InputError, match=r"--expect '10\.0\.0' is not an IPv4 or IPv6 address"):
        run(zone(), expect=("10.0.0",))


def test_hostname_via_cname_chain_passes_and_records_the_chain() -> None:
    z = zone(apex=(), cnames={HOST: "lb.example.net", "lb.example.net": "lb-1.example.net"})
    z.records["lb-1.example.net"] = (IP,)
    report = run(z)
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.PASS
    assert hostname.details["cname_chain"] == ["lb.example.net", "lb-1.example.net"]
    assert "via CNAME lb.example.net -> lb-1.example.net" in hostname.summary


# ------------------------------------------------------------------ dns-wildcard


def test_wildcard_missing_fails_with_remedy_naming_the_record() -> None:
    report = run(zone(wildcard=None))
    wildcard = report.by_id("dns-wildcard")
    assert wildcard.status is Status.FAIL
    assert "no wildcard record" in wildcard.summary
    assert wildcard.details["probe"].startswith("ghes-setup-probe-")
    assert wildcard.details["probe"].endswith("." + HOST)
    assert wildcard.remedy == f"add the wildcard record: *.{HOST}. 300 IN A {IP}"


def test_wildcard_remedy_has_aaaa_for_a_dual_stack_hostname() -> None:
    report = run(zone(apex=(IP, V6), wildcard=None))
    remedy = report.by_id("dns-wildcard").remedy or ""
    assert f"*.{HOST}. 300 IN A {IP}; *.{HOST}. 300 IN AAAA {V6}" in remedy


def test_wildcard_pointing_elsewhere_fails_naming_both_sets() -> None:
    report = run(zone(wildcard=(OTHER,)))
    wildcard = report.by_id("dns-wildcard")
    assert wildcard.status is Status.FAIL
    assert "{10.9.9.9}" in wildcard.summary
    assert "{10.0.0.5}" in wildcard.summary
    assert f"*.{HOST}. 300 IN A {IP}" in (wildcard.remedy or "")


def test_wildcard_with_only_one_address_family_of_a_dual_stack_hostname_fails() -> None:
    report = run(zone(apex=(IP, V6), wildcard=(IP,)))
    assert report.by_id("dns-wildcard").status is Status.FAIL


def test_wildcard_nodata_fails() -> None:
    report = run(zone(wildcard=()))
    wildcard = report.by_id("dns-wildcard")
    assert wildcard.status is Status.FAIL
    assert wildcard.details["status"] == "nodata"


def test_wildcard_cname_to_the_apex_passes() -> None:
    z = zone(wildcard=None)

    class CnameWildcard(FakeZone):
        def resolve(self, name: str, server: str) -> Lookup:
            if name.endswith("." + HOST) and name not in self.records:
                self.cnames.setdefault(name, HOST)
            return super().resolve(name, server)

    cz = CnameWildcard(records=z.records)
    report = run(cz)
    wildcard = report.by_id("dns-wildcard")
    assert wildcard.status is Status.PASS
    assert wildcard.details["cname_chain"] == [HOST]
    assert report.by_id("dns-subdomains").status is Status.PASS


def test_wildcard_timeout_is_error() -> None:
    class SlowWildcard(FakeZone):
        def resolve(self, name: str, server: str) -> Lookup:
            if name.startswith("ghes-setup-probe-"):
                self.failures[name] = LookupStatus.TIMEOUT
            return super().resolve(name, server)

    slow = SlowWildcard(records={HOST: (IP,)}, wildcards={HOST: (IP,)})
    report = run(slow)
    wildcard = report.by_id("dns-wildcard")
    assert wildcard.status is Status.ERROR
    assert wildcard.summary.startswith("could not check the wildcard")


# ------------------------------------------------------------------ dns-subdomains


def test_subdomain_overridden_to_another_address_is_caught() -> None:
    z = zone(records={f"uploads.{HOST}": (OTHER,)})
    report = run(z)
    sub = report.by_id("dns-subdomains")
    assert sub.status is Status.FAIL
    assert sub.details["failing"] == [f"uploads.{HOST}"]
    assert sub.details["reasons"] == {f"uploads.{HOST}": "different-addresses"}
    assert f"uploads.{HOST} -> {{{OTHER}}}" in (sub.remedy or "")
    assert sub.metrics == {"checked": 17.0, "failing": 1.0}
    # the wildcard itself is fine: only the explicit record is wrong
    assert report.by_id("dns-wildcard").status is Status.PASS


def test_no_wildcard_fails_every_subdomain_with_nxdomain() -> None:
    report = run(zone(wildcard=None))
    sub = report.by_id("dns-subdomains")
    hosts = list(facts.isolation_hosts(HOST, None))
    assert sub.status is Status.FAIL
    assert sub.details["failing"] == hosts
    assert set(sub.details["reasons"].values()) == {"nxdomain"}
    assert sub.details["checked"] == hosts
    assert "and 9 more (details.failing)" in sub.summary
    assert f"*.{HOST}. 300 IN A {IP}" in (sub.remedy or "")
    assert "each of the 17 names in details.failing" in (sub.remedy or "")


def test_explicit_records_for_every_subdomain_pass_without_a_wildcard() -> None:
    records = dict.fromkeys(facts.isolation_hosts(HOST, None), (IP,))
    report = run(zone(wildcard=None, records=records))
    assert report.by_id("dns-wildcard").status is Status.FAIL
    assert report.by_id("dns-subdomains").status is Status.PASS


def test_a_few_missing_explicit_records_are_listed_by_name() -> None:
    hosts = facts.isolation_hosts(HOST, None)
    missing = {f"containers.{HOST}", f"notebooks.{HOST}"}
    records = {h: (IP,) for h in hosts if h not in missing}
    sub = run(zone(wildcard=None, records=records)).by_id("dns-subdomains")
    assert sub.status is Status.FAIL
    assert set(sub.details["failing"]) == missing
    assert f"containers.{HOST}, notebooks.{HOST}" in (sub.remedy or "")


def test_subdomain_via_cname_chain_to_the_apex_passes() -> None:
    z = zone(cnames={f"containers.{HOST}": "edge.example.net", "edge.example.net": HOST})
    sub = run(z).by_id("dns-subdomains")
    assert sub.status is Status.PASS
    assert sub.details["results"][f"containers.{HOST}"]["cname_chain"] == [
        "edge.example.net",
        HOST,
    ]


def test_subdomain_without_an_answer_is_error_and_listed_as_unchecked() -> None:
    z = zone(failures={f"media.{HOST}": LookupStatus.SERVFAIL})
    sub = run(z).by_id("dns-subdomains")
    assert sub.status is Status.ERROR
    assert sub.details["failing"] == []
    assert sub.details["unchecked"] == [f"media.{HOST}"]
    assert "could not check 1 of 17 subdomains" in sub.summary


def test_a_definite_failure_outranks_an_unanswered_subdomain() -> None:
    z = zone(
        failures={f"media.{HOST}": LookupStatus.TIMEOUT},
        records={f"raw.{HOST}": (OTHER,)},
    )
    sub = run(z).by_id("dns-subdomains")
    assert sub.status is Status.FAIL
    assert sub.details["failing"] == [f"raw.{HOST}"]
    assert sub.details["unchecked"] == [f"media.{HOST}"]


# ------------------------------------------------------------------ broken CNAME chains fail

LOOP = {"loop1.example.net": "loop2.example.net", "loop2.example.net": "loop1.example.net"}


def test_hostname_in_a_cname_loop_fails_naming_the_loop_not_could_not_check() -> None:
    report = run(zone(apex=(), cnames={HOST: "lb.example.net", "lb.example.net": HOST}))
    hostname = report.by_id("dns-hostname")
    assert hostname.status is Status.FAIL
    assert hostname.summary == f"{HOST} leads into a CNAME loop: {HOST} -> lb.example.net -> {HOST}"
    assert (hostname.remedy or "").startswith(f"break the CNAME loop at {HOST}: ")
    assert "--timeout" not in (hostname.remedy or "")
    assert hostname.details["status"] == "cname-loop"
    assert report.by_id("dns-wildcard").status is Status.SKIP
    assert for_status(report.status) is ExitCode.CHECK_FAILED


def test_wildcard_in_a_cname_loop_fails_naming_the_loop() -> None:
    class LoopingWildcard(FakeZone):
        def resolve(self, name: str, server: str) -> Lookup:
            if name.endswith("." + HOST) and name not in self.records:
                self.cnames.setdefault(name, "loop1.example.net")
            return super().resolve(name, server)

    report = run(LoopingWildcard(records={HOST: (IP,)}, cnames=dict(LOOP)))
    wildcard = report.by_id("dns-wildcard")
    assert wildcard.status is Status.FAIL
    assert "loop1.example.net -> loop2.example.net -> loop1.example.net" in wildcard.summary
    assert wildcard.remedy == (
        f"break the CNAME loop at loop1.example.net: point the wildcard at {HOST}: "
        f"*.{HOST}. 300 IN CNAME {HOST}."
    )
    sub = report.by_id("dns-subdomains")
    assert sub.status is Status.FAIL
    assert set(sub.details["reasons"].values()) == {"cname-loop"}


def test_subdomain_in_a_cname_loop_fails_and_is_not_unchecked() -> None:
    containers = f"containers.{HOST}"
    sub = run(zone(cnames={containers: "loop1.example.net", **LOOP})).by_id("dns-subdomains")
    assert sub.status is Status.FAIL
    assert sub.details["reasons"] == {containers: "cname-loop"}
    assert sub.details["unchecked"] == []
    assert sub.remedy == (
        f"break the CNAME loop at loop1.example.net: {containers} must lead to {HOST} "
        f"({containers}. 300 IN CNAME {HOST}.)"
    )


def test_subdomain_with_a_chain_longer_than_the_limit_fails() -> None:
    containers = f"containers.{HOST}"
    hops = [containers, *(f"hop{i}.example.net" for i in range(MAX_CHAIN)), HOST]
    sub = run(zone(cnames=dict(itertools.pairwise(hops)))).by_id("dns-subdomains")
    assert sub.status is Status.FAIL
    assert sub.details["reasons"] == {containers: "cname-chain-too-long"}
    assert (sub.remedy or "").startswith(
        f"shorten the CNAME chain of {containers} to at most {MAX_CHAIN} hops: "
    )


def test_a_cname_loop_on_one_nameserver_is_a_disagreement_shown_as_such() -> None:
    report = run(zone(), zone(apex=(), cnames={HOST: HOST}))
    consistency = report.by_id("dns-consistency")
    assert consistency.status is Status.FAIL
    assert consistency.details["answers"][HOST] == {str(NS1): [IP], str(NS2): "cname-loop"}


# ------------------------------------------------------------------ dns-subdomains: whom to blame


def test_missing_names_under_a_working_wildcard_are_blamed_on_their_own_records() -> None:
    # `_acme-challenge.containers` TXT: containers exists without addresses (NODATA);
    # raw is a CNAME to a name that does not exist (NXDOMAIN). The wildcard is fine.
    z = zone(nodata={f"containers.{HOST}"}, cnames={f"raw.{HOST}": "missing.example.net"})
    report = run(z)
    assert report.by_id("dns-wildcard").status is Status.PASS
    sub = report.by_id("dns-subdomains")
    assert sub.details["reasons"] == {f"containers.{HOST}": "nodata", f"raw.{HOST}": "nxdomain"}
    assert sub.details["wildcard"]["addresses"] == [IP]
    remedy = sub.remedy or ""
    assert "add the wildcard" not in remedy
    assert remedy.startswith(
        f"containers.{HOST}, raw.{HOST} (CNAME to missing.example.net) have records of their "
        f"own that hide the wildcard *.{HOST} but no address: give each an address record "
        f"(containers.{HOST}. 300 IN A {IP}) in place of those records, or remove them"
    )


def test_one_name_hiding_the_wildcard_is_named_in_the_singular() -> None:
    sub = run(zone(nodata={f"containers.{HOST}"})).by_id("dns-subdomains")
    assert (sub.remedy or "").startswith(
        f"containers.{HOST} has records of its own that hide the wildcard *.{HOST} but no "
        f"address: give it an address record (containers.{HOST}. 300 IN A {IP})"
    )


def test_a_wrong_wildcard_is_blamed_not_records_overriding_it() -> None:
    sub = run(zone(wildcard=(OTHER,))).by_id("dns-subdomains")
    assert set(sub.details["reasons"].values()) == {"different-addresses"}
    remedy = sub.remedy or ""
    assert "override" not in remedy
    assert remedy.startswith(
        f"fix the wildcard, which points to {{{OTHER}}}: *.{HOST}. 300 IN A {IP} "
        f"(that fixes assets.{HOST}, "
    )
    assert remedy.endswith(" and 9 more)")


def test_a_wrong_wildcard_and_a_record_of_its_own_are_told_apart() -> None:
    uploads = f"uploads.{HOST}"
    sub = run(zone(wildcard=(OTHER,), records={uploads: ("10.7.7.7",)})).by_id("dns-subdomains")
    first, second = (sub.remedy or "").split("; ")
    assert first.startswith("fix the wildcard") and uploads not in first
    assert second == (
        f"fix or delete the records that override the wildcard ({uploads} -> {{10.7.7.7}}) "
        f"so they point to {{{IP}}}"
    )


def test_without_a_wildcard_a_record_pointing_elsewhere_overrides_nothing() -> None:
    hosts = facts.isolation_hosts(HOST, None)
    records = dict.fromkeys(hosts, (IP,))
    records[f"uploads.{HOST}"] = (OTHER,)
    sub = run(zone(wildcard=None, records=records)).by_id("dns-subdomains")
    assert sub.remedy == (
        f"fix or delete the records of their own (uploads.{HOST} -> {{{OTHER}}}) so they point "
        f"to {{{IP}}}"
    )


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        ("3.4", {"docker", "render"}, {"containers", "notebooks", "viewscreen"}),
        ("3.6", {"containers", "render"}, {"notebooks", "viewscreen"}),
        ("3.7", {"containers", "notebooks", "viewscreen"}, {"render"}),
        ("3.17", {"containers", "notebooks", "viewscreen"}, {"render"}),
    ],
)
def test_subdomain_list_follows_the_ghes_version(
    version: str, present: set[str], absent: set[str]
) -> None:
    sub = run(zone(), ghes_version=GhesVersion.parse(version)).by_id("dns-subdomains")
    labels = {name.removesuffix("." + HOST) for name in sub.details["checked"]}
    assert present <= labels
    assert not (absent & labels)
    assert sub.details["ghes_version"] == version
    assert sub.details["version_assumed"] is False


def test_render_record_missing_only_matters_before_3_7() -> None:
    z = zone(records={f"render.{HOST}": (OTHER,)})
    assert run(z, ghes_version=GhesVersion.parse("3.6")).status is Status.FAIL
    assert run(z, ghes_version=GhesVersion.parse("3.7")).status is Status.PASS


def test_default_version_is_recorded_as_assumed() -> None:
    sub = run(zone()).by_id("dns-subdomains")
    assert sub.details["ghes_version"] == str(facts.DEFAULT_GHES_VERSION)
    assert sub.details["version_assumed"] is True


# ------------------------------------------------------------------ dns-consistency


def test_two_agreeing_nameservers_pass() -> None:
    report = run(zone(), zone())
    consistency = report.by_id("dns-consistency")
    assert consistency.status is Status.PASS
    assert consistency.details["nameservers"] == [str(NS1), str(NS2)]


def test_two_nameservers_disagreeing_on_the_wildcard_fail() -> None:
    report = run(zone(), zone(wildcard=None))
    consistency = report.by_id("dns-consistency")
    assert consistency.status is Status.FAIL
    # The wildcard first, then the subdomains that only it gives.
    assert consistency.details["disagree"][0] == consistency.details["probe"]
    assert "disagree on the wildcard" in consistency.summary
    assert "10.0.0.54: {}" in consistency.summary
    # the stub-mode checks used the first server, which has the wildcard
    assert report.by_id("dns-wildcard").status is Status.PASS


def test_two_nameservers_disagreeing_on_hostname_fail() -> None:
    report = run(zone(), zone(apex=(OTHER,)))
    consistency = report.by_id("dns-consistency")
    assert consistency.status is Status.FAIL
    assert HOST in consistency.details["disagree"]


def test_a_stale_subdomain_record_on_the_second_nameserver_fails_consistency() -> None:
    # dns-subdomains takes the first server's answers (a stub resolver): only this sees it.
    report = run(zone(), zone(records={f"containers.{HOST}": (OTHER,)}))
    consistency = report.by_id("dns-consistency")
    assert consistency.status is Status.FAIL
    assert consistency.details["disagree"] == [f"containers.{HOST}"]
    assert f"disagree on containers.{HOST}" in consistency.summary
    assert report.by_id("dns-subdomains").status is Status.PASS


def test_nxdomain_and_nodata_agree_on_no_addresses() -> None:
    report = run(zone(wildcard=None), zone(wildcard=()))
    assert report.by_id("dns-consistency").status is Status.PASS


def test_a_silent_nameserver_makes_consistency_error() -> None:
    report = run(zone(), zone(down=LookupStatus.TIMEOUT))
    consistency = report.by_id("dns-consistency")
    assert consistency.status is Status.ERROR
    assert consistency.details["answers"][HOST][str(NS2)] == "timeout"
    # the stub-mode checks got their answer from the first server
    assert report.by_id("dns-hostname").status is Status.PASS


def test_stub_mode_falls_back_to_the_next_nameserver() -> None:
    report = run(zone(down=LookupStatus.REFUSED), zone())
    assert report.by_id("dns-hostname").status is Status.PASS
    assert report.by_id("dns-hostname").details["server"] == str(NS2)


def test_consistency_asks_each_server_for_hostname_and_probe() -> None:
    fake = FakeDns(zone(), zone())
    run_dns_check(DnsCheckRequest(hostname=HOST), lookups=fake)
    per_server = {(s, n) for s, n in fake.asked if n == HOST or "probe" in n}
    assert {s for s, _ in per_server} == {str(NS1), str(NS2)}


# ------------------------------------------------------------------ output formats


def test_every_path_produces_schema_valid_json() -> None:
    scenarios = [
        run(zone()),
        run(zone(wildcard=None)),
        run(zone(failures={HOST: LookupStatus.TIMEOUT})),
        run(zone(), zone(wildcard=(OTHER,))),
        run(zone(records={f"uploads.{HOST}": (OTHER,)}), expect=(IP,)),
    ]
    for report in scenarios:
        document = json.loads(json_report.render(report))
        assert_valid_report(document)
        assert document["command"] == "dns check"
        assert [r["id"] for r in document["results"]] == list(IDS)


def test_nagios_and_prometheus_carry_the_subdomain_metrics() -> None:
    report = run(zone(records={f"uploads.{HOST}": (OTHER,)}))
    text, code = nagios.render(report)
    assert code is NagiosCode.CRITICAL
    assert "'dns-subdomains.failing'=1;;;;" in text
    prom = prometheus.render(report, now=0)
    assert (
        'ghes_setup_check_failing{check="dns-subdomains",area="dns",host="ghe.example.com"} 1'
        in prom
    )


# ------------------------------------------------------------------ dns-cname-target

LB = "lb.example.net"


def cname_zone(**kw: object) -> FakeZone:
    """HOSTNAME is a CNAME to a load balancer's name, which has the addresses."""
    z = zone(**kw)  # type: ignore[arg-type]
    del z.records[HOST]
    z.cnames[HOST] = LB
    z.records[LB] = (IP,)
    return z


def test_cname_target_passes_when_hostname_has_its_own_records() -> None:
    result = run(zone()).by_id("dns-cname-target")
    assert result.status is Status.PASS
    assert "address records of its own" in result.summary
    assert result.details["cname_chain"] == []


def test_cname_target_warns_about_a_wildcard_copying_the_targets_addresses() -> None:
    report = run(cname_zone())
    assert report.by_id("dns-wildcard").status is Status.PASS  # same addresses today
    result = report.by_id("dns-cname-target")
    assert result.status is Status.WARN
    assert result.details["target"] == LB
    copies = result.details["copies"]
    assert copies[0] == f"*.{HOST}"
    assert set(copies[1:]) == set(facts.isolation_hosts(HOST, None))
    assert f"{HOST} is a CNAME to {LB}" in result.summary
    assert result.remedy is not None
    assert f"*.{HOST}. 300 IN CNAME {HOST}." in result.remedy
    assert for_status(report.status) is ExitCode.OK  # a warning, not a failure


def test_cname_target_passes_when_every_name_is_a_cname_to_hostname() -> None:
    z = cname_zone(wildcard=None)
    for name in facts.isolation_hosts(HOST, None):
        z.cnames[name] = HOST
    report = run(z)
    assert report.by_id("dns-wildcard").status is Status.FAIL  # no wildcard: its own failure
    result = report.by_id("dns-cname-target")
    assert result.status is Status.PASS, result.summary
    assert result.details["copies"] == []


def test_cname_target_names_only_the_subdomain_with_its_own_copy() -> None:
    z = cname_zone(wildcard=None)
    for name in facts.isolation_hosts(HOST, None):
        z.cnames[name] = HOST
    uploads = f"uploads.{HOST}"
    del z.cnames[uploads]
    z.records[uploads] = (IP,)  # same address as the balancer today
    result = run(z).by_id("dns-cname-target")
    assert result.status is Status.WARN
    assert result.details["copies"] == [uploads]
    assert result.details["ends"] == {uploads: uploads}
    assert "1 name(s)" in result.summary and uploads in result.summary


def test_cname_target_leaves_names_pointing_elsewhere_to_the_other_checks() -> None:
    report = run(cname_zone(wildcard=(OTHER,)))
    assert report.by_id("dns-wildcard").status is Status.FAIL
    assert report.by_id("dns-cname-target").status is Status.PASS


def test_cname_target_skips_when_hostname_does_not_resolve() -> None:
    report = run(zone(apex=()))
    assert report.by_id("dns-cname-target").status is Status.SKIP
