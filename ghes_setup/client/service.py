"""`client check`: can THIS machine (a workstation, a CI runner) use the Container registry?

The admin-side checks (`check`, `registry smoke`) prove the appliance; they run with the
site's pins, nameservers and `--ca-file`. A runner has none of those: it resolves with its own
resolver, trusts its own store, sits behind its own proxy, logs in with its own token. So
every probe here uses this machine's own configuration: getaddrinfo, the system trust store,
the environment's proxy variables, the docker/podman configuration in $HOME. The site file,
when given, only says what the right answers are (the appliance's address, its DNS servers,
its CA file to distribute, the ecosystems it enables).

Read-only: nothing is installed, logged in or written; `--smoke` pushes and deletes a test
image, as `registry smoke` does (the same code, `registry.smoke.smoke_outcome`, run by
`client.check_smoke` through the proxy docker would use).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

from cryptography import x509

from ghes_setup import facts
from ghes_setup.checks import Report, run_checks
from ghes_setup.checks.catalogue import Pipeline, checks
from ghes_setup.checks.runner import ResultCallback
from ghes_setup.client.context import ClientContext, ecosystem_labels, known_ecosystems
from ghes_setup.client.noproxy import parse_proxy, redact_url
from ghes_setup.dns.context import probe_label
from ghes_setup.dns.resolver import DnsResolver
from ghes_setup.errors import InputError
from ghes_setup.facts import GhesVersion
from ghes_setup.httpclient import make_client, translated
from ghes_setup.net import Nameserver
from ghes_setup.registry.smoke import HttpFactory, SmokeRequest
from ghes_setup.registry.transport import make_registry_http
from ghes_setup.secrets import Secret
from ghes_setup.tls.probe import fetch_chain
from ghes_setup.tls.trust import parse_store, system_roots

COMMAND: Final = "client check"
# The order of the report (the catalogue's `client check` rows, checks.catalogue): where the
# names go, whether it trusts them, how it gets there, with what it logs in; with --smoke, then
# the registry's smoke test the way docker here would reach it.
CHECKS: Final = checks(Pipeline.CLIENT_CHECK)
SMOKE: Final = checks(Pipeline.CLIENT_SMOKE)


@dataclass(frozen=True, slots=True)
class ClientCheckRequest:
    hostname: str  # already validated
    ecosystems: tuple[str, ...] = ("container",)
    ghes_version: GhesVersion | None = None
    https_port: int = facts.HTTPS_PORT
    expect: tuple[str, ...] = ()  # the site's [connection] address, when an IP
    nameservers: tuple[Nameserver, ...] = ()  # the appliance's DNS, to compare with
    ca_file: Path | None = None  # the CA to distribute (never trusted by these checks)
    token: Secret | None = None
    user: str | None = None
    namespace: str | None = None
    image: str = "ghes-setup-smoke"
    smoke: bool = False
    size: int = 0
    timeout: float = 5.0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def parse_ecosystems(names: Sequence[str]) -> tuple[str, ...]:
    """`container` plus the given ecosystem names; an unknown one is an InputError (exit 3)."""
    known = known_ecosystems()
    out = ["container"]
    for name in names:
        key = name.strip().lower()
        if key == "containers":
            key = "container"
        if key not in known:
            raise InputError(
                f"--ecosystem {name!r} is not a GitHub Packages ecosystem",
                hint=f"one of {', '.join(known)}",
            )
        out.append(key)
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------- this machine's probes


def system_lookup(name: str) -> tuple[tuple[str, ...], str | None]:
    """getaddrinfo, the resolver docker and podman use (/etc/hosts, then resolv.conf)."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        why = {
            socket.EAI_NONAME: "no such host",
            socket.EAI_AGAIN: "temporary failure in name resolution",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        return (), why
    except UnicodeError:
        return (), "not a valid host name"
    addresses = [str(info[4][0]) for info in infos]
    return tuple(dict.fromkeys(addresses)), None


def public_roots() -> tuple[x509.Certificate, ...]:
    """The Mozilla bundle (certifi, which httpx depends on): what 'public CA' means here."""
    try:
        import certifi

        data = Path(certifi.where()).read_bytes()
    except (ImportError, OSError):  # pragma: no cover
        return ()
    return parse_store(data)


def user_probe(
    hostname: str, https_port: int, timeout: float, token: Secret
) -> tuple[int, Mapping[str, str], str | None]:
    """GET https://HOSTNAME/api/v3/user with the token: this machine's resolver and store."""
    url = f"https://{facts.https_authority(hostname, https_port)}{facts.REST_API_PREFIX}/user"
    with (
        translated(f"GET {url}"),
        make_client(timeout=timeout, env_proxies=False) as http,
    ):
        response = http.get(url, headers={"Authorization": f"token {token.reveal()}"})
    login = None
    if response.status_code == 200:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("login"), str):
            login = doc["login"]
    return response.status_code, dict(response.headers), login


