"""Benchmark: the whole `ghes-setup check` process against the healthy lab, base vs this tree.

    .venv/bin/python -m bench.check_process_bench --base main [--rounds 10] [--lab-dir DIR]
        [--write-docs]

One process, every check of the site (DNS, TLS, status, appliance over the Manage API and
SSH, packages, registry ping), no added latency. The same command runs from two source
trees in the same run: BASE (`git archive BASE ghes_setup templates`, extracted to a temp
folder: nothing in the repository changes) and the working tree, interleaved ABBA with
`python -c pass` (the interpreter's own start-up) so that the load of a shared machine hits
all three alike; medians, and the load average before and after.

Both trees run as an installed copy would: with bytecode caches (pip compiles them when it
installs a wheel), kept under a temp PYTHONPYCACHEPREFIX, after two warm-up runs each. Then
`python -X importtime` runs (interleaved, medians): the time spent importing each heavy
dependency's own modules (0 when the command never imports it), measured by importing what
a run imported, in its order, on one thread (`import_times` says why).

Without --lab-dir it starts a lab of its own and brings it to the desired state with
`ghes-setup up --yes` first (a `check` of a new lab fails). Exit 0 when every run passed and the
tree's median is at most the target (0.5 s).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.lab import ROOT, bench_lab

TARGET_S = 0.5
HEAVY = (
    "typer", "rich", "httpx", "httpcore", "dns", "cryptography", "OpenSSL", "paramiko",
    "invoke", "nacl", "jinja2", "yaml", "asyncio",
)  # fmt: skip


NOTES = """\
What a `check` process no longer imports, or imports only when it uses it:
- paramiko loads inside `appliance.ssh_connection` when an SSH transport talks (a run that opens one
  but routes every setting to the Manage API never loads it), and without invoke: paramiko
  imports invoke only for `Match exec` in ssh_config files, which ghes-setup never reads
  (invoke brought asyncio, unittest.mock and YAML);
- httpx's own command line (`httpx._main`: click, rich.progress, rich.syntax, pygments) is kept
  from loading by the entry point;
- rich loads only to draw the table on a terminal: the plain text of cron, Ansible and pipes,
  and `--format nagios|prometheus|json`, load none of it (`reporting/human.py`);
- `registry.smoke` loads the protocol client, the image builder and the REST client only when
  a smoke test runs (`check --smoke`, `up`, `registry smoke`);
- dnspython loads with the first DNS query (`dns/resolver.py`), not when the run's resolver is
  built: a site whose appliance address is pinned starts the appliance's chain about 40 ms
  sooner; httpx loads with the Manage API's first request;
- the apply machinery (`appliance/apply.py`, `appliance/service.py`) is not loaded by `check`.

How a run is ordered (`runbooks/check.py`, `runbooks/context.py`, `appliance/selector.py`): the
appliance's chain is the longest, so it starts first, in a thread. SSH's TCP and SSH
handshakes, its login and the opening of its first session channel start while the Manage API
identifies (`SshTransport.connect_ahead`: sshd's post-login set-up, about 45 ms on the lab,
leaves the chain; paramiko loads before the API's httpx and TLS set-up start, not beside them,
so the SSH side is ready about 30 ms sooner); nothing runs over SSH until the API has answered,
then the Packages settings are read over it while the API reads that follow go on; as soon as
they show that packages-enabled passes, the appliance's blob storage test starts
(`runbooks.check._storage_test_ahead`: packages-storage takes its answer) rather than when the
runner reaches packages-storage after the check modules have loaded (40-200 ms later on the
lab; tree / base 0.95, -43 ms a run, in 20 interleaved rounds against 10e8da0). The check
modules load once the API has answered (at most 0.5 s later): the chain's first steps (loading
httpx and the CA roots, the TLS and SSH handshakes) are CPU work that loading them beside it
slowed down (50-80 ms a run in interleaved A/B runs of 30 rounds). `read-settings` runs its
`ghe-config` reads at once (14 keys: 86 -> 45 ms on the lab). The latest configuration run is
asked once for the two checks that read it. One TLS context per CA file serves every client of
the run (`httpclient.ssl_context`); the interpreter's last garbage collection is skipped at
exit (`gc.freeze()` in `cli/main.py`, 50-75 ms on this VM).

