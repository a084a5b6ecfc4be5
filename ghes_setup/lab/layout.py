"""Where a lab keeps everything (paths under DIR) and what it was made with (DIR/lab.json).

One lab = one folder. Everything the lab writes lives in it, so `lab down` can remove it and two
labs (a developer's on 127.77.0.1 and a test session's on 127.77.X.1) never share a file. The
only things outside DIR are the system user `admin` (the appliance's admin shell user, shared by
every lab on the machine) and /run/sshd (OpenSSH's privilege-separation folder).

`LabConfig` is the lab's identity: hostname, address, ports, the GHES version it pretends to be,
and its credentials (admin password, PATs, storage keys). It is written once by `lab up` with
mode 0600 and read by every other part (the supervisor, the CLI, the test fixture).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ghes_setup import facts

# The admin shell user of GHES (accessing-the-administrative-shell-ssh.md).
ADMIN_USER = "admin"
DEFAULT_ADDRESS = "127.77.0.1"
DEFAULT_HOSTNAME = "ghe.lab.test"
# A current 3.x release: what a lab pretends to be unless told otherwise.
DEFAULT_VERSION = "3.17.4"
# The GHES feature releases the lab can imitate: those with a vendored official description
# (tests/contract/descriptions/ghes-3.NN.json; tests/contract/test_versions.py keeps the two
# lists equal). 3.12 is the first with the Manage API at parity with the Management Console
# API. Lab-side list: the supported-releases table of ghes_setup/facts.py may replace it.
SUPPORTED_RELEASES = tuple(f"3.{minor}" for minor in range(12, 20))
DEFAULT_APPLY_SECONDS = 2.0
DEFAULT_BUCKET = "ghes-packages"
# `lab up --storage`: the backend the lab's site file names (every backend's server runs).
STORAGE_KINDS = ("minio", "s3", "azure")
DEFAULT_STORAGE = "minio"
# Azurite's storage account; its key is made per lab (lab.json).
AZURE_ACCOUNT = "ghelab"
DIR_ENV = "GHES_SETUP_LAB_DIR"
# Folders and programs the admin shell user and nginx's workers must read (not write).
READABLE = 0o755


@dataclass(frozen=True, slots=True)
class Ports:
    """The appliance's public ports on the lab address (GHES: 122, 443, 8443, 53)."""

    ssh: int
    https: int
    api: int
    dns: int


@dataclass(frozen=True, slots=True)
class InternalPorts:
    """Back-end ports on the lab address, behind the front door; not part of the appliance."""

    web: int = 8081  # labd: /status, /api/v3, subdomain pages
    manage: int = 8082  # labd: /manage/v1
    token: int = 5001  # labd: registry token service
    fault_proxy: int = 5002  # labd: registry-503 fault proxy
    registry: int = 5000  # docker-registry
    storage: int = 9000  # moto's S3 server (s3server.py): the S3/MinIO service URL
    azure: int = 10000  # Azurite's blob service (the Azure connection string's BlobEndpoint)


ROOT_PORTS = Ports(ssh=122, https=443, api=8443, dns=53)
# Without root nothing can bind below 1024 (ip_unprivileged_port_start=1024).
USER_PORTS = Ports(ssh=2222, https=4443, api=8443, dns=5353)


@dataclass(frozen=True, slots=True)
class Token:
    """A lab personal access token (classic) and its scopes."""

    value: str
    scopes: tuple[str, ...]
    login: str


@dataclass(frozen=True, slots=True)
class LabConfig:
    hostname: str
    address: str
    ghes_version: str
    apply_seconds: float
    ports: Ports
    internal: InternalPorts
    admin_password: str
    write_token: Token
    read_token: Token
    user: str
    namespace: str
    s3_access_key: str
    s3_secret_key: str
    bucket: str
    build_date: str
    build_id: str
    configuration_id: int
    uuid: str
    extra: dict[str, Any] = field(default_factory=dict)
    # Added with the real storage servers; a lab.json written before them gets these defaults
    # and `lab up` fills in the Azure key.
    storage: str = DEFAULT_STORAGE
    azure_account: str = AZURE_ACCOUNT
    azure_key: str = ""
    azure_container: str = DEFAULT_BUCKET
    # A fine-grained-style PAT (github_pat_...): the REST API knows it, with no OAuth scopes;
    # Packages grants it nothing (client-token must name it). None in labs made before it.
    fine_grained_token: Token | None = None

    @property
    def service_url(self) -> str:
        """The S3/MinIO service URL the site file names: moto's S3 server, over TLS with a
        certificate from the lab CA (as a MinIO for Packages should be served)."""
        return f"https://{self.address}:{self.internal.storage}"

    @property
    def azure_blob_endpoint(self) -> str:
        """Azurite's blob endpoint for the lab's account (path-style, as Azurite serves it)."""
        return f"http://{self.address}:{self.internal.azure}/{self.azure_account}"

    @property
    def azure_connection_string(self) -> str:
        """The connection string `lab env` prints as GHES_SETUP_AZURE_CONNECTION_STRING."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.azure_account};"
            f"AccountKey={self.azure_key};BlobEndpoint={self.azure_blob_endpoint};"
        )

    @property
    def tokens(self) -> tuple[Token, ...]:
        extra = (self.fine_grained_token,) if self.fine_grained_token else ()
        return (self.write_token, self.read_token, *extra)

    @property
    def registry_host(self) -> str:
        return f"containers.{self.hostname}"

    def https_authority(self, host: str) -> str:
        """`host` or `host:port` for URLs on the front door's HTTPS port."""
        return facts.https_authority(host, self.ports.https)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabConfig:
        raw = json.loads(text)
        raw["ports"] = Ports(**raw["ports"])
        raw["internal"] = InternalPorts(**raw["internal"])
        for name in ("write_token", "read_token", "fine_grained_token"):
            tok = raw.get(name)
            if tok is None:
                continue
            raw[name] = Token(tok["value"], tuple(tok["scopes"]), tok["login"])
        return cls(**raw)


