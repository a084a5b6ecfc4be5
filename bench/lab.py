"""What the benchmarks share: a lab of their own, and delaying proxies in their own process."""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ghes_setup.lab.handle import LabHandle

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def bench_lab(lab_dir: Path | None = None) -> Iterator[LabHandle]:
    """The running lab at `lab_dir`, or a new one on a random 127.77.X.1 (stopped after)."""
    if lab_dir is not None:
        yield LabHandle.open(lab_dir)
        return
    directory = Path(tempfile.mkdtemp(prefix="ghes-bench-lab-", dir="/tmp"))
    directory.chmod(0o755)  # the lab's admin user must reach it
    address = f"127.77.{random.randint(100, 250)}.1"
    lab_command("up", "--dir", str(directory), "--address", address, "--apply-seconds", "0.3")
    try:
        yield LabHandle.open(directory)
    finally:
        lab_command("down", "--dir", str(directory), check=False)


def lab_command(*args: str, check: bool = True) -> None:
    subprocess.run(
        [sys.executable, "-m", "ghes_setup", "lab", *args],
        check=check,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@contextmanager
def delay_proxies(*specs: str) -> Iterator[list[tuple[str, int]]]:
    """`bench.delayproxy` proxies in a process of their own (no GIL shared with what is
    measured); each spec is `--target H:P --listen H:P --rtt S [--udp]`. Yields the addresses
    they listen on (a listen port of 0 picks a free one)."""
    argv = [sys.executable, "-m", "bench.delayproxy"]
    for i, spec in enumerate(specs):
        argv += (["--and"] if i else []) + spec.split()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        stderr=subprocess.DEVNULL,  # asyncio's shutdown chatter
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        words = proc.stdout.readline().split()
        assert words and words[0] == "ready", words
        yield [(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in words[1:]]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
