"""What the client checks get: the appliance's names, this machine's environment, and probes.

Built by `ghes_setup.client.service` with the real probes (getaddrinfo, the TLS probe of the
tls area, the REST API through `httpclient`, `which` and `subprocess` for the docker CLI), or
by unit tests with fakes. Everything a check reads about "this machine" goes through here
(`environ`, `home`, `which`, `read_file`), so that a test can describe a machine as data.

Several checks need the same measurement (the served chain for client-tls-trust and
client-ca-paths, the token's owner for client-token and client-docker): `once` runs each at
most once per run, whichever check asks first, and the others wait for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from ghes_setup import facts
from ghes_setup.dns.lookup import Lookup
from ghes_setup.memo import SharedAnswers
from ghes_setup.registry.smoke import HttpFactory, SmokeRequest
from ghes_setup.secrets import Secret
from ghes_setup.tls.probe import ProbeFailure, ServedChain

T = TypeVar("T")

# getaddrinfo for one name: (addresses, None) or ((), "why not": "no such host" ...).
SystemLookup = Callable[[str], tuple[tuple[str, ...], str | None]]
# The appliance's own DNS (the site's nameservers), for split-horizon: name -> Lookup.
ApplianceLookup = Callable[[str], Lookup]
ChainFetcher = Callable[[str, str, int, float], ServedChain | ProbeFailure]
# GET https://HOSTNAME/api/v3/user with the token: (status, lower-case headers, login or None).
UserProbe = Callable[[Secret], tuple[int, Mapping[str, str], str | None]]
# One CONNECT through an HTTP proxy: (proxy URL, host, port) -> (status or None, text).
ConnectProbe = Callable[[str, str, int], tuple[int | None, str]]
Runner = Callable[[list[str]], tuple[int, str]]
# The smoke test's HTTP client through a proxy URL (None: direct), or None for its default.
SmokeHttp = Callable[[str | None], HttpFactory | None]


def ecosystem_labels(names: tuple[str, ...], version: facts.GhesVersion | None) -> tuple[str, ...]:
    """The subdomain labels the given Packages ecosystems use on `version`.

    The ecosystems are the ones the facts table knows settings for (`packages.ecosystems.*`);
    each is served at `<name>.HOSTNAME` (the container registry at `containers.`), and only
    where `facts.isolation_subdomains(version)` lists that label.
    """
    known = {
        s.name.rsplit(".", 1)[1] for s in facts.SETTINGS if s.kind is facts.SettingKind.ECOSYSTEM
    }
    used = set(facts.isolation_subdomains(version))
    labels = []
    for name in names:
        if name not in known:
            continue
        label = facts.CONTAINER_REGISTRY_LABEL if name == "container" else name
        if label in used:
            labels.append(label)
    return tuple(dict.fromkeys(labels))


def known_ecosystems() -> tuple[str, ...]:
    return tuple(
        s.name.rsplit(".", 1)[1] for s in facts.SETTINGS if s.kind is facts.SettingKind.ECOSYSTEM
    )


@dataclass
class ClientContext:
    """One `client check` run on this machine.

    `hostname` is the appliance's; `labels` the subdomains this client needs (containers plus
    the ecosystems asked for), from the facts table. `expect` is the address set the site file
    pins for the appliance (its `[connection] address`); `appliance_dns` asks the appliance's
    DNS servers (the site's nameservers) when known. `ca_file` is the private CA to
    distribute (site `[connection] ca_file`): it is used in remedies and to tell which
    locations hold it, never to trust the appliance.
    """

    hostname: str
    labels: tuple[str, ...]
    environ: Mapping[str, str]
    system_lookup: SystemLookup
    fetch: ChainFetcher
    trust_roots: Callable[[], tuple[x509.Certificate, ...]]
    public_roots: Callable[[], tuple[x509.Certificate, ...]]
    user_probe: UserProbe
    connect_probe: ConnectProbe
    which: Callable[[str], str | None]
    run: Runner
    now: datetime
    home: Path
    https_port: int = facts.HTTPS_PORT
    expect: frozenset[str] = frozenset()
    appliance_dns: ApplianceLookup | None = None
    appliance_dns_servers: tuple[str, ...] = ()
    token: Secret | None = None
    user: str | None = None
    ca_file: Path | None = None
    timeout: float = 5.0
    root: Path = Path("/")
    is_root: bool = False
    probe_label: str = "ghes-setup-probe"
    smoke: SmokeRequest | None = None
    smoke_http: SmokeHttp | None = None
    _memo: SharedAnswers[str, Any] = field(default_factory=SharedAnswers, repr=False)

    # ------------------------------------------------------------------ names
    @property
    def registry_host(self) -> str:
        return f"{facts.CONTAINER_REGISTRY_LABEL}.{self.hostname}"

    @property
    def registry_authority(self) -> str:
        """What `docker login` and certs.d use: the host, with `:PORT` when not 443."""
        return facts.https_authority(self.registry_host, self.https_port)

    @property
    def hosts(self) -> tuple[str, ...]:
        """HOSTNAME (the REST API, the token's check) and each needed subdomain."""
        return (self.hostname, *(f"{label}.{self.hostname}" for label in self.labels))

    @property
    def probe_name(self) -> str:
        return f"{self.probe_label}.{self.hostname}"

    def path(self, absolute: str) -> Path:
        """`absolute` under `root` (tests describe a machine as a folder)."""
        return self.root / absolute.lstrip("/")

    def sudo(self) -> str:
        return "" if self.is_root else "sudo "

    # ------------------------------------------------------------------ shared measurements
    def once(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked for in this run; the same answer after."""
        result: T = self._memo.get(key, compute)
        return result
