"""Real TLS servers for the probe tests: a private nginx with one SNI server block per scenario.

nginx runs in the foreground as a single process (`daemon off; master_process off;`), on its
own 127.44.x.y address and a free port, with its own prefix, pid and error log (`-e`, so it
never touches /var/log/nginx), and is stopped by PID. The default server rejects the handshake
(`ssl_reject_handshake on`, nginx >= 1.19.4), which answers an unknown SNI name with the TLS
alert `unrecognized_name`, like a front door that does not serve that name.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import IN_USE, START_ATTEMPTS, free_port

INSTALL_HINT = "install nginx (Debian package nginx; scripts/install-system-deps.sh)"
_counter = itertools.count(1)


def loopback_address() -> str:
    n = next(_counter)
    return f"127.44.{(os.getpid() % 200) + 1}.{n % 250 + 1}"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail(f"nginx is needed for the TLS server tests: {INSTALL_HINT}")
    return found


@dataclass(frozen=True)
class Site:
    """One SNI server block: names (the first is the server_name apex) and its files."""

    names: tuple[str, ...]
    chain: Path
    key: Path


class Nginx:
    def __init__(self, workdir: Path, sites: Mapping[str, Site]) -> None:
        self.workdir = workdir
        self.sites = dict(sites)
        self.address = loopback_address()
        self.port = free_port(self.address)
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        temp = self.workdir / "temp"
        temp.mkdir(exist_ok=True)
        listen = f"{self.address}:{self.port}"
        blocks = [
            f"server {{ listen {listen} ssl default_server; ssl_reject_handshake on; }}",
            *(
                f"server {{ listen {listen} ssl; server_name {' '.join(site.names)};\n"
                f"  ssl_certificate {site.chain}; ssl_certificate_key {site.key};\n"
                '  location / { return 200 "ok\\n"; } }'
                for site in self.sites.values()
            ),
        ]
        temps = "\n".join(
            f"  {kind}_temp_path {temp / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"pid {self.workdir / 'nginx.pid'};\n"
            f"error_log {self.workdir / 'error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n  access_log off;\n"
            f"{temps}\n  " + "\n  ".join(blocks) + "\n}\n"
        )

    def start(self) -> Nginx:
        for _attempt in range(START_ATTEMPTS):
            if self._start():
                return self
            self.port = free_port(self.address)  # lost the port to another socket: try another
        pytest.fail(f"nginx lost the race for a free port {START_ATTEMPTS} times")

    def _start(self) -> bool:
        binary = nginx_binary()
        conf = self.workdir / "nginx.conf"
        conf.write_text(self._config())
        error_log = self.workdir / "error.log"
        error_log.unlink(missing_ok=True)
        args = [binary, "-p", str(self.workdir), "-c", str(conf), "-e", str(error_log)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = error_log.read_text() if error_log.exists() else ""
                self.stop()
                if IN_USE in err + log:
                    return False
                pytest.fail(f"nginx did not start: {err} {log}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not listen on {self.address}:{self.port} within 10 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
