"""The lab's daemons: their configuration files, how each is started, and reconciliation.

Each `ensure_*` function is idempotent: it leaves a running, correctly configured daemon alone,
starts a dead one, and restarts or reloads one whose configuration changed. The same functions
serve `lab up`, the apply engine in labd and `lab fault`, always under the control lock, so there
is one way from state (applied settings, faults) to running services.

| part     | program                                  | listens on                     |
| labd     | python -m ghes_setup.lab.labd            | ADDRESS:8081-8082,5001-5002    |
| s3       | python -m ghes_setup.lab.s3server (moto) | ADDRESS:9000 (S3, MinIO)       |
| azure    | .lab-node/.../azurite-blob (Azurite)     | ADDRESS:10000 (Azure Blob)     |
| dns      | /usr/sbin/dnsmasq                        | ADDRESS:53 (udp, tcp)          |
| sshd     | /usr/sbin/sshd -D -e -f DIR/ssh/sshd_config | ADDRESS:122                 |
| nginx    | /usr/sbin/nginx -p DIR/nginx -c nginx.conf  | ADDRESS:443, ADDRESS:8443   |
| registry | /usr/bin/docker-registry serve DIR/registry/config.yml | ADDRESS:5000     |

Both storage servers run in every lab (a site file can switch between backends); `lab up`
spawns them first and waits for them last, so their start overlaps the other daemons'.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ghes_setup.lab import faults, procs
from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import ADMIN_USER, LabConfig, Layout, write_private
from ghes_setup.lab.state import registry_readonly, registry_wanted

SSHD = "/usr/sbin/sshd"
NGINX = "/usr/sbin/nginx"
DNSMASQ = "/usr/sbin/dnsmasq"
REGISTRY = "/usr/bin/docker-registry"

# Binary -> the Debian package that provides it (scripts/install-system-deps.sh installs them).
BINARIES = {
    SSHD: "openssh-server",
    NGINX: "nginx",
    DNSMASQ: "dnsmasq",
    REGISTRY: "docker-registry",
    "/usr/bin/git": "git",
    "/usr/bin/flock": "util-linux",
    "/usr/bin/python3": "python3",
}

PARTS = ("labd", "dns", "sshd", "nginx", "s3", "azure", "registry")


@dataclass(frozen=True)
class StorageServer:
    """A storage server the lab runs, one per protocol: the part is named as the protocol
    (`StorageBackend.storage_type`) it serves to every backend stored as that type."""

    server: str  # what it is, in `lab status`
    port: Callable[[LabConfig], int]
    # Under the storage-down fault: runs without listening (moto), or is stopped (Azurite).
    runs_when_down: bool


STORAGE_SERVERS: Final = {
    "s3": StorageServer("moto S3", lambda c: c.internal.storage, runs_when_down=True),
    "azure": StorageServer("Azurite blob", lambda c: c.internal.azure, runs_when_down=False),
}
STORAGE_PARTS = tuple(STORAGE_SERVERS)
AZURITE_ENV = "GHES_SETUP_LAB_AZURITE"
# The checkout's .lab-node (scripts/install-lab-node.sh), for a source or editable install.
_REPO = Path(__file__).resolve().parents[2]


class PartError(RuntimeError):
    """A daemon would not start or would not take its configuration."""


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    answering: bool
    detail: str = ""
    expected: bool = True  # should it run? (the registry only when Packages is applied)


def missing_binaries() -> dict[str, str]:
    return {path: pkg for path, pkg in BINARIES.items() if not os.access(path, os.X_OK)}


def azurite_blob() -> str | None:
    """Azurite's blob server script: $GHES_SETUP_LAB_AZURITE, the checkout's .lab-node, PATH."""
    candidates = [
        os.environ.get(AZURITE_ENV, ""),
        str(_REPO / ".lab-node" / "node_modules" / ".bin" / "azurite-blob"),
        shutil.which("azurite-blob") or "",
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def missing_storage_servers() -> list[tuple[str, str]]:
    """(what is missing, how to install it) for the storage servers the lab runs."""
    import importlib.util

    missing = []
    pip = "pip install -e '.[lab]' (scripts/bootstrap.sh)"
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("werkzeug") is None:
        missing.append(("moto's S3 server (PyPI moto[server])", pip))
    for module, package in (("botocore", "botocore"), ("azure.storage.blob", "azure-storage-blob")):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append((f"{package} (PyPI)", pip))
    if shutil.which("node") is None:
        missing.append(("node (Debian package nodejs)", "scripts/install-system-deps.sh"))
    if azurite_blob() is None:
        missing.append(("Azurite (npm azurite)", "scripts/install-lab-node.sh"))
    return missing


def marker(part: str, layout: Layout) -> str:
    """The command-line fragment that identifies our instance of `part` (PID reuse guard)."""
    return {
        "labd": "ghes_setup.lab.labd",
        "dns": f"--pid-file={layout.run / 'dnsmasq.pid'}",
        "sshd": str(layout.sshd_config),
        "nginx": str(layout.nginx),
        "registry": str(layout.registry_conf),
        "s3": "ghes_setup.lab.s3server",
        "azure": str(layout.azurite),
    }[part]


def pid_of(layout: Layout, part: str) -> int | None:
    return procs.running(layout.pid_file(part), marker(part, layout))


# --------------------------------------------------------------------------- labd


def ensure_labd(layout: Layout, config: LabConfig) -> int:
    pid = pid_of(layout, "labd")
    if pid is not None:
        return pid
    with contextlib.suppress(FileNotFoundError):
        layout.control_socket.unlink()
    pid = procs.spawn(
        [sys.executable, "-m", "ghes_setup.lab.labd", "--dir", str(layout.root)],
        log=layout.log_file("labd"),
        pid_file=layout.pid_file("labd"),
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if layout.control_socket.exists() and procs.tcp_answers(
            config.address, config.internal.manage, 0.2
        ):
            return pid
        if not procs.alive(pid):
            break
        time.sleep(0.01)
    raise PartError(f"labd did not start; see {layout.log_file('labd')}")


# --------------------------------------------------------------------------- dns


def dns_argv(layout: Layout, config: LabConfig, wildcard: bool) -> list[str]:
    argv = [
        DNSMASQ,
        "--keep-in-foreground",
        "--conf-file=/dev/null",  # never read /etc/dnsmasq.conf or /etc/dnsmasq.d
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        f"--listen-address={config.address}",
        f"--port={config.ports.dns}",
        f"--pid-file={layout.run / 'dnsmasq.pid'}",
        "--log-facility=-",
        # --local: NODATA (not REFUSED) for AAAA/MX under the zone
        # (docs/reference/lab-findings.md §3 pitfall).
        f"--local=/{config.hostname}/",
    ]
    if wildcard:
        argv.append(f"--address=/{config.hostname}/{config.address}")
    else:
        argv.append(f"--host-record={config.hostname},{config.address}")
    if os.geteuid() != 0:
        argv.append(f"--user={pwd.getpwuid(os.geteuid()).pw_name}")
    return argv


def ensure_dns(layout: Layout, config: LabConfig) -> int:
    wildcard = not faults.is_active(layout, "dns-no-wildcard")
    mode = "wildcard" if wildcard else "apex-only"
    mode_file = layout.run / "dns.mode"
    pid = pid_of(layout, "dns")
    current = mode_file.read_text(encoding="ascii").strip() if mode_file.exists() else ""
    if pid is not None and current == mode:
        return pid
    if pid is not None:
        procs.stop(pid)
    pid = procs.spawn(
        dns_argv(layout, config, wildcard),
        log=layout.log_file("dns"),
        pid_file=layout.pid_file("dns"),
    )
    mode_file.write_text(mode + "\n", encoding="ascii")
    if not _wait_dns(config.address, config.ports.dns, config.hostname, pid):
        raise PartError(f"dnsmasq did not answer; see {layout.log_file('dns')}")
    return pid


def dns_query(address: str, port: int, name: str, timeout: float = 0.5) -> int | None:
    """Send one A query; return the response code (0 NOERROR, 3 NXDOMAIN) or None."""
    qid = secrets.randbits(16)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, (address, port))
            data, _ = sock.recvfrom(512)
        except OSError:
            return None
    if len(data) < 4 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    return int(data[3] & 0x0F)


def _wait_dns(address: str, port: int, name: str, pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dns_query(address, port, name, 0.1) == 0:
            return True
        if not procs.alive(pid):
            return False
        time.sleep(0.005)
    return False


# --------------------------------------------------------------------------- sshd


def sshd_config(layout: Layout, config: LabConfig) -> str:
    path = f"{layout.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return "\n".join(
        [
            "# The lab's admin shell (GHES: ssh -p 122 admin@HOSTNAME). Written by `lab up`.",
            f"Port {config.ports.ssh}",
            f"ListenAddress {config.address}",
            f"HostKey {layout.host_key}",
            "PidFile none",
            f"AuthorizedKeysFile {layout.authorized_keys}",
            "StrictModes no",  # the lab folder may live under world-writable /tmp
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",  # Debian's PAM stack is not needed; `-p '*'` keeps the account usable
            f"AllowUsers {ADMIN_USER}",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "PrintMotd no",
            "PrintLastLog no",
            "PermitUserEnvironment no",
            "MaxStartups 64:30:128",
            "MaxSessions 32",
            "LogLevel ERROR",
            # The lab's ghe-* commands first on PATH; LABDIR tells them which lab they serve.
            f"SetEnv PATH={path} LABDIR={layout.root} HOME={layout.home} LANG=C.UTF-8",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def ensure_sshd(layout: Layout, config: LabConfig) -> int:
    pid = pid_of(layout, "sshd")
    if pid is not None:
        return pid
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir (no systemd)
    check = subprocess.run(
        [SSHD, "-t", "-f", str(layout.sshd_config)], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise PartError(f"sshd rejects {layout.sshd_config}: {check.stderr.strip()}")
    pid = procs.spawn(
        [SSHD, "-D", "-e", "-f", str(layout.sshd_config)],
        log=layout.log_file("sshd"),
        pid_file=layout.pid_file("sshd"),
    )
    if not _wait_owned(config.address, [config.ports.ssh], pid):
        raise PartError(f"sshd did not start; see {layout.log_file('sshd')}")
    return pid


# --------------------------------------------------------------------------- nginx


@dataclass(frozen=True)
class FrontDoor:
    """What the front door serves, derived from the applied settings and the faults."""

    cert_pem: str
    key_pem: str
    cert_source: str  # "configured", "default", "expired (fault)"
    isolation: bool
    registry: bool


def front_door(layout: Layout, applied: dict[str, str]) -> FrontDoor:
    isolation = applied.get(keys.ISOLATION, "false").lower() == "true"
    if faults.is_active(layout, "cert-expired"):
        cert = (layout.pki / "expired.pem").read_text(encoding="utf-8")
        key = (layout.pki / "expired.key").read_text(encoding="utf-8")
        source = "expired (fault)"
    elif applied.get(keys.SSL_CERT) and applied.get(keys.SSL_KEY):
        cert, key, source = applied[keys.SSL_CERT], applied[keys.SSL_KEY], "configured"
    else:
        cert = (layout.pki / "default.pem").read_text(encoding="utf-8")
        key = (layout.pki / "default.key").read_text(encoding="utf-8")
        source = "default"
    return FrontDoor(
        cert_pem=cert if cert.endswith("\n") else cert + "\n",
        key_pem=key if key.endswith("\n") else key + "\n",
        cert_source=source,
        isolation=isolation,
        registry=isolation and registry_wanted(applied),
    )


def nginx_config(layout: Layout, config: LabConfig, door: FrontDoor) -> str:
    a, host = config.address, config.hostname
    i = config.internal
    https = f"{a}:{config.ports.https}"
    api = f"{a}:{config.ports.api}"
    proxy = (
        "proxy_set_header Host $http_host; "
        "proxy_set_header X-Forwarded-Proto $scheme; "
        "proxy_set_header X-Forwarded-For $remote_addr;"
    )
    user = "user www-data www-data;" if os.geteuid() == 0 and _has_user("www-data") else ""
    lines = [
        "# The lab's front door. Rendered from the applied settings by the apply engine.",
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",
        user,
        "pid run/nginx.pid;",
        "error_log logs/error.log warn;",
        "events { worker_connections 1024; }",
        "http {",
        "  access_log logs/access.log;",
        "  client_body_temp_path tmp/client; proxy_temp_path tmp/proxy;",
        "  fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;",
        "  server_tokens off;",
        "  ssl_protocols TLSv1.2 TLSv1.3;",
        f"  ssl_certificate {layout.nginx / 'certs' / 'front.pem'};",
        f"  ssl_certificate_key {layout.nginx / 'certs' / 'front.key'};",
        "  proxy_http_version 1.1;",
        "  client_max_body_size 64m;",
        "  # Unknown or missing SNI: refuse the handshake.",
        f"  server {{ listen {https} ssl default_server; listen {api} ssl default_server;",
        "           ssl_reject_handshake on; }",
        f"  server {{ listen {https} ssl; server_name {host};",
        '    add_header Strict-Transport-Security "max-age=31536000" always;',
        f"    location / {{ proxy_pass http://{a}:{i.web}; {proxy} }} }}",
        f"  server {{ listen {api} ssl; server_name {host};",
        f"    location / {{ proxy_pass http://{a}:{i.manage}; {proxy} }} }}",
    ]
    if door.isolation:
        if door.registry:
            v2 = (
                f"if (-f {layout.faults / 'registry-503'}) "
                f"{{ proxy_pass http://{a}:{i.fault_proxy}; }}\n"
                f"      proxy_pass http://{a}:{i.registry};"
            )
        else:
            v2 = (
                "default_type application/json; return 404 "
                '\'{"errors":[{"code":"UNAVAILABLE","message":"GitHub Packages is not '
                "enabled on this appliance\"}]}';"
            )
        # Maintenance mode: the registry answers 503 like the web and the API do
        # (enabling-and-scheduling-maintenance-mode: web and Git/API requests get 503).
        flag = layout.state / "maintenance.on"
        typed = "" if "default_type" in v2 else "default_type application/json;\n      "
        v2 = (
            f"if (-f {flag}) {{ add_header Retry-After 60 always; return 503 "
            '\'{"errors":[{"code":"UNAVAILABLE","message":"GitHub Enterprise Server is in '
            "maintenance mode\"}]}'; }\n      " + typed + v2
        )
        escaped = re.escape(host)
        lines += [
            f"  server {{ listen {https} ssl; server_name containers.{host};",
            "    client_max_body_size 0; proxy_request_buffering off; proxy_buffering off;",
            f"    proxy_read_timeout 900; proxy_send_timeout 900; {proxy}",
            f"    location /v2/ {{\n      {v2}\n    }}",
            f"    location = /token {{ proxy_pass http://{a}:{i.token}; }}",
            f"    location / {{ proxy_pass http://{a}:{i.web}; {proxy}",
            "      proxy_set_header X-Lab-Subdomain containers; } }",
            f"  server {{ listen {https} ssl; server_name ~^(?<sub>[a-z0-9-]+)\\.{escaped}$;",
            f"    location / {{ proxy_pass http://{a}:{i.web}; {proxy}",
            "      proxy_set_header X-Lab-Subdomain $sub; } }",
        ]
    lines += ["}", ""]
    return "\n".join(line for line in lines if line != "")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _prepare_nginx_dirs(layout: Layout) -> None:
    for sub in (
        "logs",
        "run",
        "certs",
        "tmp/client",
        "tmp/proxy",
        "tmp/fastcgi",
        "tmp/uwsgi",
        "tmp/scgi",
    ):
        (layout.nginx / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and _has_user("www-data"):
        entry = pwd.getpwnam("www-data")
        for sub in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.chown(layout.nginx / "tmp" / sub, entry.pw_uid, entry.pw_gid)


def _nginx_test(layout: Layout, conf: Path) -> str | None:
    proc = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(layout.nginx), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if proc.returncode == 0 else proc.stderr.strip()


def ensure_nginx(layout: Layout, config: LabConfig, applied: dict[str, str]) -> int:
    """Render the front door for `applied`, then start nginx or reload it if anything changed.

    The new configuration and certificate are tested with `nginx -t` before they replace the
    running ones: a bad one raises PartError and the previous front door keeps serving.
    """
    _prepare_nginx_dirs(layout)
    door = front_door(layout, applied)
    text = nginx_config(layout, config, door)
    certs = layout.nginx / "certs"
    old = {
        p: p.read_text(encoding="utf-8") if p.exists() else None
        for p in (layout.nginx_conf, certs / "front.pem", certs / "front.key")
    }
    new = {
        layout.nginx_conf: text,
        certs / "front.pem": door.cert_pem,
        certs / "front.key": door.key_pem,
    }
    pid = pid_of(layout, "nginx")
    if pid is not None and old == new:
        return pid
    # Test the candidate in a scratch copy so that the live files change only if it passes.
    scratch = layout.nginx / "candidate"
    scratch.mkdir(exist_ok=True)
    write_private(scratch / "front.pem", door.cert_pem, 0o644)
    write_private(scratch / "front.key", door.key_pem)
    candidate = text.replace(str(certs / "front."), str(scratch / "front."))
    write_private(scratch / "nginx.conf", candidate, 0o644)
    error = _nginx_test(layout, scratch / "nginx.conf")
    if error is not None:
        raise PartError(f"nginx rejects the new front door: {error}")
    write_private(certs / "front.pem", door.cert_pem, 0o644)
    write_private(certs / "front.key", door.key_pem)
    write_private(layout.nginx_conf, text, 0o644)
    if pid is not None:
        old_workers = procs.descendants(pid)
        os.kill(pid, signal.SIGHUP)
        _wait_reloaded(config, door, old_workers)
        return pid
    pid = procs.spawn(
        [NGINX, "-p", str(layout.nginx), "-c", str(layout.nginx_conf)],
        log=layout.log_file("nginx"),
        pid_file=layout.pid_file("nginx"),
    )
    if not _wait_owned(config.address, [config.ports.https, config.ports.api], pid):
        raise PartError(f"nginx did not start; see {layout.nginx / 'logs' / 'error.log'}")
    return pid


def _wait_owned(address: str, ports: list[int], pid: int, timeout: float = 10.0) -> bool:
    """Wait until `pid` (or a child of it) holds the listening socket of every port: a port that
    merely answers may be held by someone else (e.g. an orphaned worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.alive(pid):
            return False
        family = {pid, *procs.descendants(pid)}
        if all(procs.listeners(address, port) & family for port in ports):
            return True
        time.sleep(0.01)
    return False


def served_cert(address: str, port: int, server_name: str, timeout: float = 1.0) -> bytes | None:
    """The DER leaf certificate the front door serves for `server_name` (no verification)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((address, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            return tls.getpeercert(binary_form=True)
    except OSError:
        return None


def _wait_reloaded(
    config: LabConfig, door: FrontDoor, old_workers: list[int], timeout: float = 5.0
) -> None:
    """After a reload, wait until the old workers are gone (they share the listening socket
    and could still accept a connection) and new connections get the new certificate."""
    end = door.cert_pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    want = ssl.PEM_cert_to_DER_cert(door.cert_pem[:end])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(procs.alive(p) for p in old_workers) and (
            served_cert(config.address, config.ports.https, config.hostname) == want
        ):
            return
        time.sleep(0.01)


# --------------------------------------------------------------------------- registry


def registry_uses_s3(applied: dict[str, str]) -> bool:
    """The registry's `s3` driver serves the applied storage (lab/storage.py says which)."""
    from ghes_setup.lab.storage import registry_in_storage

    return registry_in_storage(applied)


def registry_root(layout: Layout, config: LabConfig, applied: dict[str, str]) -> Path:
    """The registry's filesystem root when it does not use S3 (Azure, or no storage)."""
    return layout.bucket(
        applied.get(keys.AZURE_CONTAINER) or applied.get(keys.BUCKET) or config.bucket
    )


def _registry_storage(layout: Layout, config: LabConfig, applied: dict[str, str]) -> str:
    """distribution's storage driver for the applied Packages storage.

    S3 and MinIO: the `s3` driver (Debian's docker-registry 2.8 is built with it) against the
    configured service URL, bucket and keys; a service URL given as `regionendpoint` makes the
    driver path-style, as MinIO needs. `redirect: disable`: blobs are served by the registry,
    not by presigned URLs to the storage. Azure: the filesystem, because Debian's build has no
    `azure` driver (docs/lab.md); the appliance side of Azure is proven by the storage checks.
    """
    if registry_uses_s3(applied):
        from ghes_setup.lab.storage import region_of

        url = applied.get(keys.SERVICE_URL, "") or config.service_url
        return f"""  s3:
    accesskey: {json.dumps(applied.get(keys.ACCESS_KEY, ""))}
    secretkey: {json.dumps(applied.get(keys.SECRET_KEY, ""))}
    region: {region_of(url)}
    regionendpoint: {json.dumps(url)}
    bucket: {json.dumps(applied.get(keys.BUCKET) or config.bucket)}
    secure: {"true" if url.startswith("https:") else "false"}
    v4auth: true
  redirect:
    disable: true"""
    return f"""  filesystem:
    rootdirectory: {registry_root(layout, config, applied)}"""


def registry_config(layout: Layout, config: LabConfig, applied: dict[str, str], secret: str) -> str:
    public = f"https://{config.https_authority(config.registry_host)}"
    readonly = "true" if registry_readonly(applied) else "false"
    return f"""# The lab's container registry (CNCF distribution). Rendered by the apply engine.
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
{_registry_storage(layout, config, applied)}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
    readonly:
      enabled: {readonly}
http:
  addr: {config.address}:{config.internal.registry}
  host: {public}
  secret: {secret}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: {public}/token
    service: {config.registry_host}
    issuer: {token_issuer(config)}
    rootcertbundle: {layout.token_cert}
"""


def token_issuer(config: LabConfig) -> str:
    return f"{config.hostname} lab token service"


def ensure_registry(layout: Layout, config: LabConfig, applied: dict[str, str]) -> int | None:
    """Run the registry iff the applied settings want it, with their storage bucket."""
    pid = pid_of(layout, "registry")
    if not registry_wanted(applied):
        if pid is not None:
            procs.stop(pid)
        with contextlib.suppress(FileNotFoundError):
            layout.pid_file("registry").unlink()
        return None
    secret_file = layout.registry / "http-secret"
    if not secret_file.exists():
        write_private(secret_file, secrets.token_hex(16))
    text = registry_config(layout, config, applied, secret_file.read_text(encoding="ascii").strip())
    current = (
        layout.registry_conf.read_text(encoding="utf-8") if layout.registry_conf.exists() else ""
    )
    if pid is not None and current == text:
        return pid
    if pid is not None:
        procs.stop(pid)
    if not registry_uses_s3(applied):
        registry_root(layout, config, applied).mkdir(parents=True, exist_ok=True)
    write_private(layout.registry_conf, text)
    pid = procs.spawn(
        [REGISTRY, "serve", str(layout.registry_conf)],
        log=layout.log_file("registry"),
        pid_file=layout.pid_file("registry"),
        # Only its configuration says how it reaches storage: the AWS SDK inside reads AWS_*
        # variables (AWS_CA_BUNDLE makes it panic with "LoadCustomCABundleError"). It trusts
        # the lab CA (the S3 server's certificate), as the appliance does.
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "SSL_CERT_FILE": str(layout.ca_file),
        },
    )
    if not _wait_owned(config.address, [config.internal.registry], pid):
        raise PartError(f"the registry did not start; see {layout.log_file('registry')}")
    return pid