What is left of a run on the lab (2026-12-07, `--debug` timestamps, 2-core VM): the appliance's
chain is serial. After the interpreter and the CLI start (about 0.06 s), the Manage API answers
0.10-0.15 s into the run; then `read-settings` (70-170 ms) and, once Packages reads as enabled,
the appliance's own blob-storage test (0.12-0.2 s; the lab's test writes, reads and deletes an
object in moto or Azurite). The last two are the appliance's own work, and the storage test
must follow the read: it runs only when Packages is enabled as the site file says. The rest of
the run (DNS, 18 TLS handshakes, /status, the registry) overlaps them but shares the 2 cores
with the lab's servers (sshd, bash and git for each `ghe-config`, moto): the client uses about
0.35 s of CPU a run. The VM's absolute figures drift by 15-40 % between minutes (the base below
measured 0.68 s and 1.01 s within the hour), so the ratio of the interleaved runs is the
comparison that holds. Four runs of this benchmark at 261465e (2026-12-07, 20 rounds each) gave
this tree / base 0.62-0.67, with the tree's median at 0.44, 0.48, 0.47 and 0.63 s as the base's
went 0.68, 0.74, 0.70 and 1.01 s: within the target while the VM runs the base in under about
0.75 s, not when it runs it in 0.9 s or more.
"""


def lab_env(lab_dir: Path) -> dict[str, str]:
    """What `ghes-setup lab env` exports: the site file, secrets, nameservers, CA."""
    out = subprocess.run(
        [sys.executable, "-m", "ghes_setup", "lab", "env", "--dir", str(lab_dir)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout  # fmt: skip
    env: dict[str, str] = {}
    for line in out.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


def extract(base: str, into: Path) -> Path:
    """The package (and its templates) as of commit BASE, read-only from git."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", base, "ghes_setup", "templates"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    tar_path = into / "base.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def once(argv: list[str], env: Mapping[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=dict(env), capture_output=True, text=True, cwd="/")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(
            f"{shlex.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    return elapsed


# Imports the names given, one after the other, as the entry point would (httpx's command line
# kept from loading, ghes_setup.cli.main._skip_unused_library_parts).
# `__import__`, not importlib.import_module: only the interpreter's own import path is timed.
_REPLAY = """\
import sys
sys.modules.setdefault("httpx._main", None)
for name in sys.argv[1:]:
    try:
        __import__(name)
    except Exception:
        pass
"""


