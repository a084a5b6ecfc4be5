"""Real DNS servers for the DNS integration tests.

- `Dnsmasq`: Debian's dnsmasq, a private instance per scenario (docs/reference/lab-findings.md §3):
  always `--conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces --local=/ZONE/`, its own
  127.53.x.y address and port, its own pid file (without one it writes /var/run/dnsmasq.pid),
  stopped by PID.
- `ScriptedDns`: an in-process dnslib server with a dict zone, for answers dnsmasq will not
  give on demand: SERVFAIL for chosen names, a delay per answer, CNAME loops (dnsmasq refuses
  to load them), and the first query for chosen names lost (never answered).
- `SilentUdp`: a bound UDP socket that never answers (a timeout).
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from ghes_setup.net import Nameserver
from tests.ports import IN_USE, START_ATTEMPTS, free_port

INSTALL_HINT = "install dnsmasq (scripts/install-system-deps.sh)"
_counter = itertools.count(1)


def loopback_address() -> str:
    """A 127.53.x.y address no other test instance uses (all of 127/8 is loopback on Linux)."""
    n = next(_counter)
    return f"127.53.{(os.getpid() % 200) + 1}.{n % 250 + 1}"


def dnsmasq_binary() -> str:
    found = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None
    )
    if found is None:
        pytest.fail(f"dnsmasq not found: {INSTALL_HINT}", pytrace=False)
    return found


class Dnsmasq:
    """One dnsmasq instance serving `zones` with the given record options."""

    def __init__(self, workdir: Path, zones: Sequence[str], options: Sequence[str]) -> None:
        self.address = loopback_address()
        self.workdir = workdir
        self.zones = tuple(zones)
        self.options = tuple(options)
        for _attempt in range(START_ATTEMPTS):
            self.port = free_port(self.address, udp=True)
            if self._start():
                return
        pytest.fail(
            f"dnsmasq lost the race for a free port {START_ATTEMPTS} times on {self.address}",
            pytrace=False,
        )

    def _start(self) -> bool:
        """Start on `self.port`; False when another socket took the port first (try another)."""
        self.log = self.workdir / f"dnsmasq-{self.address}-{self.port}.log"
        argv = [
            dnsmasq_binary(),
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            f"--listen-address={self.address}",
            f"--port={self.port}",
            f"--pid-file={self.workdir / f'dnsmasq-{self.port}.pid'}",
            "--log-queries",
            "--log-facility=-",
            *(f"--local=/{zone}/" for zone in self.zones),
            *self.options,
        ]
        if os.geteuid() != 0:  # dnsmasq only drops privileges when it has some
            import pwd

            argv.append(f"--user={pwd.getpwuid(os.getuid()).pw_name}")
        self.argv = argv
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        return self._wait_ready()

    @property
    def nameserver(self) -> Nameserver:
        return Nameserver(self.address, self.port)

    def __str__(self) -> str:
        return str(self.nameserver)

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                output = self.log.read_text()
                if IN_USE in output:
                    return False
                pytest.fail(
                    f"dnsmasq exited with {self.proc.returncode}: {output[-800:]}",
                    pytrace=False,
                )
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"dnsmasq did not start listening on {self}", pytrace=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, server: ScriptedDns) -> None:
        self.server = server

    def resolve(self, request: Any, handler: Any) -> Any:
        s = self.server
        with s.lock:
            s.queries += 1
        if s.delay:
            time.sleep(s.delay)
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with s.lock:
            lose = (qname, qtype) not in s.dropped and qname in s.drop_once
            if lose:
                s.dropped.add((qname, qtype))
        if lose:  # dnslib's handler sends nothing when the resolver raises DNSError
            raise DNSError(f"dropped the first {qtype} query for {qname}")
        if s.servfail_all or qname in s.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        # Follow CNAMEs in the server's own data, as a recursive resolver does, and stop at the
        # first name met twice (a loop), like BIND, leaving the loop for the client to find.
        seen = {qname}
        while qname in s.cnames:
            target = s.cnames[qname]
            reply.add_answer(RR(qname, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
            if target in seen:
                return reply
            seen.add(target)
            qname = target
        if qname in s.nodata:  # exists without addresses (a TXT only, or names under it)
            return reply
        addresses = s.records.get(qname)
        if addresses is None and s.wildcard is not None and qname.endswith("." + s.zone):
            addresses = s.wildcard
        if addresses is None:
            # A CNAME's target outside the zone was looked up (as a recursive resolver does).
            ours = qname.endswith(s.zone) or len(seen) > 1
            reply.header.rcode = RCODE.NXDOMAIN if ours else RCODE.REFUSED
            return reply
        for address in addresses:
            is_v6 = ":" in address
            if qtype == "A" and not is_v6:
                reply.add_answer(RR(qname, QTYPE.A, rdata=A(address), ttl=60))
            elif qtype == "AAAA" and is_v6:
                reply.add_answer(RR(qname, QTYPE.AAAA, rdata=AAAA(address), ttl=60))
        return reply


class _Quiet(DNSLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(log="", prefix=False, logf=lambda _text: None)


class ScriptedDns:
    """dnslib over UDP and TCP: `zone` apex and wildcard, SERVFAIL for chosen names, CNAMEs
    (`alias -> target`, followed in the answer), `nodata` names that exist without addresses
    (hiding the wildcard, as RFC 4592 says), and `drop_once` names whose first query of each
    type gets no answer (a lost packet)."""

    def __init__(
        self,
        zone: str,
        *,
        records: dict[str, Sequence[str]] | None = None,
        wildcard: Sequence[str] | None = None,
        cnames: dict[str, str] | None = None,
        nodata: Sequence[str] = (),
        servfail: Sequence[str] = (),
        servfail_all: bool = False,
        drop_once: Sequence[str] = (),
        delay: float = 0.0,
    ) -> None:
        self.zone = zone
        self.records = {k.lower(): tuple(v) for k, v in (records or {}).items()}
        self.cnames = {k.lower(): v.lower().rstrip(".") for k, v in (cnames or {}).items()}
        self.nodata = {n.lower() for n in nodata}
        self.drop_once = {n.lower() for n in drop_once}
        self.dropped: set[tuple[str, str]] = set()
        self.wildcard = tuple(wildcard) if wildcard is not None else None
        self.servfail = {n.lower() for n in servfail}
        self.servfail_all = servfail_all
        self.delay = delay
        self.queries = 0
        self.lock = threading.Lock()
        self.address = loopback_address()
        resolver = _ZoneResolver(self)
        self._servers: list[Any] = []
        for _attempt in range(START_ATTEMPTS):
            self.port = free_port(self.address, udp=True)
            try:
                for tcp in (False, True):
                    self._servers.append(
                        DNSServer(
                            resolver, address=self.address, port=self.port, tcp=tcp, logger=_Quiet()
                        )
                    )
                break
            except OSError as exc:  # lost the port to another socket: try another
                if exc.errno != errno.EADDRINUSE:
                    raise
                for server in self._servers:
                    server.server.server_close()
                self._servers = []
        else:
            pytest.fail(f"no free port for the scripted DNS server on {self.address}")
        for server in self._servers:
            server.start_thread()

    @property
    def nameserver(self) -> Nameserver:
        return Nameserver(self.address, self.port)

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
            server.server.server_close()
            server.thread.join(timeout=5)


class SilentUdp:
    """A nameserver address that swallows every query: the client must time out."""

    def __init__(self) -> None:
        self.address = loopback_address()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.address, 0))
        self.port = int(self.sock.getsockname()[1])

    @property
    def nameserver(self) -> Nameserver:
        return Nameserver(self.address, self.port)

    def stop(self) -> None:
        self.sock.close()


def query(server: Nameserver, name: str, qtype: str = "A") -> DNSRecord:
    """Ask a server directly with dnslib (independent of the code under test)."""
    packet = DNSRecord.question(name, qtype).send(server.address, server.port, timeout=2)
    return DNSRecord.parse(packet)