# --------------------------------------------------------------------------- storage servers


def wanted_storage(layout: Layout) -> tuple[bool, bool]:
    """(answering, accepting the lab's keys), from the storage faults."""
    return (
        not faults.is_active(layout, "storage-down"),
        not faults.is_active(layout, "storage-bad-credentials"),
    )


def spawn_s3(layout: Layout, config: LabConfig) -> int:
    """Start moto's S3 server unless it runs (it seeds itself and follows the control file)."""
    from ghes_setup.lab import s3server

    pid = pid_of(layout, "s3")
    if pid is not None:
        return pid
    listening, keys_ok = wanted_storage(layout)
    control = s3server.read_control(layout)
    if control["listening"] != listening or control["revoked"] == keys_ok:
        s3server.write_control(layout, listening=listening, revoked=not keys_ok)
    with contextlib.suppress(FileNotFoundError):
        s3server.ack_file(layout).unlink()
    return procs.spawn(
        [sys.executable, "-m", "ghes_setup.lab.s3server", "--dir", str(layout.root)],
        log=layout.log_file("s3"),
        pid_file=layout.pid_file("s3"),
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def _wait_s3_ack(layout: Layout, pid: int, generation: int, timeout: float = 30.0) -> bool:
    from ghes_setup.lab import s3server

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if int(s3server.ack_file(layout).read_text(encoding="ascii")) >= generation:
                return True
        if not procs.alive(pid):
            return False
        time.sleep(0.01)
    return False


def wait_s3(layout: Layout, config: LabConfig, pid: int) -> None:
    from ghes_setup.lab import s3server

    generation = s3server.read_control(layout)["generation"]
    if not _wait_s3_ack(layout, pid, generation):
        raise PartError(f"moto's S3 server did not start; see {layout.log_file('s3')}")
    if s3server.read_control(layout)["listening"] and not _wait_owned(
        config.address, [config.internal.storage], pid
    ):
        raise PartError(f"moto's S3 server does not listen; see {layout.log_file('s3')}")


def s3_command(layout: Layout, config: LabConfig, **changes: object) -> None:
    """Change the running S3 server's state (control file + SIGHUP) and wait until it did."""
    from ghes_setup.lab import s3server

    pid = pid_of(layout, "s3")
    generation = s3server.write_control(layout, **changes)
    if pid is None:
        wait_s3(layout, config, spawn_s3(layout, config))
        return
    os.kill(pid, signal.SIGHUP)
    if not _wait_s3_ack(layout, pid, generation):
        raise PartError(f"moto's S3 server did not take the change; see {layout.log_file('s3')}")


def ensure_s3(layout: Layout, config: LabConfig) -> int:
    """moto's S3 server running, answering and accepting the lab's keys as the faults say."""
    from ghes_setup.lab import s3server

    pid = pid_of(layout, "s3")
    if pid is None:
        pid = spawn_s3(layout, config)
        wait_s3(layout, config, pid)
        return pid
    listening, keys_ok = wanted_storage(layout)
    control = s3server.read_control(layout)
    if control["listening"] != listening or control["revoked"] == keys_ok:
        s3_command(layout, config, listening=listening, revoked=not keys_ok)
    return pid


def azure_key(config: LabConfig, accepting: bool) -> str:
    """The account key Azurite runs with: the lab's, or (storage-bad-credentials) another one
    derived from it, so that the lab's connection string is refused."""
    if accepting:
        return config.azure_key
    return base64.b64encode(hashlib.sha512(config.azure_key.encode()).digest()).decode()


# Azurite writes its metadata (LokiJS JSON files under the workspace, in place, not through a
# rename) while it closes on SIGTERM. Killed in the middle (procs.stop's SIGKILL after its
# timeout, on a loaded machine), it leaves a file no later Azurite can read ("Exit due to
# unhandled error: ... in JSON"), and every reconcile and reset after fails: seen once in CI.
# Closing takes well under a second when the machine is idle; give it time.
AZURITE_CLOSE_S: Final = 30.0


def spawn_azurite(layout: Layout, config: LabConfig) -> int | None:
    """Start Azurite's blob service as the faults say (not at all under storage-down), or
    restart it when its account key must change. Returns its PID, None when it must not run."""
    listening, keys_ok = wanted_storage(layout)
    mode_file = layout.run / "azure.mode"
    mode = "accepting" if keys_ok else "refusing"
    pid = pid_of(layout, "azure")
    current = mode_file.read_text(encoding="ascii").strip() if mode_file.exists() else ""
    if not listening:
        if pid is not None:
            procs.stop(pid, timeout=AZURITE_CLOSE_S)
        with contextlib.suppress(FileNotFoundError):
            layout.pid_file("azure").unlink()
        return None
    if pid is not None and current == mode:
        return pid
    if pid is not None:
        procs.stop(pid, timeout=AZURITE_CLOSE_S)
    program = azurite_blob()
    if program is None:
        raise PartError("Azurite is not installed: run scripts/install-lab-node.sh")
    layout.azurite.mkdir(parents=True, exist_ok=True)
    mode_file.write_text(mode + "\n", encoding="ascii")
    return procs.spawn(
        [
            program,
            "--blobHost",
            config.address,
            "--blobPort",
            str(config.internal.azure),
            "--location",
            str(layout.azurite),
            "--disableTelemetry",  # never call home
            "--silent",
            "--loose",
            "--skipApiVersionCheck",  # the Python SDK may be newer than this Azurite
        ],
        log=layout.log_file("azure"),
        pid_file=layout.pid_file("azure"),
        # The account and its key: in the environment, never in the process list.
        env={
            **os.environ,
            "AZURITE_ACCOUNTS": f"{config.azure_account}:{azure_key(config, keys_ok)}",
        },
        cwd=layout.azurite,
    )


def wait_azurite(layout: Layout, config: LabConfig, pid: int | None) -> None:
    if pid is None:
        return
    # Node loads Azurite in about a second (several under load).
    if not _wait_owned(config.address, [config.internal.azure], pid, timeout=60):
        raise PartError(f"Azurite did not start; see {layout.log_file('azure')}")


def ensure_azurite(layout: Layout, config: LabConfig) -> int | None:
    pid = spawn_azurite(layout, config)
    wait_azurite(layout, config, pid)
    return pid


def ensure_storage(layout: Layout, config: LabConfig) -> None:
    ensure_s3(layout, config)
    ensure_azurite(layout, config)


def lab_sockets(config: LabConfig) -> list[tuple[int, str]]:
    """Every (port, protocol) the lab listens on, on its address."""
    i = config.internal
    tcp = [config.ports.ssh, config.ports.https, config.ports.api, config.ports.dns]
    tcp += [i.web, i.manage, i.token, i.fault_proxy, i.registry, i.storage, i.azure]
    return [(port, "tcp") for port in tcp] + [(config.ports.dns, "udp")]


def sweep_orphans(layout: Layout, config: LabConfig) -> list[int]:
    """Stop leftovers of this lab's daemons that no PID file knows any more.

    Example: nginx's master was killed with SIGKILL; its workers live on, orphaned, still
    listening on the lab's ports, so a new nginx cannot bind them. A process counts as a
    leftover when it listens on one of the lab's ports on the lab's address, is not one of the
    running parts (or their children), and runs one of the lab's programs.
    """
    ours: set[int] = set()
    for part in PARTS:
        pid = pid_of(layout, part)
        if pid is not None:
            ours.add(pid)
            ours.update(procs.descendants(pid))
    node = shutil.which("node")
    binaries = [SSHD, NGINX, DNSMASQ, REGISTRY, sys.executable, *([node] if node else [])]
    programs = {os.path.realpath(path) for path in binaries}
    stopped = []
    for port, proto in lab_sockets(config):
        for pid in procs.listeners(config.address, port, proto) - ours:
            program = procs.exe(pid)
            if program is not None and os.path.realpath(program) in programs:
                procs.stop(pid)
                stopped.append(pid)
    return stopped


def stop_all(layout: Layout) -> list[tuple[str, int]]:
    """Stop every daemon of the lab (registry first, labd last); return what was stopped."""
    stopped = []
    for part in ("registry", "nginx", "sshd", "dns", "s3", "azure", "labd"):
        pid = procs.stop_pid_file(layout.pid_file(part), marker(part, layout))
        if pid is not None:
            stopped.append((part, pid))
    return stopped


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
