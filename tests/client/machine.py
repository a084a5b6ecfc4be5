"""A simulated client machine (a CI runner): `client check` in a private mount namespace.

The runner gets its own /etc/hosts, /etc/resolv.conf, system trust store (/etc/ssl/certs and
/usr/local/share/ca-certificates, so that `update-ca-certificates` works inside it),
/etc/docker, /etc/containers, HOME and environment, all bind-mounted from a folder of the
test (`unshare -m`, like the lab handle's `with_hosts`). Its resolver only ever points at a
loopback address, so nothing leaves the machine.

A tinyproxy (Debian `tinyproxy`), started by a test on a free loopback port in a namespace of
its own (its own /etc/hosts and resolver), stands in for a corporate egress proxy; the test
ends it by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ghes_setup.lab.handle import LabHandle

ROOT = Path(__file__).resolve().parents[2]
# Nothing listens here (helper F's lab number): a resolver or proxy pointed at it fails fast.
DEAD_RESOLVER = "127.77.206.53"
MOUNTS = (
    ("hosts", "/etc/hosts"),
    ("resolv.conf", "/etc/resolv.conf"),
    ("ssl-certs", "/etc/ssl/certs"),
    ("local-ca", "/usr/local/share/ca-certificates"),
    ("etc-docker", "/etc/docker"),
    ("etc-containers", "/etc/containers"),
)


@dataclass
class Machine:
    """One simulated runner, its files under `root`."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, *, hosts: str, nameserver: str = DEAD_RESOLVER) -> Machine:
        root.mkdir(parents=True, exist_ok=True)
        (root / "hosts").write_text(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n" + hosts, encoding="ascii"
        )
        (root / "resolv.conf").write_text(
            f"nameserver {nameserver}\noptions timeout:1 attempts:1\n", encoding="ascii"
        )
        # The distribution's store, as this host has it (the lab CA is not in it).
        shutil.copytree("/etc/ssl/certs", root / "ssl-certs", symlinks=True)
        for name in ("local-ca", "etc-docker", "etc-containers", "home"):
            (root / name).mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root / "home"),
            "PYTHONPATH": str(ROOT),
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
        }
        return cls(root, env)

    def set_hosts(self, text: str) -> None:
        (self.root / "hosts").write_text(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n" + text, encoding="ascii"
        )

    def set_nameserver(self, address: str) -> None:
        (self.root / "resolv.conf").write_text(
            f"nameserver {address}\noptions timeout:1 attempts:1\n", encoding="ascii"
        )

    def trust(self, ca_file: Path) -> None:
        """Add a CA to this machine's bundle, as an admin with update-ca-certificates would."""
        bundle = self.root / "ssl-certs" / "ca-certificates.crt"
        target = bundle.resolve() if bundle.is_symlink() else bundle
        with target.open("a", encoding="ascii") as out:
            out.write(ca_file.read_text(encoding="ascii"))

    def wrap(self, argv: list[str], *, unprivileged: bool = False) -> list[str]:
        binds = [f'mount --bind "{self.root / src}" {dst}' for src, dst in MOUNTS]
        if unprivileged:
            # As `nobody`, no capabilities. The interpreter may live under /root (pyenv, 0700):
            # show its tree, and only it, through a world-readable tmpfs over /root.
            python = Path(sys.executable).resolve()
            staging = self.root / "python-prefix"
            staging.mkdir(exist_ok=True)
            prefix = python.parents[1]
            if prefix.is_relative_to("/root"):
                binds += [
                    f'mount --bind "{prefix}" "{staging}"',
                    "mount -t tmpfs -o mode=0755 tmpfs /root",
                    f'mkdir -p "{prefix}"',
                    f'mount --bind "{staging}" "{prefix}"',
                ]
            binds.append(
                "exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
                '--bounding-set=-all "$@"'
            )
            return ["unshare", "-m", "sh", "-c", " && ".join(binds), "machine", *argv]
        script = " && ".join(binds)
        return ["unshare", "-m", "sh", "-c", f'{script} && exec "$@"', "machine", *argv]

    def run(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        timeout: float = 180,
        unprivileged: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.wrap(argv, unprivileged=unprivileged),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**self.env, **(env or {})},
            input=input,
        )

    def client_check(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        unprivileged: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            [sys.executable, "-m", "ghes_setup", "client", "check", *args],
            env=env,
            input=input,
            unprivileged=unprivileged,
        )

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return self.run(["sh", "-c", command], timeout=120)


def lab_hosts(lab: LabHandle, address: str | None = None) -> str:
    """/etc/hosts lines naming the lab hosts (at `address` instead of the lab's, if given)."""
    text = lab.hosts_file.read_text(encoding="ascii")
    lines = [ln for ln in text.splitlines() if "localhost" not in ln and ln.strip()]
    if address is not None:
        lines = [" ".join([address, *ln.split()[1:]]) for ln in lines]
    return "\n".join(lines) + "\n"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def tinyproxy(workdir: Path, *, hosts: str, nameserver: str = DEAD_RESOLVER) -> Iterator[str]:
    """A real HTTP proxy on 127.0.0.1:PORT that resolves with `hosts` and `nameserver` only.

    Yields its URL; ends it by PID (SIGTERM, then SIGKILL) on the way out.
    """
    if shutil.which("tinyproxy") is None:
        raise RuntimeError(
            "tinyproxy is not installed: apt-get install tinyproxy (scripts/install-system-deps.sh)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n" + hosts, encoding="ascii")
    (workdir / "resolv.conf").write_text(
        f"nameserver {nameserver}\noptions timeout:1 attempts:1\n", encoding="ascii"
    )
    port = free_port()
    conf = workdir / "tinyproxy.conf"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 10\nLogLevel Info\nMaxClients 20\n"
        f'LogFile "{workdir / "tinyproxy.log"}"\n',
        encoding="ascii",
    )
    script = (
        f'mount --bind "{workdir / "hosts"}" /etc/hosts && '
        f'mount --bind "{workdir / "resolv.conf"}" /etc/resolv.conf && '
        f'exec tinyproxy -d -c "{conf}"'
    )
    proc = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"tinyproxy did not start ({proc.returncode}): {err}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()