def import_times(argv: list[str], env: Mapping[str, str]) -> tuple[dict[str, float], float]:
    """Per HEAVY package, the ms spent in its own modules (`pkg` and `pkg.*`, self time),
    and the ms of all imports (the top-level lines' cumulative time).

    A `check` run imports from several threads at once (the appliance's thread starts while
    the check modules load), and `-X importtime` keeps one nesting level per process, so its
    lines from such a run misattribute time (negative self times). So the run only says WHAT
    it imports, in order; a second process imports exactly that on one thread, and that is
    what is measured."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]],
        env=dict(env), capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    names = [
        line.split("|")[2].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    ]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _REPLAY, *names],
        env=dict(env), capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    spent: dict[str, float] = {}
    total = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.split(":", 1)[1].split("|")
        if not name.startswith("  "):  # a top-level import (two spaces of indent per level)
            total += int(cumulative) / 1000
        package = name.strip().split(".")[0]
        if package in HEAVY:
            spent[package] = spent.get(package, 0.0) + int(own) / 1000
    return spent, total


def median_imports(
    samples: list[tuple[dict[str, float], float]],
) -> tuple[dict[str, float], float]:
    per_package = {p: statistics.median(s[0].get(p, 0.0) for s in samples) for p in HEAVY}
    return per_package, statistics.median(s[1] for s in samples)


@contextmanager
def healthy_lab(lab_dir: Path | None) -> Iterator[Path]:
    if lab_dir is not None:
        yield lab_dir
        return
    with bench_lab() as lab:
        env = {**os.environ, **lab_env(lab.dir)}
        subprocess.run(
            [sys.executable, "-m", "ghes_setup", "up", "--site", env["GHES_SETUP_SITE"], "--yes",
             "--no-smoke"],
            check=True, capture_output=True, env=env, cwd=ROOT,
        )  # fmt: skip
        yield lab.dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git commit or branch to compare with")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--import-rounds", type=int, default=5)
    parser.add_argument("--lab-dir", type=Path)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    base_commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="ghes-check-bench-") as tmp,
        healthy_lab(args.lab_dir) as lab_dir,
    ):
        common = {**os.environ, **lab_env(lab_dir), "PYTHONPYCACHEPREFIX": f"{tmp}/pyc"}
        common.pop("PYTHONDONTWRITEBYTECODE", None)
        trees = {f"base ({base_commit})": extract(args.base, Path(tmp)), "this tree": ROOT}
        check = [sys.executable, "-m", "ghes_setup", "check", "--site", common["GHES_SETUP_SITE"]]
        variants: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], common),
        }
        for name, tree in trees.items():
            variants[f"check, {name}"] = (check, {**common, "PYTHONPATH": str(tree)})
        for argv, env in list(variants.values()) * 2:  # warm-up: bytecode and page cache
            once(argv, env)
        load_before = os.getloadavg()
        runs: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for i in range(args.rounds):
            for name in order if i % 2 == 0 else order[::-1]:  # ABBA
                runs[name].append(once(*variants[name]))
        load_after = os.getloadavg()
        samples: dict[str, list[tuple[dict[str, float], float]]] = {}
        for _ in range(args.import_rounds):  # interleaved too: one importtime run each
            for name in variants:
                if name.startswith("check"):
                    samples.setdefault(name, []).append(import_times(*variants[name]))
        imports = {name: median_imports(runs_of) for name, runs_of in samples.items()}
    med = {name: statistics.median(times) for name, times in runs.items()}
    base_name, tree_name = (n for n in variants if n.startswith("check"))
    lines = [
        f"{args.rounds} interleaved rounds (ABBA), fresh process each, no added latency; "
        f"load average (1/5/15 min) {' '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.2f}' for x in load_after)} after, on {os.cpu_count()} cores.",
        "",
        "| command | median | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, times in runs.items():
        lines.append(f"| `{name}` | {med[name]:.3f} s | {min(times):.3f} s | {max(times):.3f} s |")
    ratio = med[tree_name] / med[base_name]
    ok = med[tree_name] <= TARGET_S
    lines += [
        "",
        f"This tree / base: **{ratio:.2f}** "
        f"({(med[tree_name] - med[base_name]) * 1000:+.0f} ms a run). "
        f"Target: the whole process at most {TARGET_S} s: {'met' if ok else 'MISSED'}.",
        "",
        f"Import time in ms (`python -X importtime`, median of {args.import_rounds} interleaved "
        "runs each: the modules a `check` run imports, imported again in its order on one "
        "thread; the self time of the package's own modules, 0 = never imported; importtime "
        "itself inflates these):",
        "",
        f"| package | {base_name} | {tree_name} |",
        "| --- | ---: | ---: |",
    ]
    for package in HEAVY:
        cells = [f"{imports[n][0].get(package, 0.0):.0f}" for n in (base_name, tree_name)]
        lines.append(f"| {package} | {cells[0]} | {cells[1]} |")
    lines.append(f"| all imports | {imports[base_name][1]:.0f} | {imports[tree_name][1]:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        from bench.docs import replace_section

        replace_section(
            "Start-up: the whole `ghes-setup check` process",
            "Command: `.venv/bin/python -m bench.check_process_bench --base "
            f"{base_commit} --rounds {args.rounds} --import-rounds {args.import_rounds} "
            f"--write-docs` ({time.strftime('%Y-%m-%d')}, "
            "as root on the 2-core dev VM shared with other test runs).\n\n"
            + table
            + "\n\n"
            + NOTES,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
