"""The lab's service functions: what `ghes-setup lab up|down|status|env|fault` call.

`up` creates a lab in DIR the first time (certificates, keys, credentials, a fresh appliance's
settings, site.toml, env), then makes sure every part runs: a part already running is left
alone, a dead one is restarted, a changed configuration is reloaded. `down` stops every process
the lab started, by PID, waits until each is gone, and removes DIR unless asked to keep it.

Errors are `GhesSetupError`s (the CLI maps them to exit codes): a missing server binary or an
unusable folder is an `InputError` (exit 3) naming the package to install or what to change.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import grp
import os
import pwd
import secrets
import shlex
import shutil
import socket
import string
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ghes_setup.errors import GhesSetupError, InputError
from ghes_setup.lab import apply, client, faults, parts, pki, procs, shell, state
from ghes_setup.lab.layout import (
    ADMIN_USER,
    DEFAULT_ADDRESS,
    DEFAULT_APPLY_SECONDS,
    DEFAULT_BUCKET,
    DEFAULT_HOSTNAME,
    DEFAULT_STORAGE,
    DEFAULT_VERSION,
    DIR_ENV,
    READABLE,
    ROOT_PORTS,
    STORAGE_KINDS,
    SUPPORTED_RELEASES,
    USER_PORTS,
    InternalPorts,
    LabConfig,
    Layout,
    Token,
    load_config,
    save_config,
    write_private,
)
from ghes_setup.lab.settings import SettingsStore, fresh_settings
from ghes_setup.packages import backends
from ghes_setup.reporting.lab import LabStatus

LAB_USER = "lab-admin"
LAB_ORG = "lab-org"


class LabError(GhesSetupError):
    """A lab part would not start, or the lab is not in the state the command needs."""


@dataclass(frozen=True)
class UpOptions:
    dir: Path
    hostname: str | None = None
    ghes_version: str | None = None
    address: str | None = None
    apply_seconds: float | None = None
    storage: str | None = None  # minio | s3 | azure: what the site file names


@dataclass
class UpResult:
    config: LabConfig
    layout: Layout
    created: bool
    started: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DownResult:
    stopped: list[tuple[str, int]]
    removed: bool
    dir: Path
    seconds: float = 0.0


# --------------------------------------------------------------------------- helpers


def _pat(prefix: str = "ghp_") -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(36))


def admin_user() -> str:
    return ADMIN_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def new_config(opts: UpOptions) -> LabConfig:
    from ghes_setup.config.site import validate_hostname

    hostname = validate_hostname(opts.hostname or DEFAULT_HOSTNAME, where="--hostname")
    version = opts.ghes_version or DEFAULT_VERSION
    parts_ = version.split(".")
    if len(parts_) != 3 or not all(p.isdigit() for p in parts_):
        raise InputError(f"--ghes-version {version!r}: expected X.Y.Z, e.g. {DEFAULT_VERSION}")
    if ".".join(parts_[:2]) not in SUPPORTED_RELEASES:
        raise InputError(
            f"--ghes-version {version}: the lab imitates GHES "
            f"{SUPPORTED_RELEASES[0]} to {SUPPORTED_RELEASES[-1]} only",
            hint=f"pick one of {', '.join(SUPPORTED_RELEASES)} (X.Y.Z, e.g. {DEFAULT_VERSION})",
        )
    address = opts.address or DEFAULT_ADDRESS
    if not address.startswith("127.") or len(address.split(".")) != 4:
        raise InputError(f"--address {address!r}: the lab lives on loopback, 127.0.0.0/8")
    seconds = DEFAULT_APPLY_SECONDS if opts.apply_seconds is None else opts.apply_seconds
    if seconds < 0 or seconds > 600:
        raise InputError(f"--apply-seconds {seconds}: expected 0 to 600")
    storage = _storage_kind(opts.storage) or DEFAULT_STORAGE
    alnum = string.ascii_uppercase + string.digits
    return LabConfig(
        hostname=hostname,
        address=address,
        ghes_version=version,
        apply_seconds=seconds,
        ports=ROOT_PORTS if os.geteuid() == 0 else USER_PORTS,
        internal=InternalPorts(),
        admin_password=secrets.token_urlsafe(18),
        write_token=Token(_pat(), ("read:packages", "write:packages", "delete:packages"), LAB_USER),
        read_token=Token(_pat(), ("read:packages",), LAB_USER),
        fine_grained_token=Token(_pat("github_pat_"), (), LAB_USER),
        user=LAB_USER,
        namespace=LAB_ORG,
        s3_access_key="LAB" + "".join(secrets.choice(alnum) for _ in range(17)),
        s3_secret_key=secrets.token_urlsafe(30),
        bucket=DEFAULT_BUCKET,
        build_date=dt.date.today().isoformat(),
        build_id=secrets.token_hex(5),
        configuration_id=secrets.randbelow(2**31),
        uuid=str(uuid.uuid4()),
        storage=storage,
        azure_key=_azure_key(),
    )


def _azure_key() -> str:
    # A storage account key is 64 random bytes, base64 (as the Azure portal shows it).
    return base64.b64encode(secrets.token_bytes(64)).decode()


def _storage_kind(given: str | None) -> str | None:
    if given is None:
        return None
    kind = given.strip().lower()
    if kind not in STORAGE_KINDS:
        raise InputError(
            f"--storage {given!r}: expected one of {', '.join(STORAGE_KINDS)}",
            hint="minio (the default) and s3 use the lab's S3 server, azure its Azurite",
        )
    return kind


def _check_binaries() -> None:
    missing = parts.missing_binaries()
    if missing:
        listing = ", ".join(f"{path} (Debian package {pkg})" for path, pkg in missing.items())
        packages = " ".join(sorted(set(missing.values())))
        raise InputError(
            f"the lab needs {listing}",
            hint=f"run scripts/install-system-deps.sh, or apt-get install {packages}",
        )
    servers = parts.missing_storage_servers()
    if servers:
        raise InputError(
            f"the lab's storage needs {', '.join(what for what, _ in servers)}",
            hint="install with: " + "; ".join(dict.fromkeys(how for _, how in servers)),
        )


def _check_traversable(root: Path) -> None:
    """The admin user must reach DIR (its commands and settings live there)."""
    if os.geteuid() != 0:
        return
    for folder in [root, *root.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            raise InputError(
                f"{folder} is not searchable by other users, so the lab's admin shell user "
                "cannot reach the lab folder",
                hint=f"chmod o+x {folder}, or use a --dir under a folder such as /tmp",
            )


def ensure_admin_user() -> None:
    """Create the system user `admin` (the admin shell's user) if missing
    (docs/reference/lab-findings.md §4)."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(ADMIN_USER)
    except KeyError:
        # -d /: sshd chdirs to the home folder; "/" exists, the per-lab HOME comes from SetEnv.
        made = subprocess.run(
            ["useradd", "-M", "-d", "/", "-s", "/bin/bash", "-p", "*", ADMIN_USER],
            check=False,
            capture_output=True,
            text=True,
        )
        try:
            pwd.getpwnam(ADMIN_USER)  # another lab may have created it at the same moment
        except KeyError:
            raise LabError(
                f"cannot create the system user {ADMIN_USER}: {made.stderr.strip()}",
                hint=f"create it: useradd -M -d / -s /bin/bash -p '*' {ADMIN_USER}",
            ) from None
        return
    # A locked password ("!") makes sshd refuse even key logins when UsePAM is off.
    with contextlib.suppress(OSError):
        for line in Path("/etc/shadow").read_text(encoding="utf-8").splitlines():
            name, _, rest = line.partition(":")
            if name == ADMIN_USER and rest.startswith("!"):
                subprocess.run(["usermod", "-p", "*", ADMIN_USER], check=True, capture_output=True)


def _chown_admin(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(ADMIN_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_site(layout: Layout, config: LabConfig) -> None:
    c = config
    text = f"""# Site file for the ghes-setup lab appliance (written by `ghes-setup lab up`).
# The desired state: isolation on, the site certificate below, Packages with the lab storage.
hostname = "{c.hostname}"
ghes_version = "{".".join(c.ghes_version.split(".")[:2])}"
subdomain_isolation = true

[connection]
address = "{c.address}"
ssh_port = {c.ports.ssh}
ssh_user = "{admin_user()}"
ssh_identity = "{layout.identity}"
known_hosts = "{layout.known_hosts}"
api_port = {c.ports.api}
https_port = {c.ports.https}
ca_file = "{layout.ca_file}"
nameservers = ["{c.address}:{c.ports.dns}"]

[tls]
cert = "{layout.site_cert}"
key = "{layout.site_key}"

[packages]
enabled = true
{_site_storage(c)}
ecosystems = {{ container = "enabled", npm = "enabled" }}

[smoke]
user = "{c.user}"
namespace = "{c.namespace}"
"""
    write_private(layout.site, text, 0o644)


# The lab's value of each site setting a backend needs (`StorageBackend.site_settings`).
_LAB_SITE_VALUES: dict[str, Callable[[LabConfig], str]] = {
    "packages.service_url": lambda c: c.service_url,
    "packages.bucket": lambda c: c.bucket,
    "packages.azure_container": lambda c: c.azure_container,
}


def _site_storage(c: LabConfig) -> str:
    """The site file's storage keys for the lab's backend (`lab up --storage`): the keys its
    row needs, with the lab's values. Its secrets are not here: `lab env` exports them."""
    backend = backends.backend(c.storage)
    lines = [f'storage = "{c.storage}"']
    lines += [f'{backend.site_key(s)} = "{_LAB_SITE_VALUES[s](c)}"' for s in backend.site_settings]
    return "\n".join(lines)


def env_vars(layout: Layout, config: LabConfig) -> dict[str, str]:
    """Exactly what `lab env` exports."""
    return {
        "GHES_SETUP_SITE": str(layout.site),
        "GHES_SETUP_ADMIN_PASSWORD": config.admin_password,
        "GHES_SETUP_TOKEN": config.write_token.value,
        "GHES_SETUP_LAB_READ_TOKEN": config.read_token.value,
        "GHES_SETUP_S3_ACCESS_KEY": config.s3_access_key,
        "GHES_SETUP_S3_SECRET_KEY": config.s3_secret_key,
        "GHES_SETUP_AZURE_CONNECTION_STRING": config.azure_connection_string,
        "GHES_SETUP_LAB_DIR": str(layout.root),
        "GHES_SETUP_CONNECTION_NAMESERVERS": f"{config.address}:{config.ports.dns}",
        "GHES_SETUP_CONNECTION_CA_FILE": str(layout.ca_file),
    }


def env_text(layout: Layout, config: LabConfig) -> str:
    lines = ['# ghes-setup lab: eval "$(ghes-setup lab env)"']
    lines += [
        f"export {name}={shlex.quote(value)}" for name, value in env_vars(layout, config).items()
    ]
    return "\n".join(lines) + "\n"


def _hosts_text(config: LabConfig) -> str:
    from ghes_setup.facts import ISOLATION_SUBDOMAINS

    names = [config.hostname, *(f"{s.label}.{config.hostname}" for s in ISOLATION_SUBDOMAINS)]
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{config.address} {name}" for name in names]
    return "\n".join(lines) + "\n"


def _known_hosts_text(layout: Layout, config: LabConfig) -> str:
    public = (layout.host_key.with_suffix(".pub")).read_text(encoding="ascii").split()
    key = f"{public[0]} {public[1]}"
    port = config.ports.ssh
    hosts = [config.address, config.hostname]
    names = ",".join(h if port == 22 else f"[{h}]:{port}" for h in hosts)
    return f"{names} {key}\n"


def _create(layout: Layout, config: LabConfig) -> None:
    root = layout.root
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, READABLE)
    for sub in (layout.run, layout.logs, layout.state, layout.ssh, layout.registry, layout.storage):
        sub.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.ssh, READABLE)
    pki.build_pki(layout, config.hostname)
    os.chmod(layout.pki, READABLE)
    os.chmod(layout.site_certs, READABLE)
    host_private, host_public = pki.ssh_keypair()
    write_private(layout.host_key, host_private)
    write_private(layout.host_key.with_suffix(".pub"), host_public + b" ghes-lab-host\n", 0o644)
    client_private, client_public = pki.ssh_keypair()
    write_private(layout.identity, client_private)
    write_private(layout.identity.with_suffix(".pub"), client_public + b" ghes-lab-admin\n", 0o644)
    write_private(layout.authorized_keys, client_public + b" ghes-lab-admin\n", 0o644)
    _chown_admin(layout.data, 0o755)
    _chown_admin(layout.faults, 0o755)
    _chown_admin(layout.home, 0o700)
    _chown_admin(layout.runs, 0o755)
    fired = layout.faults / "fired.log"
    fired.touch()
    (layout.faults / ".lock").touch()
    os.chmod(layout.faults / ".lock", 0o644)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(ADMIN_USER)
        os.chown(fired, entry.pw_uid, grp.getgrgid(entry.pw_gid).gr_gid)
    fresh = fresh_settings(config)
    SettingsStore(layout).replace_all(fresh)
    state.write_applied(layout, fresh)
    state.write_maintenance(layout, state.Maintenance())
    layout.config_log.touch()
    layout.bucket(config.bucket).mkdir(parents=True, exist_ok=True)
    apply.record_setup_run(
        layout, config.hostname, "Initial configuration of a fresh appliance (lab up)"
    )
    save_config(layout, config)


def _ports_in_use(config: LabConfig) -> list[str]:
    a, i = config.address, config.internal
    checks = [
        ("ssh", config.ports.ssh, socket.SOCK_STREAM),
        ("https", config.ports.https, socket.SOCK_STREAM),
        ("api", config.ports.api, socket.SOCK_STREAM),
        ("dns", config.ports.dns, socket.SOCK_DGRAM),
        ("web", i.web, socket.SOCK_STREAM),
        ("manage", i.manage, socket.SOCK_STREAM),
        ("token", i.token, socket.SOCK_STREAM),
        ("fault proxy", i.fault_proxy, socket.SOCK_STREAM),
        ("registry", i.registry, socket.SOCK_STREAM),
        ("S3 storage", i.storage, socket.SOCK_STREAM),
        ("Azure storage", i.azure, socket.SOCK_STREAM),
    ]
    return [
        f"{a}:{port} ({name})" for name, port, kind in checks if not procs.port_free(a, port, kind)
    ]


# --------------------------------------------------------------------------- commands


def up(opts: UpOptions) -> UpResult:
    start = time.monotonic()
    _check_binaries()
    layout = Layout(opts.dir)
    created = not layout.config.exists()
    notes: list[str] = []
    if created:
        config = new_config(opts)
        busy = _ports_in_use(config)
        if busy:
            raise LabError(
                f"ports already in use: {', '.join(busy)}",
                hint="another lab or service uses this address; pass --address 127.77.N.1",
            )
    else:
        config = load_config(layout)
        for flag, given, current in (
            ("--hostname", opts.hostname, config.hostname),
            ("--ghes-version", opts.ghes_version, config.ghes_version),
            ("--address", opts.address, config.address),
        ):
            if given is not None and given != current:
                raise InputError(
                    f"{layout.root} holds a lab with {flag} {current}, not {given}",
                    hint=f"run `ghes-setup lab down --dir {layout.root}` first, "
                    "or use another --dir",
                )
        storage = _storage_kind(opts.storage)
        if not config.azure_key:  # a lab made before the Azure storage server
            config = replace(config, azure_key=_azure_key())
            save_config(layout, config)
        if storage is not None and storage != config.storage:
            config = replace(config, storage=storage)
            save_config(layout, config)
            notes.append(f"site file: storage is now {storage}")
        if opts.apply_seconds is not None and opts.apply_seconds != config.apply_seconds:
            config = replace(config, apply_seconds=opts.apply_seconds)
            save_config(layout, config)
            notes.append("apply time changed: labd restarts to use it")
            procs.stop_pid_file(layout.pid_file("labd"), parts.marker("labd", layout))
    layout.root.mkdir(parents=True, exist_ok=True)
    _check_traversable(layout.root)
    if os.geteuid() != 0:
        notes.append(
            "not root: the lab uses high ports (SSH 2222, HTTPS 4443, DNS 5353) and the admin "
            f"shell logs in as {admin_user()}"
        )
    ensure_admin_user()
    if created:
        _create(layout, config)
    pki.ensure_storage_cert(layout, config.address)
    before = {part: parts.pid_of(layout, part) for part in parts.PARTS}
    swept = parts.sweep_orphans(layout, config)
    if swept:
        notes.append(f"stopped leftover processes of this lab: {', '.join(map(str, swept))}")
    # The storage servers take longest to start (Node loads Azurite, Python loads moto):
    # spawned first, waited for last, so they start while everything else is done.
    try:
        with state.control_lock(layout):
            s3_pid = parts.spawn_s3(layout, config)
            azure_pid = parts.spawn_azurite(layout, config)
    except parts.PartError as exc:
        raise LabError(str(exc), hint="`ghes-setup lab down` cleans up") from None
    shell.install(layout, config)
    sshd_text = parts.sshd_config(layout, config)
    if os.geteuid() != 0:
        sshd_text = sshd_text.replace(f"AllowUsers {ADMIN_USER}", f"AllowUsers {admin_user()}")
    changed_sshd = (
        not layout.sshd_config.exists()
        or layout.sshd_config.read_text(encoding="utf-8") != sshd_text
    )
    write_private(layout.sshd_config, sshd_text, 0o644)
    write_private(layout.known_hosts, _known_hosts_text(layout, config), 0o644)
    write_private(layout.hosts_file, _hosts_text(config), 0o644)
    _write_site(layout, config)
    write_private(layout.env, env_text(layout, config))

    result = UpResult(config=config, layout=layout, created=created, notes=notes)
    sshd_pid = before["sshd"]
    if changed_sshd and sshd_pid is not None:
        procs.stop(sshd_pid)
    try:
        parts.ensure_labd(layout, config)
        with state.control_lock(layout):
            applied = state.read_applied(layout)
            parts.ensure_dns(layout, config)
            parts.ensure_sshd(layout, config)
            parts.ensure_registry(layout, config, applied)
            parts.ensure_nginx(layout, config, applied)
            parts.wait_s3(layout, config, s3_pid)
            parts.ensure_s3(layout, config)
            parts.wait_azurite(layout, config, azure_pid)
            if azure_pid is not None:
                _ensure_azure_container(layout, config)
    except parts.PartError as exc:
        raise LabError(
            str(exc), hint=f"see the logs in {layout.logs}; `ghes-setup lab down` cleans up"
        ) from None
    for part in parts.PARTS:
        pid = parts.pid_of(layout, part)
        if pid is None:
            continue
        (result.running if pid == before.get(part) else result.started).append(part)
    result.seconds = time.monotonic() - start
    return result


def _ensure_azure_container(layout: Layout, config: LabConfig) -> None:
    """The lab's Azure container, made once (Azurite keeps it on disk across restarts)."""
    from ghes_setup.lab.storage import StorageFailure, create_azure_container

    made = layout.state / "azure-container"
    if made.exists() or not parts.wanted_storage(layout)[1]:
        return
    try:
        create_azure_container(config)
    except StorageFailure as exc:
        raise parts.PartError(f"cannot create the lab's Azure container: {exc}") from None
    made.write_text(config.azure_container + "\n", encoding="ascii")


def down(directory: Path, keep: bool = False) -> DownResult:
    start = time.monotonic()
    layout = Layout(directory)
    if not layout.config.exists() and not layout.run.exists():
        raise InputError(f"no lab in {layout.root}", hint="`ghes-setup lab up` creates one")
    stopped = parts.stop_all(layout)
    if layout.config.exists():
        stopped += [("leftover", pid) for pid in parts.sweep_orphans(layout, load_config(layout))]
    removed = False
    if not keep:
        shutil.rmtree(layout.root, ignore_errors=True)
        removed = not layout.root.exists()
    return DownResult(stopped, removed, layout.root, time.monotonic() - start)


def _open(directory: Path) -> tuple[Layout, LabConfig]:
    layout = Layout(directory)
    if not layout.config.exists():
        raise InputError(
            f"no lab in {layout.root}",
            hint=f"`ghes-setup lab up --dir {directory}` creates one (or set {DIR_ENV})",
        )
    return layout, load_config(layout)


def status(directory: Path) -> LabStatus:
    layout, config = _open(directory)
    a = config.address
    applied = state.read_applied(layout)
    found = []
    for part in parts.PARTS:
        pid = parts.pid_of(layout, part)
        detail = ""
        if part == "labd":
            endpoint = (
                f"{a}:{config.internal.manage} (+{config.internal.web}, {config.internal.token})"
            )
            answering = pid is not None and procs.tcp_answers(a, config.internal.manage)
        elif part == "dns":
            endpoint = f"{a}:{config.ports.dns}"
            answering = parts.dns_query(a, config.ports.dns, config.hostname) == 0
            if faults.is_active(layout, "dns-no-wildcard"):
                detail = "fault dns-no-wildcard: apex only"
        elif part == "sshd":
            endpoint = f"{a}:{config.ports.ssh}"
            answering = _ssh_banner(a, config.ports.ssh)
        elif part == "nginx":
            endpoint = f"{a}:{config.ports.https}, {a}:{config.ports.api}"
            answering = parts.served_cert(a, config.ports.https, config.hostname) is not None
            detail = f"certificate: {parts.front_door(layout, applied).cert_source}"
        elif part == "registry":
            endpoint = f"{a}:{config.internal.registry}"
            answering = pid is not None and procs.tcp_answers(a, config.internal.registry)
            if not state.registry_wanted(applied):
                detail = "not running: Packages is not enabled (applied settings)"
            else:
                uses_s3 = parts.registry_uses_s3(applied)
                detail = "blobs in the S3 server" if uses_s3 else "blobs on the filesystem"
        else:
            server = parts.STORAGE_SERVERS[part]
            port = server.port(config)
            endpoint = f"{a}:{port}"
            answering = pid is not None and procs.tcp_answers(a, port)
            served = ", ".join(b.name for b in backends.storing(part))
            detail = f"{server.server} ({served})"
            if faults.is_active(layout, "storage-down"):
                detail += "; fault storage-down"
            if faults.is_active(layout, "storage-bad-credentials"):
                detail += "; fault storage-bad-credentials"
        expected = part != "registry" or state.registry_wanted(applied)
        if part in parts.STORAGE_SERVERS and faults.is_active(layout, "storage-down"):
            expected = parts.STORAGE_SERVERS[part].runs_when_down
        found.append(
            parts.PartStatus(part, pid is not None, pid, endpoint, answering, detail, expected)
        )
    return LabStatus(config.hostname, a, tuple(found))


def _ssh_banner(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def env(directory: Path) -> str:
    layout, config = _open(directory)
    return env_text(layout, config)


def set_fault(directory: Path, name: str, count: int = 1) -> list[str]:
    layout, _ = _open(directory)
    if name not in faults.NAMES:
        raise InputError(
            f"unknown fault {name!r}", hint=f"faults: {', '.join(faults.NAMES)}, clear"
        )
    faults.set_fault(layout, name, count)
    if name in faults.LASTING:
        _reconcile(layout)
    return sorted(faults.active(layout))


def set_topology(directory: Path, name: str, replica: bool = False) -> state.Topology:
    """Make the lab present `name` (SingleNode, Ha or Cluster) in the Manage API; with
    `replica`, the node the tool talks to is a replica. `lab reset` returns to SingleNode."""
    layout, _ = _open(directory)
    value = state.Topology(name, replica)
    try:
        state.write_topology(layout, value)
    except ValueError as exc:
        raise InputError(
            str(exc),
            hint=f"topologies: {', '.join(state.TOPOLOGIES)}; --replica with Ha or Cluster",
        ) from None
    return value


def clear_faults(directory: Path) -> None:
    layout, _ = _open(directory)
    was = faults.active(layout)
    faults.clear(layout)
    if any(name in faults.LASTING for name in was):
        _reconcile(layout)


def _reconcile(layout: Layout) -> None:
    try:
        answer = client.call(layout, "lab-reconcile")
    except client.ControlError as exc:
        raise LabError(str(exc), hint="`ghes-setup lab up` restarts it") from None
    if answer.code != 0:
        raise LabError(f"the lab could not apply the fault: {answer.stderr.strip()}")
