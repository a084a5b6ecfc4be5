"""Benchmark: DNS + live TLS over HOSTNAME and every isolation subdomain, with 50 ms RTT.

    .venv/bin/python -m bench.check_bench [--rtt 0.05] [--rounds 5] [--write-docs]

What it compares (docs/reference/architecture.md §7, issue 2 §10), all against the same lab servers
(dnsmasq and nginx of `ghes-setup lab up`, with `prepare_registry()` so nginx serves every
subdomain) behind a delaying proxy that adds the round-trip time on every packet (this kernel has no
netem):

- ours, all hosts: `dns check` (HOSTNAME, the wildcard probe and every isolation subdomain, A
  and AAAA) and `tls probe --subdomains` (a verified TLS handshake with SNI per host), run the
  way `ghes-setup check` runs them: concurrently, in process;
- ours, one host: one A+AAAA lookup of HOSTNAME and a TLS probe of HOSTNAME alone;
- the same two commands as CLI processes (interpreter start-up included);
- the admin's loop: for each name, `dig @NS +short NAME` then
  `openssl s_client -connect NS:443 -servername NAME -verify_return_error`, one after another.

Rounds alternate ours / loop so that machine noise hits both; medians are reported.
Targets: all hosts <= 2 x one host; loop / all hosts >= 10.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.lab import bench_lab, delay_proxies
from ghes_setup import facts
from ghes_setup.dns.resolver import DnsResolver, make_resolver
from ghes_setup.dns.service import DnsCheckRequest, run_dns_check
from ghes_setup.lab.handle import LabHandle
from ghes_setup.net import Nameserver, ResolveOverrides
from ghes_setup.tls.service import TlsProbeRequest, run_tls_probe

ROOT = Path(__file__).resolve().parent.parent


def ours_all(lab: LabHandle, proxy: str, version: facts.GhesVersion) -> float:
    pins = ResolveOverrides.parse([f"{lab.hostname}:{proxy}", f".{lab.hostname}:{proxy}"])
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        dns = pool.submit(
            run_dns_check,
            DnsCheckRequest(
                hostname=lab.hostname, nameservers=(Nameserver(proxy, 53),), ghes_version=version
            ),
        )
        tls = pool.submit(
            run_tls_probe,
            TlsProbeRequest(
                hostname=lab.hostname,
                resolver=make_resolver((), pins),
                ca_file=lab.ca_file,
                subdomains=True,
                ghes_version=version,
            ),
        )
        reports = dns.result(), tls.result()
    elapsed = time.perf_counter() - start
    for report in reports:
        bad = [r.id for r in report.results if r.status.value not in ("pass", "skip")]
        assert not bad, f"{report.command}: {bad}: the lab is not healthy"
    return elapsed


def ours_one(lab: LabHandle, proxy: str) -> float:
    pins = ResolveOverrides.parse([f"{lab.hostname}:{proxy}"])
    start = time.perf_counter()
    lookup = DnsResolver([Nameserver(proxy, 53)]).lookup(lab.hostname)
    report = run_tls_probe(
        TlsProbeRequest(
            hostname=lab.hostname, resolver=make_resolver((), pins), ca_file=lab.ca_file
        )
    )
    elapsed = time.perf_counter() - start
    assert lookup.addresses and report.status.value == "pass", (lookup, report)
    return elapsed


def ours_cli(lab: LabHandle, proxy: str, version: facts.GhesVersion) -> float:
    exe = [sys.executable, "-m", "ghes_setup"]
    start = time.perf_counter()
    subprocess.run(
        [
            *exe,
            "dns",
            "check",
            lab.hostname,
            "--nameserver",
            f"{proxy}:53",
            "--ghes-version",
            str(version),
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *exe,
            "tls",
            "probe",
            lab.hostname,
            "--address",
            proxy,
            "--subdomains",
            "--ca-file",
            str(lab.ca_file),
            "--ghes-version",
            str(version),
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def loop_script(lab: LabHandle, proxy: str, names: list[str]) -> str:
    ca = shlex.quote(str(lab.ca_file))
    lines = ["set -u"]
    for name in names:
        lines.append(f"dig @{proxy} -p 53 +short +time=2 +tries=1 {name} >/dev/null")
        lines.append(
            f"openssl s_client -connect {proxy}:443 -servername {name} -CAfile {ca} "
            f"-verify_return_error -verify_hostname {name} </dev/null >/dev/null 2>&1 "
            f"|| echo FAIL {name}"
        )
    return "\n".join(lines) + "\n"


def loop(script: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    assert "FAIL" not in out.stdout, out.stdout
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=0.05, help="added round trip, seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()

    with bench_lab() as lab:
        lab.prepare_registry()
        version = facts.GhesVersion.parse(lab.ghes_version)
        names = [lab.hostname, *facts.isolation_hosts(lab.hostname, version)]
        proxy = lab.address.rsplit(".", 1)[0] + ".2"  # 127.77.X.2: same /24, own listeners
        with delay_proxies(
            f"--target {lab.address}:{lab.ports.dns} --listen {proxy}:53 --rtt {args.rtt} --udp",
            f"--target {lab.address}:{lab.ports.https} --listen {proxy}:443 --rtt {args.rtt}",
        ):
            script = loop_script(lab, proxy, names)
            ours_all(lab, proxy, version)  # warm-up: imports, first handshakes
            results: dict[str, list[float]] = {"all": [], "one": [], "cli": [], "loop": []}
            for _ in range(args.rounds):
                results["all"].append(ours_all(lab, proxy, version))
                results["loop"].append(loop(script))
                results["one"].append(ours_one(lab, proxy))
                results["cli"].append(ours_cli(lab, proxy, version))

    med = {k: statistics.median(v) for k, v in results.items()}
    table = render(med, results, len(names), args.rtt, args.rounds)
    print(table)
    ok = med["all"] <= 2 * med["one"] and med["loop"] / med["all"] >= 10
    print("targets met" if ok else "TARGETS MISSED")
    if args.write_docs:
        write_section(table)
    return 0 if ok else 1


def render(
    med: dict[str, float], runs: dict[str, list[float]], hosts: int, rtt: float, rounds: int
) -> str:
    def cell(key: str) -> str:
        return f"{med[key]:.3f} s (min {min(runs[key]):.3f}, max {max(runs[key]):.3f})"

    return "\n".join(
        [
            f"{hosts} names (HOSTNAME + isolation subdomains), {rtt * 1000:.0f} ms added RTT, "
            f"{rounds} alternating rounds, medians:",
            "",
            "| what | time |",
            "| --- | --- |",
            f"| ours, all hosts (dns check + tls probe --subdomains, in process) | {cell('all')} |",
            f"| ours, one host (A+AAAA lookup + TLS probe of HOSTNAME) | {cell('one')} |",
            f"| ours, the two CLI commands as processes (start-up included) | {cell('cli')} |",
            f"| admin's loop: dig + openssl s_client per name, sequential | {cell('loop')} |",
            "",
            f"- all hosts / one host = {med['all'] / med['one']:.2f} (target <= 2)",
            f"- loop / ours (in process) = {med['loop'] / med['all']:.1f}x (target >= 10x)",
            f"- loop / ours (CLI processes) = {med['loop'] / med['cli']:.1f}x",
            "",
            "The targets are about the checks (concurrency), measured in process. As two",
            "separate commands, each process also pays Python start-up and loading",
            "cryptography, pyOpenSSL, dnspython and httpx (about 0.5 s a process here), which",
            "the loop's 36 small processes do not; `ghes-setup check` runs both in one process.",
        ]
    )


def write_section(table: str) -> None:
    from bench.docs import replace_section

    replace_section(
        "DNS and TLS over every isolation subdomain",
        "Command: `.venv/bin/python -m bench.check_bench --rtt 0.05 --rounds 5 --write-docs` "
        f"({time.strftime('%Y-%m-%d')}, this project's 2-core CI-class machine).\n\n" + table,
    )


if __name__ == "__main__":
    sys.exit(main())
