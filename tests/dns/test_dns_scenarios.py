"""`ghes-setup dns check` against real DNS servers: dnsmasq per scenario, dnslib for SERVFAIL
and delays, a silent UDP socket for timeouts. Each scenario asserts the check ids, statuses
and exit code through the CLI, and `details.failing` where it matters."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dnslib import QTYPE, DNSRecord

from ghes_setup import facts
from ghes_setup.checks.catalogue import Pipeline, rows
from ghes_setup.dns.lookup import LookupStatus
from ghes_setup.dns.resolver import DnsResolver, make_resolver
from ghes_setup.dns.service import DnsCheckRequest, run_dns_check
from ghes_setup.errors import Unreachable
from ghes_setup.facts import GhesVersion
from tests.conftest import CliResult, CliRunner, assert_no_traceback
from tests.dns.conftest import APEX, ZONE
from tests.dns.servers import Dnsmasq, ScriptedDns, SilentUdp, query
from tests.schema import assert_valid_report

pytestmark = pytest.mark.lab

Start = Callable[..., Dnsmasq]
IDS = [r.id for r in rows(Pipeline.DNS_CHECK)]  # the catalogue's, in report order
SUBDOMAINS = list(facts.isolation_hosts(ZONE, None))

WILDCARD = (f"--address=/{ZONE}/{APEX}",)
NO_WILDCARD = (f"--host-record={ZONE},{APEX}",)
ELSEWHERE = (f"--address=/{ZONE}/127.0.0.2", f"--host-record={ZONE},{APEX}")
OVERRIDE = (*WILDCARD, f"--host-record=uploads.{ZONE},127.0.0.9")
AAAA_ONLY = (f"--address=/{ZONE}/::1",)


def check(cli: CliRunner, *servers: object, args: tuple[str, ...] = ()) -> CliResult:
    ns = [a for s in servers for a in ("--nameserver", str(s))]
    return cli("--format", "json", "dns", "check", ZONE, *ns, "--timeout", "1", *args)


def statuses(result: CliResult) -> dict[str, str]:
    doc = result.json()
    assert_valid_report(doc)
    assert [r["id"] for r in doc["results"]] == IDS
    return {r["id"]: r["status"] for r in doc["results"]}


def details(result: CliResult, check_id: str) -> dict[str, object]:
    return next(r["details"] for r in result.json()["results"] if r["id"] == check_id)


# ------------------------------------------------------------------ dnsmasq scenarios


def test_wildcard_present_passes_exit_0(cli: CliRunner, dnsmasq: Start) -> None:
    server = dnsmasq(*WILDCARD)
    result = check(cli, server)
    assert result.exit_code == 0, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",
        "dns-subdomains": "pass",
        "dns-consistency": "skip",
        "dns-cname-target": "pass",
    }
    assert details(result, "dns-subdomains")["checked"] == SUBDOMAINS
    assert details(result, "dns-hostname")["server"] == str(server)


def test_wildcard_absent_fails_wildcard_and_every_subdomain_exit_1(
    cli: CliRunner, dnsmasq: Start
) -> None:
    server = dnsmasq(*NO_WILDCARD)
    assert query(server.nameserver, f"assets.{ZONE}").header.rcode == 3  # NXDOMAIN, really
    result = check(cli, server)
    assert result.exit_code == 1, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "fail",
        "dns-subdomains": "fail",
        "dns-consistency": "skip",
        "dns-cname-target": "pass",
    }
    sub = details(result, "dns-subdomains")
    assert sub["failing"] == SUBDOMAINS
    assert set(sub["reasons"].values()) == {"nxdomain"}  # type: ignore[attr-defined]
    wildcard = next(r for r in result.json()["results"] if r["id"] == "dns-wildcard")
    assert wildcard["remedy"] == f"add the wildcard record: *.{ZONE}. 300 IN A {APEX}"


def test_wildcard_pointing_elsewhere_fails_naming_both_sets(cli: CliRunner, dnsmasq: Start) -> None:
    server = dnsmasq(*ELSEWHERE)
    result = check(cli, server)
    assert result.exit_code == 1, result
    assert statuses(result)["dns-wildcard"] == "fail"
    wildcard = next(r for r in result.json()["results"] if r["id"] == "dns-wildcard")
    assert "{127.0.0.2}" in wildcard["summary"]
    assert "{127.0.0.1}" in wildcard["summary"]
    sub = details(result, "dns-subdomains")
    assert sub["failing"] == SUBDOMAINS
    assert set(sub["reasons"].values()) == {"different-addresses"}  # type: ignore[attr-defined]


def test_cname_chains_to_the_apex_are_followed(cli: CliRunner, dnsmasq: Start) -> None:
    # HOSTNAME -> lb1 -> lb2 (A); containers -> edge -> HOSTNAME, and dnsmasq does not put
    # HOSTNAME's records in that answer, so the resolver has to ask for the chain's end.
    server = dnsmasq(
        f"--cname={ZONE},lb1.lb.test",
        "--cname=lb1.lb.test,lb2.lb.test",
        f"--host-record=lb2.lb.test,{APEX}",
        f"--address=/{ZONE}/{APEX}",
        f"--cname=containers.{ZONE},edge.lb.test",
        f"--cname=edge.lb.test,{ZONE}",
        zones=(ZONE, "lb.test"),
    )
    result = check(cli, server)
    assert result.exit_code == 0, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",
        "dns-subdomains": "pass",
        "dns-consistency": "skip",
        "dns-cname-target": "warn",
    }
    assert details(result, "dns-hostname")["cname_chain"] == ["lb1.lb.test", "lb2.lb.test"]
    containers = details(result, "dns-subdomains")["results"][f"containers.{ZONE}"]  # type: ignore[index]
    assert containers["cname_chain"] == ["edge.lb.test", ZONE, "lb1.lb.test", "lb2.lb.test"]
    assert containers["addresses"] == [APEX]
    # The wildcard (--address) holds a copy of lb2's address: it would not follow a change.
    # containers. follows HOSTNAME's chain to its end, so it is not named.
    target = details(result, "dns-cname-target")
    assert target["target"] == "lb2.lb.test"
    assert target["copies"] == [f"*.{ZONE}", *(n for n in SUBDOMAINS if n != f"containers.{ZONE}")]


def test_subdomains_that_are_cnames_to_a_cname_hostname_pass_cname_target(
    cli: CliRunner, dnsmasq: Start
) -> None:
    # No wildcard (dnsmasq serves wildcard CNAMEs only as an authoritative server): one CNAME
    # per isolation subdomain to HOSTNAME, itself a CNAME to the balancer's name.
    server = dnsmasq(
        f"--cname={ZONE},lb1.lb.test",
        f"--host-record=lb1.lb.test,{APEX}",
        *(f"--cname={name},{ZONE}" for name in SUBDOMAINS),
        zones=(ZONE, "lb.test"),
    )
    result = check(cli, server)
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "fail",  # no wildcard: that check's failure, not this one's
        "dns-subdomains": "pass",
        "dns-consistency": "skip",
        "dns-cname-target": "pass",
    }
    target = details(result, "dns-cname-target")
    assert (target["target"], target["copies"]) == ("lb1.lb.test", [])


def test_a_subdomain_with_a_copied_address_is_the_one_cname_target_names(
    cli: CliRunner, dnsmasq: Start
) -> None:
    uploads = f"uploads.{ZONE}"
    server = dnsmasq(
        f"--cname={ZONE},lb1.lb.test",
        f"--host-record=lb1.lb.test,{APEX}",
        *(f"--cname={name},{ZONE}" for name in SUBDOMAINS if name != uploads),
        f"--host-record={uploads},{APEX}",
        zones=(ZONE, "lb.test"),
    )
    result = check(cli, server)
    assert result.exit_code == 1, result  # dns-wildcard fails (no wildcard); the rest below
    assert statuses(result)["dns-cname-target"] == "warn"
    target = details(result, "dns-cname-target")
    assert target["copies"] == [uploads]
    assert target["ends"] == {uploads: uploads}
    nagios = cli("dns", "check", ZONE, "--nameserver", str(server), "--format", "nagios")
    assert "dns-cname-target" in nagios.stdout


def test_aaaa_only_is_valid(cli: CliRunner, dnsmasq: Start) -> None:
    server = dnsmasq(*AAAA_ONLY)
    result = check(cli, server, args=("--expect", "0:0::1"))
    assert result.exit_code == 0, result
    assert set(statuses(result).values()) == {"pass", "skip"}
    assert details(result, "dns-hostname")["addresses"] == ["::1"]


def test_subdomain_overridden_to_another_address_is_caught(cli: CliRunner, dnsmasq: Start) -> None:
    server = dnsmasq(*OVERRIDE)
    result = check(cli, server)
    assert result.exit_code == 1, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",
        "dns-subdomains": "fail",
        "dns-consistency": "skip",
        "dns-cname-target": "pass",
    }
    sub = details(result, "dns-subdomains")
    assert sub["failing"] == [f"uploads.{ZONE}"]
    assert sub["reasons"] == {f"uploads.{ZONE}": "different-addresses"}


def test_expect_mismatch_fails_hostname_and_skips_the_rest(cli: CliRunner, dnsmasq: Start) -> None:
    server = dnsmasq(*WILDCARD)
    result = check(cli, server, args=("--expect", "127.0.0.7"))
    assert result.exit_code == 1, result
    assert statuses(result) == {
        "dns-hostname": "fail",
        "dns-wildcard": "skip",
        "dns-subdomains": "skip",
        "dns-consistency": "skip",
        "dns-cname-target": "skip",
    }


def test_two_nameservers_disagreeing_fail_consistency(cli: CliRunner, dnsmasq: Start) -> None:
    good, stale = dnsmasq(*WILDCARD), dnsmasq(*NO_WILDCARD)
    result = check(cli, good, stale)
    assert result.exit_code == 1, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",  # the first server answers the stub-mode lookups
        "dns-subdomains": "pass",
        "dns-consistency": "fail",
        "dns-cname-target": "pass",
    }
    consistency = details(result, "dns-consistency")
    # The wildcard first; every isolation subdomain, which only it gives, disagrees with it.
    assert consistency["disagree"] == [consistency["probe"], *SUBDOMAINS]
    assert consistency["answers"][consistency["probe"]] == {  # type: ignore[index]
        str(good): [APEX],
        str(stale): [],
    }


def test_two_agreeing_nameservers_pass_consistency(cli: CliRunner, dnsmasq: Start) -> None:
    result = check(cli, dnsmasq(*WILDCARD), dnsmasq(*WILDCARD))
    assert result.exit_code == 0, result
    assert statuses(result)["dns-consistency"] == "pass"


def test_site_file_gives_hostname_nameservers_address_and_version(
    cli: CliRunner, dnsmasq: Start, tmp_path: Path
) -> None:
    server = dnsmasq(*WILDCARD)
    site = tmp_path / "site.toml"
    site.write_text(
        f'hostname = "{ZONE}"\nghes_version = "3.4"\n'
        f'[connection]\naddress = "{APEX}"\nnameservers = ["{server}"]\n'
    )
    result = cli("--format", "json", "dns", "check", "--site", str(site))
    assert result.exit_code == 0, result
    hostname = details(result, "dns-hostname")
    assert hostname["expected"] == [APEX]
    checked = details(result, "dns-subdomains")["checked"]
    assert f"containers.{ZONE}" not in checked  # type: ignore[operator]
    assert f"render.{ZONE}" in checked  # type: ignore[operator]
    # flags win over the site file
    result = cli("--format", "json", "dns", "check", "--site", str(site), "--expect", "10.1.1.1")
    assert result.exit_code == 1, result
    assert details(result, "dns-hostname")["expected"] == ["10.1.1.1"]


# ------------------------------------------------------------------ no answer: error, exit 7


def test_servfail_for_everything_is_error_exit_7(
    cli: CliRunner, scripted_dns: Callable[..., ScriptedDns]
) -> None:
    server = scripted_dns(servfail_all=True)
    result = check(cli, server.nameserver)
    assert result.exit_code == 7, result
    assert statuses(result) == {
        "dns-hostname": "error",
        "dns-wildcard": "skip",
        "dns-subdomains": "skip",
        "dns-consistency": "skip",
        "dns-cname-target": "skip",
    }
    summary = result.json()["results"][0]["summary"]
    assert "SERVFAIL" in summary


def test_servfail_for_one_subdomain_is_error_not_fail(
    cli: CliRunner, scripted_dns: Callable[..., ScriptedDns]
) -> None:
    server = scripted_dns(records={ZONE: [APEX]}, wildcard=[APEX], servfail=[f"media.{ZONE}"])
    result = check(cli, server.nameserver)
    assert result.exit_code == 7, result
    assert statuses(result)["dns-subdomains"] == "error"
    sub = details(result, "dns-subdomains")
    assert sub["failing"] == []
    assert sub["unchecked"] == [f"media.{ZONE}"]


def test_timeout_is_error_exit_7_within_two_seconds(cli: CliRunner, silent_udp: SilentUdp) -> None:
    start = time.monotonic()
    result = cli(
        "--format", "json", "dns", "check", ZONE,
        "--nameserver", str(silent_udp.nameserver), "--timeout", "0.3",
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert result.exit_code == 7, result
    assert statuses(result)["dns-hostname"] == "error"
    assert "timed out" in result.json()["results"][0]["summary"]
    assert elapsed < 2.0


def test_a_silent_second_nameserver_makes_consistency_error(
    cli: CliRunner, dnsmasq: Start, silent_udp: SilentUdp
) -> None:
    result = cli(
        "--format", "json", "dns", "check", ZONE, "--nameserver", str(dnsmasq(*WILDCARD)),
        "--nameserver", str(silent_udp.nameserver), "--timeout", "0.3",
    )  # fmt: skip
    assert result.exit_code == 7, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",
        "dns-subdomains": "pass",
        "dns-consistency": "error",
        "dns-cname-target": "pass",
    }


def test_timeout_in_nagios_format_is_unknown_3(cli: CliRunner, silent_udp: SilentUdp) -> None:
    result = cli(
        "dns", "check", ZONE, "--nameserver", str(silent_udp.nameserver),
        "--timeout", "0.3", "--format", "nagios",
    )  # fmt: skip
    assert result.exit_code == 3, result
    assert result.stdout.startswith("GHES-SETUP UNKNOWN - dns-hostname: could not check")


# ------------------------------------------------------------------ the four formats


def test_all_four_formats_on_the_override_scenario(
    cli: CliRunner, dnsmasq: Start, tmp_path: Path
) -> None:
    server = dnsmasq(*OVERRIDE)
    base = ("dns", "check", ZONE, "--nameserver", str(server), "--timeout", "1")

    human = cli(*base)
    assert human.exit_code == 1, human
    for check_id in IDS:
        assert check_id in human.stdout
    assert "FAIL" in human.stdout
    assert "uploads" in human.stdout

    as_json = cli(*base, "--format", "json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert_valid_report(document)
    assert document["status"] == "fail"

    as_nagios = cli(*base, "--format", "nagios")
    assert as_nagios.exit_code == 2, as_nagios
    first = as_nagios.stdout.splitlines()[0]
    assert first.startswith("GHES-SETUP CRITICAL - dns-subdomains:")
    assert "'dns-subdomains.failing'=1;;;;" in first

    as_prometheus = cli(*base, "--format", "prometheus")
    assert as_prometheus.exit_code == 1
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-z_]+="[^"]*",?)*\} -?[0-9.e+-]+$')
    body = [ln for ln in as_prometheus.stdout.splitlines() if ln and not ln.startswith("#")]
    assert body
    for line in body:
        assert sample.match(line), line
    assert (
        f'ghes_setup_check_status{{check="dns-subdomains",area="dns",host="{ZONE}",'
        'status="fail"} 1' in body
    )

    textfile = tmp_path / "ghes_setup_dns.prom"
    written = cli(*base, "--format", "prometheus", "--textfile", str(textfile))
    assert written.exit_code == 1
    assert written.stdout == ""
    assert "ghes_setup_check_failing" in textfile.read_text()


def test_the_real_process_prints_no_traceback(cli_subprocess: CliRunner, dnsmasq: Start) -> None:
    server = dnsmasq(*NO_WILDCARD)
    result = cli_subprocess("dns", "check", ZONE, "--nameserver", str(server), "--timeout", "1")
    assert result.exit_code == 1, result
    assert "dns-wildcard" in result.stdout
    assert_no_traceback(result)


# ------------------------------------------------------------------ resolver, cache, concurrency


def test_hostname_is_asked_once_per_type_and_server_however_many_checks_need_it(
    dnsmasq: Start,
) -> None:
    first, second = dnsmasq(*WILDCARD), dnsmasq(*WILDCARD)
    resolver = DnsResolver([first.nameserver, second.nameserver], timeout=1)
    request = DnsCheckRequest(hostname=ZONE)
    report = run_dns_check(request, lookups=resolver)
    assert report.status.value == "pass"
    names = 1 + 1 + len(SUBDOMAINS)  # hostname, probe, subdomains
    assert resolver.queries_sent == 2 * names * 2  # A and AAAA, each name once per server


def test_lookups_run_concurrently(scripted_dns: Callable[..., ScriptedDns]) -> None:
    delay = 0.2
    server = scripted_dns(records={ZONE: [APEX]}, wildcard=[APEX], delay=delay)
    resolver = DnsResolver([server.nameserver], timeout=2)
    start = time.monotonic()
    report = run_dns_check(
        DnsCheckRequest(hostname=ZONE, ghes_version=GhesVersion.parse("3.17")), lookups=resolver
    )
    elapsed = time.monotonic() - start
    assert report.status.value == "pass"
    assert server.queries == 2 * (2 + len(SUBDOMAINS))
    # hostname first (dependants wait for it), then everything else at once: ~2 delays,
    # where one query after another would take 38 delays (7.6 s)
    assert elapsed < 6 * delay, elapsed


def test_make_resolver_resolves_through_a_nameserver(dnsmasq: Start) -> None:
    server = dnsmasq(*WILDCARD)
    resolver = make_resolver([server.nameserver], timeout=1)
    assert resolver.addresses(f"containers.{ZONE}") == (APEX,)
    with pytest.raises(Unreachable, match=r"cannot resolve example\.com .*REFUSED"):
        resolver.addresses("example.com")


# ------------------------------------------------------------------ a lost packet is asked again


def test_one_lost_packet_is_asked_again_and_the_check_passes(
    cli: CliRunner, scripted_dns: Callable[..., ScriptedDns]
) -> None:
    # The review's --drop-once: one UDP answer among the run's ~38 never arrives.
    containers = f"containers.{ZONE}"
    server = scripted_dns(records={ZONE: [APEX]}, wildcard=[APEX], drop_once=[containers])
    result = check(cli, server.nameserver)
    assert result.exit_code == 0, result
    assert set(statuses(result).values()) == {"pass", "skip"}
    assert server.dropped == {(containers, "A"), (containers, "AAAA")}


def test_a_server_answering_after_half_the_timeout_is_heard_on_the_first_query(
    scripted_dns: Callable[..., ScriptedDns],
) -> None:
    # The second query goes out at half the timeout; the first one's late answer still counts.
    server = scripted_dns(records={ZONE: [APEX]}, wildcard=[APEX], delay=0.6)
    result = DnsResolver([server.nameserver], timeout=1.0).lookup(ZONE)
    assert result.ok, result


def test_a_silent_server_is_asked_twice_within_the_timeout(silent_udp: SilentUdp) -> None:
    resolver = DnsResolver([silent_udp.nameserver], timeout=0.4)
    start = time.monotonic()
    result = resolver.lookup(ZONE)
    elapsed = time.monotonic() - start
    assert result.status is LookupStatus.TIMEOUT
    assert "within 0.4 s (sent 2 times)" in result.detail
    assert elapsed < 0.4 + 0.3, elapsed  # --timeout bounds both attempts together
    silent_udp.sock.setblocking(False)
    received: list[str] = []
    with contextlib.suppress(BlockingIOError):
        while True:
            received.append(QTYPE[DNSRecord.parse(silent_udp.sock.recv(512)).q.qtype])
    assert sorted(received) == ["A", "A", "AAAA", "AAAA"]


# ------------------------------------------------------------------ broken CNAME chains: fail

LOOP = {
    f"containers.{ZONE}": "loop1.loop.test",
    "loop1.loop.test": "loop2.loop.test",
    "loop2.loop.test": "loop1.loop.test",
}


def result_of(result: CliResult, check_id: str) -> dict[str, object]:
    return next(r for r in result.json()["results"] if r["id"] == check_id)  # type: ignore[no-any-return]


def test_a_cname_loop_under_a_subdomain_fails_naming_the_loop_exit_1(
    cli: CliRunner, scripted_dns: Callable[..., ScriptedDns]
) -> None:
    # The review's z5: not "could not check ... raise --timeout" (exit 7), a fault in the records
    server = scripted_dns(records={ZONE: [APEX]}, wildcard=[APEX], cnames=LOOP)
    result = check(cli, server.nameserver)
    assert result.exit_code == 1, result
    assert statuses(result) == {
        "dns-hostname": "pass",
        "dns-wildcard": "pass",
        "dns-subdomains": "fail",
        "dns-consistency": "skip",
        "dns-cname-target": "pass",
    }
    sub = result_of(result, "dns-subdomains")
    assert sub["details"]["reasons"] == {f"containers.{ZONE}": "cname-loop"}  # type: ignore[index]
    assert sub["details"]["unchecked"] == []  # type: ignore[index]
    assert "containers (cname-loop)" in str(sub["summary"])
    remedy = str(sub["remedy"])
    assert remedy.startswith("break the CNAME loop at loop1.loop.test: "), remedy
    assert f"containers.{ZONE}. 300 IN CNAME {ZONE}." in remedy
    assert "--timeout" not in remedy
    assert "\n" not in remedy


def test_a_cname_loop_at_the_hostname_fails_it_exit_1(
    cli: CliRunner, scripted_dns: Callable[..., ScriptedDns]
) -> None:
    server = scripted_dns(wildcard=[APEX], cnames={ZONE: "a.loop.test", "a.loop.test": ZONE})
    result = check(cli, server.nameserver)
    assert result.exit_code == 1, result
    assert statuses(result)["dns-hostname"] == "fail"
    hostname = result_of(result, "dns-hostname")
    assert hostname["summary"] == (
        f"{ZONE} leads into a CNAME loop: {ZONE} -> a.loop.test -> {ZONE}"
    )
    assert str(hostname["remedy"]).startswith(f"break the CNAME loop at {ZONE}: ")
    assert hostname["details"]["status"] == "cname-loop"  # type: ignore[index]


# ------------------------------------------------------------------ dns-subdomains' remedy


def test_names_whose_own_records_hide_a_working_wildcard_are_blamed_not_the_wildcard(
    cli: CliRunner, scripted_dns: Callable[..., ScriptedDns]
) -> None:
    # The review's z10 and z4: `_acme-challenge.containers` TXT makes containers exist without
    # addresses (NODATA), raw is a CNAME to a name that does not exist (NXDOMAIN); the
    # wildcard itself resolves, so "add the wildcard" would send the reader the wrong way.
    server = scripted_dns(
        records={ZONE: [APEX]},
        wildcard=[APEX],
        nodata=[f"containers.{ZONE}"],
        cnames={f"raw.{ZONE}": "missing.example.net"},
    )
    resolver = DnsResolver([server.nameserver], timeout=1)
    report = run_dns_check(DnsCheckRequest(hostname=ZONE), lookups=resolver)
    assert report.by_id("dns-wildcard").status.value == "pass"
    sub = report.by_id("dns-subdomains")
    assert sub.status.value == "fail"
    assert sub.details["reasons"] == {f"containers.{ZONE}": "nodata", f"raw.{ZONE}": "nxdomain"}
    remedy = sub.remedy or ""
    assert "add the wildcard" not in remedy
    assert remedy.startswith(
        f"containers.{ZONE}, raw.{ZONE} (CNAME to missing.example.net) have records of their "
        f"own that hide the wildcard *.{ZONE} but no address: give each an address record "
        f"(containers.{ZONE}. 300 IN A {APEX})"
    ), remedy
    # the probe's answer is dns-wildcard's: no query more than the names need
    assert resolver.queries_sent == 2 * (2 + len(SUBDOMAINS))


def test_a_wrong_wildcard_is_blamed_for_the_names_that_resolve_through_it(
    cli: CliRunner, dnsmasq: Start
) -> None:
    # The review's z2, plus one name with its own (third) address
    server = dnsmasq(*ELSEWHERE, f"--host-record=uploads.{ZONE},127.0.0.9")
    result = check(cli, server)
    assert result.exit_code == 1, result
    sub = result_of(result, "dns-subdomains")
    assert set(sub["details"]["reasons"].values()) == {"different-addresses"}  # type: ignore[index]
    remedy = str(sub["remedy"])
    assert remedy.startswith(
        f"fix the wildcard, which points to {{127.0.0.2}}: *.{ZONE}. 300 IN A {APEX} "
        f"(that fixes assets.{ZONE}, "
    ), remedy
    assert f"uploads.{ZONE}, " not in remedy.split("; ")[0]
    assert remedy.endswith(
        f"; fix or delete the records that override the wildcard (uploads.{ZONE} -> "
        f"{{127.0.0.9}}) so they point to {{{APEX}}}"
    ), remedy