class _At:
    """A path of the lab: `name` under the folder another attribute names (the lab's root by
    default), e.g. `ca_file = _At("ca.pem", under="pki")` is `layout.pki / "ca.pem"`."""

    def __init__(self, name: str, *, under: str = "root") -> None:
        self.rel = name
        self.under = under

    def __get__(self, layout: Layout, owner: type | None = None) -> Path:
        parent: Path = getattr(layout, self.under)
        return parent / self.rel


class Layout:
    """Every path of one lab, relative to its folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve() if root.exists() else root.absolute()

    # -- top level
    config = _At("lab.json")
    site = _At("site.toml")
    env = _At("env")
    known_hosts = _At("known_hosts")
    identity = _At("id_ed25519")
    hosts_file = _At("hosts")  # an /etc/hosts naming the lab hosts (`unshare -m` + bind mount)

    # -- pki
    pki = _At("pki")
    ca_file = _At("ca.pem", under="pki")
    cert_dir = _At("certs.d", under="pki")  # the lab CA as ca.crt (skopeo --cert-dir)
    site_certs = _At("site-certs")
    site_cert = _At("ghe-chain.pem", under="site_certs")
    site_key = _At("ghe.key", under="site_certs")

    # -- admin shell
    ssh = _At("ssh")
    bin = _At("bin", under="ssh")
    sshd_config = _At("sshd_config", under="ssh")
    host_key = _At("ssh_host_ed25519_key", under="ssh")
    authorized_keys = _At("authorized_keys", under="ssh")
    home = _At("home")  # the admin user's HOME inside this lab
    # What ghes-setup keeps in the admin's HOME: its SSH configuration runs' output and exit
    # codes (`~/.ghes-setup/runs`, docs/appliance.md). Not the appliance's own state.
    tool_state = _At(".ghes-setup", under="home")

    # -- appliance data (/data/user/common on a real appliance)
    data = _At("data")
    github_conf = _At("github.conf", under="data")
    secrets_conf = _At("secrets.conf", under="data")
    config_log = _At("ghe-config.log", under="data")
    runs = _At("config-apply", under="data")
    state = _At("state")
    # The settings of the last successful config apply (what the services run with).
    applied = _At("applied.json", under="state")
    maintenance = _At("maintenance.json", under="state")

    # -- faults, processes
    faults = _At("faults")
    run = _At("run")
    lock = _At("control.lock", under="run")
    control_socket = _At("labd.sock", under="run")
    logs = _At("logs")

    def pid_file(self, part: str) -> Path:
        return self.run / f"{part}.pid"

    def log_file(self, part: str) -> Path:
        return self.logs / f"{part}.log"

    # -- front door, registry, dns, storage
    nginx = _At("nginx")
    nginx_conf = _At("nginx.conf", under="nginx")
    registry = _At("registry")
    registry_conf = _At("config.yml", under="registry")
    # The S3 server's certificate chain (the lab address as IP SAN, from the lab CA).
    storage_cert = _At("storage.pem", under="pki")
    storage_key = _At("storage.key", under="pki")
    token_key = _At("token.key", under="pki")
    token_cert = _At("token.pem", under="pki")
    storage = _At("storage")
    azurite = _At("azurite", under="storage")  # Azurite's workspace (survives a restart)

    def bucket(self, name: str) -> Path:
        """The registry's filesystem root when Packages uses Azure (distribution 2.8 as Debian
        builds it has no Azure driver) or no storage at all."""
        return self.storage / name


def load_config(layout: Layout) -> LabConfig:
    return LabConfig.from_json(layout.config.read_text(encoding="utf-8"))


def save_config(layout: Layout, config: LabConfig) -> None:
    write_private(layout.config, config.to_json())


def daemon_args(prog: str, doc: str | None, argv: list[str] | None) -> tuple[Layout, LabConfig]:
    """A lab daemon's command line (`PROG --dir DIR`): the lab's layout and configuration."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=(doc or "").splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path)
    layout = Layout(parser.parse_args(argv).dir)
    return layout, load_config(layout)


def write_private(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    """Write a file created with `mode` (never briefly world-readable), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    data = text.encode() if isinstance(text, str) else text
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@contextlib.contextmanager
def flocked(path: Path, *, flags: int, mode: int) -> Iterator[None]:
    """An exclusive flock on `path` (created with `mode`) for the block: the lab's processes
    and its shell scripts (`flock`) serialise on such files."""
    fd = os.open(path, flags | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def default_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or ".lab")
