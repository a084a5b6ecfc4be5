"""Benchmark: start-up time of `ghes-setup --version` and `--help` (target: under 200 ms).

    .venv/bin/python -m bench.startup_bench [--rounds 20] [--write-docs]

Each command runs as a fresh process, alternating with the baseline `python -c pass` (the
interpreter's own start-up, which no code of ours can shave off) in the same run; medians.
Lazy imports keep the command tree cheap: service modules load inside commands.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "ghes-setup --version": [sys.executable, "-m", "ghes_setup", "--version"],
    "ghes-setup --help": [sys.executable, "-m", "ghes_setup", "--help"],
    "ghes-setup dns check --help": [sys.executable, "-m", "ghes_setup", "dns", "check", "--help"],
    "ghes-setup up --help": [sys.executable, "-m", "ghes_setup", "up", "--help"],
}
TARGET_S = 0.200


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    for argv in COMMANDS.values():  # warm the page cache and __pycache__
        once(argv)
    runs: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, argv in COMMANDS.items():  # interleaved: noise hits every command alike
            runs[name].append(once(argv))
    med = {name: statistics.median(times) for name, times in runs.items()}
    lines = [
        f"{args.rounds} interleaved rounds, fresh process each, medians:",
        "",
        "| command | median | min | target |",
        "| --- | ---: | ---: | --- |",
    ]
    ok = True
    for name, times in runs.items():
        target = "" if "baseline" in name else ("met" if med[name] < TARGET_S else "MISSED")
        ok = ok and target != "MISSED"
        lines.append(
            f"| `{name}` | {med[name] * 1000:.0f} ms | {min(times) * 1000:.0f} ms | {target} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        from bench.docs import replace_section

        replace_section(
            "Start-up: --version and --help",
            "Command: `.venv/bin/python -m bench.startup_bench --rounds 20 --write-docs` "
            f"({time.strftime('%Y-%m-%d')}). Target: under 200 ms.\n\n" + table,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
