"""Benchmark: pushing 20 settings over SSH with 50 ms of round-trip latency.

    .venv/bin/python -m bench.ssh_bench [--rtt 0.05] [--rounds 5] [--keys 20] [--write-docs]

What it compares (docs/reference/architecture.md §7, issue 4 "Benchmark"), against the lab's OpenSSH
sshd and its `ghe-config` (git-config files), behind a delaying TCP proxy run in its own process
(this kernel has no netem; a separate process keeps the proxy off the measured process's GIL):

- ours: `SshTransport` from nothing: one TCP_NODELAY connection (handshake, host-key check,
  public-key auth), then `write_keys` of all N keys as ONE exec of the two-phase script
  (journal, write, PREPARED, COMMIT), then close;
- ours, warm: the same write on an open connection (what each later step of a run costs);
- the admin's loop: N separate `ssh -p PORT admin@HOST ghe-config KEY VALUE` calls with the
  OpenSSH client (BatchMode, no connection sharing), one after another.

Rounds alternate ours / loop so that machine noise hits both; medians are reported, and every
round checks that the values arrived. Target: loop / ours >= 10.
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.lab import bench_lab, delay_proxies
from ghes_setup.appliance.ssh import SshTransport
from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions
from ghes_setup.lab.handle import LabHandle

ROOT = Path(__file__).resolve().parent.parent


def known_hosts_for(lab: LabHandle, port: int, folder: Path) -> Path:
    """known_hosts naming the proxy ([127.0.0.1]:PORT) with the lab's host key."""
    _, keytype, blob = lab.known_hosts.read_text().split()[:3]
    path = folder / "known_hosts"
    path.write_text(f"[127.0.0.1]:{port} {keytype} {blob}\n")
    return path


def values_for(round_no: int, count: int) -> dict[str, str]:
    return {
        f"ghes-bench.key-{i:02d}": f"value {round_no}-{i} {secrets.token_hex(8)}"
        for i in range(count)
    }


def ours(lab: LabHandle, port: int, known_hosts: Path, values: dict[str, str]) -> float:
    options = SshOptions(
        host="127.0.0.1",
        port=port,
        identity=lab.identity,
        known_hosts=known_hosts,
        use_agent=False,
    )
    start = time.perf_counter()
    with SshTransport(SshConnection(options)) as transport:
        transport.write_keys(values)
    return time.perf_counter() - start


def ours_warm(transport: SshTransport, values: dict[str, str]) -> float:
    start = time.perf_counter()
    transport.write_keys(values)
    return time.perf_counter() - start


def loop(lab: LabHandle, port: int, known_hosts: Path, values: dict[str, str]) -> float:
    base = [
        "ssh",
        "-p",
        str(port),
        "-i",
        str(lab.identity),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "BatchMode=yes",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        "admin@127.0.0.1",
    ]
    start = time.perf_counter()
    for key, value in values.items():
        subprocess.run(
            [*base, "ghe-config", shlex.quote(key), shlex.quote(value)],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    return time.perf_counter() - start


def check_stored(lab: LabHandle, values: dict[str, str]) -> None:
    stored = lab.settings()
    wrong = [k for k, v in values.items() if stored.get(k) != v]
    assert not wrong, f"values did not arrive: {wrong}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ssh_bench")
    parser.add_argument("--rtt", type=float, default=0.05, help="simulated round trip, seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--lab-dir", type=Path, help="use this running lab (default: start one)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()

    results: dict[str, list[float]] = {"ours": [], "warm": [], "loop": []}
    with (
        bench_lab(args.lab_dir) as lab,
        tempfile.TemporaryDirectory() as tmp,
        delay_proxies(
            f"--target {lab.address}:{lab.ports.ssh} --listen 127.0.0.1:0 --rtt {args.rtt}"
        ) as ((_, port),),
    ):
        known = known_hosts_for(lab, port, Path(tmp))
        warm = SshTransport(
            SshConnection(
                SshOptions(
                    host="127.0.0.1",
                    port=port,
                    identity=lab.identity,
                    known_hosts=known,
                    use_agent=False,
                )
            )
        )
        with warm:
            for n in range(args.rounds):
                values = values_for(n, args.keys)
                results["ours"].append(ours(lab, port, known, values))
                check_stored(lab, values)
                values = values_for(n + 100, args.keys)
                results["loop"].append(loop(lab, port, known, values))
                check_stored(lab, values)
                values = values_for(n + 200, args.keys)
                results["warm"].append(ours_warm(warm, values))
                check_stored(lab, values)
            warm.write_keys(dict.fromkeys(values_for(0, args.keys)))  # clean up: unset
    table = render(results, args)
    print(table)
    if args.write_docs:
        write_section(table, args)
    ratio = statistics.median(results["loop"]) / statistics.median(results["ours"])
    return 0 if ratio >= 10 else 1


def render(results: dict[str, list[float]], args: argparse.Namespace) -> str:
    med = {k: statistics.median(v) for k, v in results.items()}
    lines = [
        f"{args.keys} settings, {args.rtt * 1000:.0f} ms simulated RTT, {args.rounds} rounds "
        "(median, min-max):",
        "",
        "| what | time | time / RTT |",
        "| --- | --- | --- |",
        f"| ours: connect + one two-phase exec + close | {_cell(results['ours'])} | "
        f"{med['ours'] / args.rtt:.1f} |",
        f"| ours, connection already open | {_cell(results['warm'])} | "
        f"{med['warm'] / args.rtt:.1f} |",
        f"| {args.keys} x `ssh ... ghe-config KEY VALUE` | {_cell(results['loop'])} | "
        f"{med['loop'] / args.rtt:.1f} |",
        "",
        f"Loop / ours: **{med['loop'] / med['ours']:.1f}x** (target >= 10x); "
        f"loop / ours warm: {med['loop'] / med['warm']:.1f}x.",
    ]
    return "\n".join(lines)


def _cell(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:.0f} ms "
        f"({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"
    )


def write_section(table: str, args: argparse.Namespace) -> None:
    from bench.docs import replace_section

    replace_section(
        "SSH settings push",
        f"Command: `.venv/bin/python -m bench.ssh_bench --rtt {args.rtt} --rounds {args.rounds} "
        f"--keys {args.keys} --write-docs` (starts its own lab; the delaying proxy runs in a "
        "child process).\n\n"
        "Ours costs a constant number of round trips (TCP + SSH handshake and auth, then one "
        "exec that journals, writes, answers PREPARED and takes COMMIT); the loop pays a whole "
        "SSH connection per key. Both run the same 20 `ghe-config` writes on the appliance; "
        "ours also reads the 20 old values for its journal (one `ghe-config` call each, most "
        "of the warm figure on the lab).\n\n" + table,
    )


if __name__ == "__main__":
    sys.exit(main())