def connect_probe(
    proxy: str, host: str, port: int, *, timeout: float = 5.0
) -> tuple[int | None, str]:
    """One `CONNECT host:port` through an HTTP proxy: (its status, its status line or why)."""
    try:
        where = parse_proxy(proxy)
    except ValueError as exc:
        return None, str(exc)
    if where.scheme != "http":
        return None, f"{where.scheme}:// proxies are not probed here ({redact_url(proxy)})"
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if where.username is not None:
        pair = f"{where.username}:{where.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(pair).decode()}")
    try:
        with socket.create_connection((where.host, where.port), timeout=timeout) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while b"\r\n" not in data and len(data) < 4096:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        return None, f"no answer from the proxy {redact_url(proxy)} within {timeout:g} s"
    except OSError as exc:
        return None, f"cannot connect to the proxy {redact_url(proxy)}: {exc.strerror or exc}"
    status_line = data.split(b"\r\n", 1)[0].decode("latin-1").strip()
    parts = status_line.split(" ", 2)
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        return int(parts[1]), status_line
    return None, f"the proxy answered {status_line[:80]!r}, not HTTP"


def run_command(argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return proc.returncode, (proc.stdout or proc.stderr)


def _expect(addresses: Sequence[str]) -> frozenset[str]:
    out = set()
    for text in addresses:
        try:
            out.add(ipaddress.ip_address(text.strip("[]")).compressed)
        except ValueError:
            continue
    return frozenset(out)


def build_context(request: ClientCheckRequest) -> ClientContext:
    env = request.environ
    appliance_dns = None
    if request.nameservers:
        resolver = DnsResolver(request.nameservers, timeout=request.timeout)
        appliance_dns = resolver.lookup
    return ClientContext(
        hostname=request.hostname,
        labels=ecosystem_labels(request.ecosystems, request.ghes_version),
        environ=env,
        system_lookup=system_lookup,
        fetch=fetch_chain,
        trust_roots=system_roots,
        public_roots=public_roots,
        user_probe=partial(user_probe, request.hostname, request.https_port, request.timeout),
        connect_probe=partial(connect_probe, timeout=request.timeout),
        which=partial(shutil.which, path=env.get("PATH")),
        run=run_command,
        now=datetime.now(UTC),
        home=Path(env.get("HOME") or Path.home()),
        https_port=request.https_port,
        expect=_expect(request.expect),
        appliance_dns=appliance_dns,
        appliance_dns_servers=tuple(str(n) for n in request.nameservers),
        token=request.token,
        user=request.user,
        ca_file=request.ca_file,
        timeout=request.timeout,
        is_root=os.geteuid() == 0,
        probe_label=probe_label(),
    )


def smoke_request(request: ClientCheckRequest) -> SmokeRequest:
    """`registry smoke` as this machine would run it: no pins, no --ca-file."""
    if request.token is None:
        raise InputError(
            "--smoke needs a token (a classic PAT with write:packages)",
            hint="set GHES_SETUP_TOKEN or pass --token-file PATH or --token-stdin",
        )
    return SmokeRequest(
        hostname=request.hostname,
        token=request.token,
        user=request.user,
        namespace=request.namespace,
        image=request.image,
        size=request.size,
        https_port=request.https_port,
        timeout=max(request.timeout, 60.0),
    )


def run_client_check(
    request: ClientCheckRequest, *, on_result: ResultCallback | None = None
) -> Report:
    """Run every client check (and, with `smoke`, registry-smoke) from this machine."""
    smoke = smoke_request(request) if request.smoke else None  # bad input: before any probe
    ctx = build_context(request)
    table: list[Any] = list(CHECKS)
    if smoke is not None:
        ctx.smoke = smoke
        ctx.smoke_http = partial(smoke_http, request.timeout)
        table.extend(SMOKE)
    results = run_checks(table, ctx, on_result=on_result)
    return Report(COMMAND, results, target=request.hostname)


def smoke_http(timeout: float, proxy: str | None) -> HttpFactory | None:
    """Through `proxy` when docker would use one for the registry; else the smoke's own."""
    if proxy is None:  # direct, as docker decided by Go's rules, whatever curl would do
        return lambda request: make_registry_http(
            resolver=request.resolver,
            ca_file=request.ca_file,
            timeout=request.timeout,
            env_proxies=False,
        )
    return lambda request: make_client(proxy=proxy, timeout=max(timeout, 60.0), env_proxies=False)
