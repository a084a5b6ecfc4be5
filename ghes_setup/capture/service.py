"""`capture()`: a read-only, redacted record of one appliance (docs/schema/capture-v1.json).

Read-only by construction: over SSH it runs `ghe-version`, `ghe-config -l` (and `-l -z`),
`ghe-config KEY` reads, `ghe-maintenance -q`, `ghe-packages-precheck --help` and reads the
status of ghes-setup's last run; over the Manage API it sends GETs only; the front door gets
GETs and TLS handshakes; DNS gets queries. It never calls `write_settings` nor `start_apply`
(a lab test counts the settings and the configuration runs before and after).
`ghe-check-blob-connection` is NOT run: it writes a test object to the storage, which is not
read-only.

Every probe is independent: a failure is recorded under `probes.<name>` (`ok: false` and a
scrubbed reason) and the others go on, so a capture of a half-broken appliance is still
written. Every secret is redacted (`redact`) before the document leaves this module.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ghes_setup import __version__, facts
from ghes_setup.appliance.selector import Connect, Mode
from ghes_setup.capture import http_probe
from ghes_setup.capture.parsers import ConfigListing, parse_config_list, parse_config_list_z
from ghes_setup.capture.redact import (
    markers_in,
    redact_config_value,
    redact_document,
    scrub_known,
    secret_text,
)
from ghes_setup.config.site import Site
from ghes_setup.errors import GhesSetupError, InputError
from ghes_setup.facts import GhesVersion
from ghes_setup.net import AddressResolver, Nameserver
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.secrets import Secret, scrub

SCHEMA_VERSION: Final = 1
KIND: Final = "ghes-setup-capture"


@dataclass(frozen=True)
class CaptureRequest:
    site: Site
    resolver: AddressResolver | None = None
    password: Secret | None = None
    token: Secret | None = None
    environ: Mapping[str, str] | None = None
    mode: Mode | None = None  # ssh | api | auto (default: the site's)


@dataclass
class CaptureResult:
    document: dict[str, Any]
    failed: list[str] = field(default_factory=list)
    redacted: int = 0


class _Recorder:
    def __init__(self, progress: ProgressSink) -> None:
        self.probes: dict[str, dict[str, Any]] = {}
        self._progress = progress

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.monotonic()
        try:
            value = fn()
        except (GhesSetupError, OSError, ValueError, KeyError, TypeError) as exc:
            reason = scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self.probes[name] = {"ok": False, "error": reason, "seconds": _secs(start)}
            return None
        self.probes[name] = {"ok": True, "seconds": _secs(start)}
        return value

    def skip(self, name: str, reason: str) -> None:
        self.probes[name] = {"ok": None, "skipped": reason}


def _secs(start: float) -> float:
    return round(time.monotonic() - start, 3)


def _value_kind(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    if redact_config_value(key, value) != value:
        return "redacted"
    low = value.strip().lower()
    if low in ("true", "false"):
        return "bool"
    if low in ("readonly", "read-only"):
        return "ecosystem-word"
    if "-----BEGIN " in value:
        return "pem"
    return "text"


def unverified_keys() -> tuple[str, ...]:
    """The ghe-config keys ghes-setup relies on without an official source."""
    return tuple(s.ghe_config_key for s in facts.SETTINGS if not s.key_verified)


def capture(request: CaptureRequest, progress: ProgressSink | None = None) -> CaptureResult:
    sink = progress or NullProgress()
    site = request.site
    rec = _Recorder(sink)
    started = dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "tool_version": __version__,
        "captured_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "hostname": site.hostname,
        "transports": [],
        "identity": {},
        "settings": None,
        "ghe_config": None,
        "unverified_keys": None,
        "last_apply": {},
        "maintenance": None,
        "utilities": {},
        "front_door": {},
        "dns": {},
    }
    # The admin transports, the front door and DNS are independent: probe them side by side
    # (each thread writes its own sections and its own probe names).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="capture") as pool:
        admin = pool.submit(_admin, rec, doc, request, sink)
        door = pool.submit(_front_door, rec, doc, request)
        names = pool.submit(_dns, rec, doc, request)
        for future in (admin, door, names):
            future.result()
    _identity_summary(doc)
    doc["probes"] = rec.probes
    held = [s.reveal() for s in (request.password, request.token) if s is not None]
    document = scrub_known(doc, held)
    failed = [n for n, p in rec.probes.items() if p.get("ok") is False]
    return CaptureResult(document, failed, markers_in(document))


def _admin(
    rec: _Recorder, doc: dict[str, Any], request: CaptureRequest, sink: ProgressSink
) -> None:
    r = request
    transport = rec.run(
        "connect", lambda: Connect(r.site, r.resolver, r.password, r.mode, r.environ).open(sink)
    )
    if transport is None:
        return
    try:
        if transport.ssh is not None:
            _over_ssh(rec, doc, transport.ssh)
            _used(rec, doc, "ssh")
        else:
            rec.skip("ssh", "no SSH key given (--identity or ssh-agent)")
        if transport.api is not None:
            _over_api(rec, doc, transport.api)
            _used(rec, doc, "api")
        else:
            rec.skip("api", "no admin password given (GHES_SETUP_ADMIN_PASSWORD)")
    finally:
        transport.close()


def _used(rec: _Recorder, doc: dict[str, Any], name: str) -> None:
    """`transports` names a transport only when one of its probes answered: an API that
    refused the password, or an SSH shell that never answered, was offered, not used."""
    if any(p.get("ok") is True for n, p in rec.probes.items() if n.startswith(f"{name}.")):
        doc["transports"].append(name)


# ---------------------------------------------------------------------------- SSH


def _over_ssh(rec: _Recorder, doc: dict[str, Any], ssh: Any) -> None:
    info = rec.run("ssh.identify", ssh.identify)
    ident = doc["identity"]
    if info is not None:
        ident["ssh"] = {
            "version": str(info.version),
            "topology": info.topology,
            "replica": info.is_replica,
        }

    def version_text() -> str:
        rc, out = ssh.run_utility(["ghe-version"])
        if rc != 0:
            raise ValueError(f"ghe-version exited {rc}")
        return str(out).strip()

    text = rec.run("ssh.ghe-version", version_text)
    if text is not None:
        ident["ghe_version_output"] = text

    def listing() -> dict[str, Any]:
        rc, out = ssh.run_utility(["ghe-config", "-l"])
        if rc != 0:
            raise ValueError(f"ghe-config -l exited {rc}")
        plain = parse_config_list(out)
        rc_z, out_z = ssh.run_utility(["ghe-config", "-l", "-z"])
        nul = parse_config_list_z(out_z) if rc_z == 0 else None
        best = nul or plain
        phantoms: list[str] = []
        if nul is None:
            best, phantoms = _settle_plain(ssh, plain)
        # Only keys that are entries: a line of a value that looked like a key is not one,
        # and its "name" may be a piece of a secret.
        multiline = sorted(k for k in {*best.multiline, *plain.multiline} if k in best.entries)
        entries = {k: redact_config_value(k, v) for k, v in sorted(best.entries.items())}
        # No secrets.* key listed: not listed, or none set? One read of a secrets.* key that
        # is set whenever Packages has storage tells (None: cannot tell).
        listed: bool | None = any(k.startswith("secrets.") for k in best.entries)
        if not listed:
            probe_key = facts.SETTINGS_BY_NAME["packages.storage_type"].ghe_config_key
            listed = False if ssh.read_keys([probe_key]).get(probe_key) is not None else None
        return {
            "entries": entries,
            "format": {
                "line_format": plain.line_format,
                "nul_separated": nul is not None,
                "secrets_listed": listed,
                "multiline_values": "continuation-lines" if plain.multiline else "none-seen",
                "multiline_keys": multiline,
                "stray_lines": plain.stray,
                "continuation_lines_like_keys": len(phantoms),
            },
        }

    doc["ghe_config"] = rec.run("ssh.ghe-config-list", listing)

    def keys() -> dict[str, Any]:
        raw = ssh.read_keys(unverified_keys())
        return {k: {"present": v is not None, "kind": _value_kind(k, v)} for k, v in raw.items()}

    doc["unverified_keys"] = rec.run("ssh.unverified-keys", keys)
    state = rec.run("ssh.maintenance", ssh.maintenance)
    if doc["maintenance"] is None and "ssh.maintenance" in rec.probes:
        doc["maintenance"] = {"active": state, "via": "ssh"}

    def precheck_help() -> dict[str, Any]:
        rc, out = ssh.run_utility(["ghe-packages-precheck", "--help"])
        text = str(out)
        found = secret_text(text)
        return {"exit": rc, "output": f"<redacted:{found}>" if found else text.strip()}

    doc["utilities"]["ghe-packages-precheck --help"] = rec.run(
        "ssh.packages-precheck-help", precheck_help
    )
    doc["utilities"]["ghe-check-blob-connection"] = {
        "not_run": "it writes a test object to the storage: not read-only"
    }

    def last_run() -> dict[str, Any]:
        status = ssh.apply_status()
        return {
            "known": status.known,
            "run_id": status.run_id,
            "running": status.running,
            "successful": status.successful,
        }

    doc["last_apply"]["ssh"] = rec.run("ssh.last-apply", last_run)


# Keys `SshTransport.read_keys` accepts (appliance/ssh.py `_check_key`): others are kept as
# listed, unchecked.
_READABLE_KEY: Final = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def _settle_plain(ssh: Any, plain: ConfigListing) -> tuple[ConfigListing, list[str]]:
    """Without -z, a multi-line value's line that looks like `key=value` cannot be told from
    an entry (a secret's second line would be kept under a harmless-looking "key"). Every
    listed key is read back with `ghe-config KEY` (one exec, read-only): its exact value
    replaces the listed one, and a "key" the appliance says is unset while the listing gave it
    text is such a line: it is dropped, its text being part of the value before it."""
    readable = [k for k in plain.entries if _READABLE_KEY.match(k)]
    exact: dict[str, str | None] = ssh.read_keys(readable) if readable else {}
    entries: dict[str, str] = {}
    phantoms: list[str] = []
    previous: str | None = None
    for key, listed in plain.entries.items():
        if key in exact and exact[key] is None and listed != "":
            phantoms.append(key)
            if previous is not None and previous not in exact:
                entries[previous] += f"\n{key}={listed}"  # an unread value: keep its text
            continue
        if key not in exact and previous is not None and redact_config_value(previous, "x") != "x":
            # Unreadable (not a plain ghe-config key name) right after a secret: it may be
            # the secret's next line. Kept with the secret, so it is redacted with it.
            phantoms.append(key)
            if previous not in exact:
                entries[previous] += f"\n{key}={listed}"
            continue
        value = exact.get(key) if key in exact else listed
        entries[key] = value if value is not None else ""
        previous = key
    multiline = tuple(k for k, v in entries.items() if "\n" in v)
    return ConfigListing(entries, plain.line_format, multiline, plain.stray), phantoms


# ---------------------------------------------------------------------------- Manage API


def _over_api(rec: _Recorder, doc: dict[str, Any], api: Any) -> None:
    def get(path: str) -> Any:
        status, body = api.get_document(path)
        if status != 200:
            raise ValueError(f"GET /manage/v1{path}: HTTP {status}")
        return body

    ident = doc["identity"]
    ident["api_version"] = rec.run("api.version", lambda: get("/version"))
    ident["nodes"] = rec.run("api.nodes", lambda: get("/config/nodes"))
    settings = rec.run("api.settings", lambda: get("/config/settings"))
    doc["settings"] = redact_document(settings) if settings is not None else None
    apply_doc = rec.run("api.apply", lambda: get("/config/apply"))
    if isinstance(apply_doc, dict):
        doc["last_apply"]["api"] = {
            "running": apply_doc.get("running"),
            "successful": apply_doc.get("successful"),
            "fields": sorted(apply_doc),
            "document": redact_document(apply_doc),
        }
    events = rec.run("api.events", lambda: get("/config/apply/events"))
    if events is not None:
        doc["last_apply"]["events_shape"] = events_shape(events)
        doc["last_apply"]["events"] = redact_document(_last_events(events))
    maintenance = rec.run("api.maintenance", lambda: get("/maintenance"))
    if maintenance is not None:
        from ghes_setup.appliance.manage_api import _maintenance_state

        doc["maintenance"] = {"active": _maintenance_state(maintenance), "via": "api"}


MAX_EVENTS_PER_NODE: Final = 20


def _last_events(events: Any) -> Any:
    """The events document as answered, each node's list cut to its last events (a run logs
    thousands on a real appliance; the parsers need a sample, not the history)."""
    if not isinstance(events, dict) or not isinstance(events.get("nodes"), list):
        return events
    nodes = []
    for node in events["nodes"]:
        if isinstance(node, dict) and isinstance(node.get("events"), list):
            node = {**node, "events": node["events"][-MAX_EVENTS_PER_NODE:]}
        nodes.append(node)
    return {**events, "nodes": nodes}


def events_shape(events: Any) -> dict[str, Any]:
    """The shape of `GET /manage/v1/config/apply/events`: field names, counts (no bodies)."""
    nodes = events.get("nodes") if isinstance(events, dict) else None
    node_fields: set[str] = set()
    event_fields: set[str] = set()
    count = 0
    for node in nodes or []:
        if isinstance(node, dict):
            node_fields.update(node)
            for event in node.get("events") or []:
                if isinstance(event, dict):
                    event_fields.update(event)
                    count += 1
    return {
        "top_fields": sorted(events) if isinstance(events, dict) else [],
        "node_fields": sorted(node_fields),
        "event_fields": sorted(event_fields),
        "events": count,
    }


def _identity_summary(doc: dict[str, Any]) -> None:
    ident = doc["identity"]
    version: str | None = None
    nodes = ident.get("api_version")
    if isinstance(nodes, list) and nodes and isinstance(nodes[0], dict):
        raw = (nodes[0].get("version") or {}).get("version")
        version = str(raw) if raw else None
    if version is None and "ssh" in ident:
        version = ident["ssh"]["version"]
    if version is None and ident.get("ghe_version_output"):
        match = facts.GHE_VERSION_PATTERN.search(ident["ghe_version_output"])
        version = match.group(1) if match else None
    ident["version"] = str(GhesVersion.parse(version)) if version else None
    topology, replica = None, None
    nodes_doc = ident.get("nodes")
    if isinstance(nodes_doc, dict) and nodes_doc.get("topology"):
        topology = str(nodes_doc["topology"])
        entries = [n for n in nodes_doc.get("nodes") or [] if isinstance(n, dict)]
        replica = bool(entries and entries[0].get("replica"))
    elif "ssh" in ident:
        topology, replica = ident["ssh"]["topology"], ident["ssh"]["replica"]
    ident["topology"] = topology
    ident["replica"] = replica


# ---------------------------------------------------------------------------- front door, DNS


def _front_door(rec: _Recorder, doc: dict[str, Any], request: CaptureRequest) -> None:
    site = request.site
    c = site.connection
    door = http_probe.FrontDoor(site.hostname, c.https_port, request.resolver, c.ca_file)
    fd = doc["front_door"]
    fd["status"] = rec.run("front-door.status", lambda: http_probe.status_page(door))
    fd["registry"] = rec.run("front-door.registry", lambda: http_probe.registry_ping(door))
    fd["rest"] = rec.run("front-door.rest", lambda: http_probe.rest_root(door))
    if request.token is not None:
        token = request.token
        fd["token"] = rec.run("front-door.token", lambda: http_probe.token_scopes(door, token))
    else:
        rec.skip("front-door.token", "no PAT given (GHES_SETUP_TOKEN)")
    certs: dict[str, Any] = {}
    for host in (site.hostname, f"{facts.CONTAINER_REGISTRY_LABEL}.{site.hostname}"):
        certs[host] = rec.run(f"tls.{host}", lambda h=host: _chain(h, request))  # type: ignore[misc]
    fd["certificates"] = certs


def _chain(host: str, request: CaptureRequest) -> list[dict[str, Any]]:
    from ghes_setup.tls.probe import ProbeFailure, fetch_chain

    c = request.site.connection
    if request.resolver is not None:
        addresses = request.resolver.addresses(host)
    else:
        import socket

        addresses = tuple({str(a[4][0]) for a in socket.getaddrinfo(host, c.https_port)})
    if not addresses:
        raise ValueError(f"no address for {host}")
    served = fetch_chain(host, str(addresses[0]), c.https_port, c.timeout)
    if isinstance(served, ProbeFailure):
        raise ValueError(f"{served.kind.value}: {served.message}")
    return [_describe_cert(cert) for cert in served.certs]


def _describe_cert(cert: Any) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = cert.public_key()
    key_type, bits = type(key).__name__, None
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits = "ECDSA", key.curve.key_size
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = sorted(sans.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = []
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "dns_names": names,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key_type": key_type,
        "key_bits": bits,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def _dns(rec: _Recorder, doc: dict[str, Any], request: CaptureRequest) -> None:
    from ghes_setup.dns.resolver import DnsResolver

    site = request.site
    servers = [Nameserver.parse(s) for s in site.connection.nameservers] or None
    resolver = DnsResolver(servers)
    version = site.ghes_version
    label = "ghes-setup-" + _random.token_hex(4)
    names = {
        "hostname": site.hostname,
        "wildcard": f"{label}.{site.hostname}",
        **{
            f"isolation.{h.split('.')[0]}": h for h in facts.isolation_hosts(site.hostname, version)
        },
    }
    answers: dict[str, Any] = {}
    for what, name in names.items():

        def look(n: str = name) -> dict[str, Any]:
            answer = resolver.lookup(n)
            if not answer.ok:
                raise ValueError(f"{n}: {answer.reason()}")
            return {"name": n, "status": answer.status.value, "addresses": list(answer.addresses)}

        answers[what] = rec.run(f"dns.{what}", look) or {"name": name, "status": "failed"}
    doc["dns"] = answers


def write_capture(path: Path, document: Mapping[str, Any]) -> None:
    import json

    from ghes_setup.files import write_file

    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    write_file(path, text.encode("utf-8"), mode=0o600, overwrite=True)


@dataclass(frozen=True, slots=True)
class CaptureWritten:
    """`ghes-setup capture`: the capture taken, written (mode 0600) to `path`."""

    result: CaptureResult
    path: Path


def refuse_unwritable(target: Path) -> None:
    """Before any probe: a capture that cannot be written to `target` is not worth taking
    (`InputError`, exit 3)."""
    problem = (
        f"the folder {target.parent} does not exist"
        if not target.parent.is_dir()
        else "is a folder"
        if target.is_dir()
        else "is a symbolic link"
        if target.is_symlink()
        else None
    )
    if problem is not None:
        raise InputError(
            f"--out {target}: {problem}",
            hint="give a file path in an existing folder, e.g. --out capture.json",
        )


def capture_to(
    request: CaptureRequest, target: Path, progress: ProgressSink | None = None
) -> CaptureWritten:
    """`capture()`, then `write_capture()` to `target`."""
    result = capture(request, progress=progress)
    write_capture(target, result.document)
    return CaptureWritten(result, target)
