"""The apply engine: the lab's `ghe-config-apply`, behind both the admin shell and the Manage API.

One engine, one run at a time, one source of truth (the settings files). A run reads the
settings, checks them the way GHES refuses bad ones, then makes them real: the registry is
started or stopped, the front door (nginx) is re-rendered and reloaded. It takes the lab's
`apply_seconds` (a real config run takes minutes; docs/reference/ghes-facts.md §1.4), logs to
ghe-config.log, records `running`/`successful` and events (`GET /manage/v1/config/apply[/events]`),
and only on success records the settings as applied. A failed run keeps the previous front door and
registry.

Failures, each with an `[ERROR]` line in ghe-config.log and an ERROR event saying why:
- certificate and key that do not match, a non-RSA key (configuring-tls.md: RSA only),
  an encrypted key or PEM that does not parse;
- subdomain isolation on without a certificate covering *.HOSTNAME
  (enabling-subdomain-isolation.md);
- Packages enabled without blob storage, or with credentials the storage refuses
  (`Access Denied`, as GHES logs it: updating-the-credentials-for-github-actions-storage.md);
- the `apply-fail` fault: a service fails to start.

Lab choices where the documents are silent: runs are numbered by an 8-hex `run_id` (the API
example uses "d34db33f"); a `POST config/apply` with a `run_id` that already exists starts
nothing and returns that run (so a client that retries a POST cannot start two runs); a second
run while one is running is refused (API 400, a documented answer; SSH exit 1); `-f` is
accepted and every run is a full run (3.16+ conditional applies are not modelled).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ghes_setup.lab import faults, parts, state
from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import LabConfig, Layout, write_private
from ghes_setup.lab.settings import SettingsStore
from ghes_setup.lab.storage import StorageFailure, from_settings, verify

TOPOLOGY = "singlenode"  # the API example shows "multinode" for a cluster (go-github tests)


class ApplyBusy(Exception):
    def __init__(self, run: Run) -> None:
        super().__init__(f"a configuration run is already in progress (run_id {run.run_id})")
        self.run = run


class StepFailed(Exception):
    def __init__(self, message: str, *extra: str) -> None:
        super().__init__(message)
        self.extra = extra


@dataclass
class Event:
    seq: int
    timestamp: str
    severity_text: str
    body: str
    event_name: str
    span_id: str
    span_depth: int
    # Which node logged it: "" every node of the topology, "local" the lab's own node only,
    # "other" the first node that is not the lab's (the `apply-fail-node2` fault).
    node: str = ""

    def document(
        self, run: Run, hostname: str, *, topology: str = TOPOLOGY, salt: str = ""
    ) -> dict[str, Any]:
        """The event as `GET config/apply/events` lists it for node `hostname`. Every field is a
        string or an integer as the official description types them (`span_parent_id` is a
        string: "" for a run's root span)."""
        return {
            "timestamp": self.timestamp,
            "severity_text": self.severity_text,
            "body": self.body,
            "event_name": self.event_name,
            "topology": topology,
            "hostname": hostname,
            "config_run_id": run.run_id,
            "trace_id": run.trace_id,
            "span_id": self.node_span(salt),
            "span_parent_id": "" if self.span_depth == 0 else run.trace_id[:16],
            "span_depth": self.span_depth,
        }

    def node_span(self, salt: str) -> str:
        if not salt:
            return self.span_id
        return hashlib.sha256(f"{self.span_id}:{salt}".encode()).hexdigest()[:16]

    def request_id(self, run: Run, node_index: int = 1, salt: str = "") -> str:
        """Shape of the documented example, "<trace_id>:<span_id>:<16 hex>"; the lab's 16 hex
        are the node's position (2 hex) and the event's sequence number (14 hex), so a cursor
        says which node it belongs to (`last_request_id` is per node)."""
        return f"{run.trace_id}:{self.node_span(salt)}:{node_index:02x}{self.seq:014x}"


def parse_request_id(text: str) -> tuple[int, int] | None:
    """(node position, sequence) of a `last_request_id`, or None if it is not one of ours."""
    tail = text.rsplit(":", 1)[-1]
    if not re.fullmatch(r"[0-9a-f]{16}", tail):
        return None
    node, seq = int(tail[:2], 16), int(tail[2:], 16)
    return (node or 1), seq


@dataclass
class Run:
    number: int
    run_id: str
    origin: str  # setup (lab up/reset), ssh (ghe-config-apply), api (POST config/apply)
    trace_id: str
    started_at: str
    finished_at: str | None = None
    running: bool = True
    successful: bool = False
    failure: str | None = None
    events: list[Event] = field(default_factory=list)
    # Nodes other than the lab's own that failed this run ("other": `apply-fail-node2`).
    failed_nodes: list[str] = field(default_factory=list)

    def node_events(self, tag: str) -> list[Event]:
        return [e for e in self.events if e.node in ("", tag)]

    def node_successful(self, tag: str) -> bool:
        if tag == "local":
            return self.successful
        return self.successful and tag not in self.failed_nodes

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Run:
        raw = json.loads(text)
        raw["events"] = [Event(**e) for e in raw.get("events", [])]
        return cls(**raw)


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return secrets.token_hex(4)


def load_runs(layout: Layout) -> list[Run]:
    runs = []
    if layout.runs.is_dir():
        for path in sorted(layout.runs.glob("*.json")):
            try:
                runs.append(Run.from_json(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
    runs.sort(key=lambda r: r.number)
    return runs


def save_run(layout: Layout, run: Run) -> None:
    write_private(layout.runs / f"{run.number:06d}-{run.run_id}.json", run.to_json(), 0o644)


def record_setup_run(layout: Layout, hostname: str, note: str) -> Run:
    """A completed, successful run: the appliance's initial configuration (or a lab reset)."""
    runs = load_runs(layout)
    seq = max((e.seq for r in runs for e in r.events), default=0)
    now = _stamp()
    run = Run(
        number=(runs[-1].number + 1) if runs else 1,
        run_id=new_run_id(),
        origin="setup",
        trace_id=secrets.token_hex(16),
        started_at=now,
        finished_at=now,
        running=False,
        successful=True,
    )
    run.events.append(
        Event(
            seq + 1,
            now,
            "INFO",
            note,
            "Enterprise::ConfigApply::Lab#setup",
            secrets.token_hex(8),
            0,
        )
    )
    save_run(layout, run)
    _append_log(layout, run, run.events[-1])
    return run


def _append_log(layout: Layout, run: Run, event: Event) -> None:
    # Lab format (GHES's is not documented): "<ISO time> [LEVEL] (run_id) message".
    with layout.config_log.open("a", encoding="utf-8") as log:
        log.write(f"{event.timestamp} [{event.severity_text}] ({run.run_id}) {event.body}\n")


# --------------------------------------------------------------------------- validation


def validate_tls(values: dict[str, str], hostname: str) -> list[str]:
    """Return warnings; raise StepFailed for what GHES refuses."""
    warnings: list[str] = []
    isolation = state.is_true(values, keys.ISOLATION)
    enabled = state.is_true(values, keys.SSL_ENABLED)
    cert_text, key_text = values.get(keys.SSL_CERT, ""), values.get(keys.SSL_KEY, "")
    if isolation and not enabled:
        raise StepFailed("Subdomain isolation requires TLS (github-ssl.enabled is not true)")
    if not enabled:
        warnings.append("TLS is disabled in the settings; the lab keeps serving HTTPS")
        return warnings
    if bool(cert_text) != bool(key_text):
        missing = keys.SSL_KEY if cert_text else keys.SSL_CERT
        raise StepFailed(f"TLS certificate and key go together: {missing} is not set")
    if not cert_text:
        if isolation:
            raise StepFailed(
                f"Subdomain isolation requires a TLS certificate for *.{hostname}; "
                "the appliance's own certificate covers only the hostname"
            )
        return warnings
    try:
        chain = x509.load_pem_x509_certificates(cert_text.encode())
    except ValueError:
        raise StepFailed("The TLS certificate is not a valid PEM certificate chain") from None
    try:
        key = serialization.load_pem_private_key(key_text.encode(), password=None)
    except TypeError:
        raise StepFailed("The TLS key is encrypted; remove the passphrase") from None
    except ValueError:
        raise StepFailed("The TLS key is not a valid unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise StepFailed(
            f"The TLS key must be an RSA key (got {type(key).__name__.removeprefix('_')}); "
            "GHES supports RSA keys only"
        )
    leaf = chain[0]
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise StepFailed("The TLS certificate and key do not match")
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = [n.lower() for n in names.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns_names = []
    if hostname not in dns_names and f"*.{hostname.split('.', 1)[-1]}" not in dns_names:
        raise StepFailed(
            f"The TLS certificate does not cover {hostname} "
            f"(names: {', '.join(dns_names) or 'none'})"
        )
    if isolation and f"*.{hostname}" not in dns_names:
        raise StepFailed(
            f"Subdomain isolation requires a TLS certificate for *.{hostname}; "
            f"the certificate covers: {', '.join(dns_names) or 'no DNS names'}"
        )
    if leaf.not_valid_after_utc < dt.datetime.now(dt.UTC):
        warnings.append(f"The TLS certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
    return warnings


def validate_packages(values: dict[str, str]) -> list[str]:
    warnings: list[str] = []
    if not state.is_true(values, keys.PACKAGES_ENABLED):
        return warnings
    if not values.get(keys.STORAGE_TYPE):
        raise StepFailed(
            "GitHub Packages is enabled but no blob storage is configured "
            f"({keys.STORAGE_TYPE} is not set)"
        )
    if not state.is_true(values, keys.ISOLATION):
        warnings.append(
            "The Container registry needs subdomain isolation; containers.HOSTNAME is not served"
        )
    return warnings


# --------------------------------------------------------------------------- engine

Listener = Callable[[Event | None], None]


class ApplyEngine:
    """Runs config applies in a background thread, one at a time."""

    def __init__(
        self, layout: Layout, config: LabConfig, store: SettingsStore | None = None
    ) -> None:
        self.layout = layout
        self.config = config
        self.store = store or SettingsStore(layout)
        self._lock = threading.Condition()
        self._runs = load_runs(layout)
        self._seq = max((e.seq for r in self._runs for e in r.events), default=0)
        # A run left `running` by a killed labd never finishes: mark it failed.
        for run in self._runs:
            if run.running:
                run.running = False
                run.failure = "the configuration service stopped during the run"
                save_run(layout, run)

    # -- queries
    def latest(self) -> Run | None:
        with self._lock:
            return self._runs[-1] if self._runs else None

    def find(self, run_id: str) -> Run | None:
        with self._lock:
            return next((r for r in reversed(self._runs) if r.run_id == run_id), None)

    def running(self) -> Run | None:
        with self._lock:
            return next((r for r in self._runs if r.running), None)

    def run_count(self) -> int:
        with self._lock:
            return sum(1 for r in self._runs if r.origin != "setup")

    def runs(self) -> list[Run]:
        with self._lock:
            return list(self._runs)

    def events_after(
        self, last_request_id: str | None, node_index: int = 1, tag: str = "local"
    ) -> tuple[list[tuple[Run, Event]], int | None]:
        """Events of node `tag` (position `node_index`) after a cursor: every event after it
        when the cursor is this node's, else (no cursor, or another node's) the latest run's.
        Returns the events and the sequence of the cursor used (None: none)."""
        with self._lock:
            parsed = parse_request_id(last_request_id) if last_request_id else None
            after = parsed[1] if parsed is not None and parsed[0] == node_index else None
            if after is None:
                items = [(r, e) for r in self._runs[-1:] for e in r.node_events(tag)]
            else:
                items = [(r, e) for r in self._runs for e in r.node_events(tag) if e.seq > after]
            return items, after

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while any(r.running for r in self._runs):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def follow(self, run: Run, timeout: float = 3600) -> Iterator[Event]:
        """Yield the run's events as they happen, until it finishes."""
        index = 0
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                while index < len(run.events):
                    event = run.events[index]
                    index += 1
                    self._lock.release()
                    try:
                        yield event
                    finally:
                        self._lock.acquire()
                if not run.running or time.monotonic() > deadline:
                    return
                self._lock.wait(0.5)

    # -- starting
    def start(self, origin: str, run_id: str | None = None) -> tuple[Run, bool]:
        """Start a run; returns (run, started). An existing `run_id` returns that run."""
        with self._lock:
            if run_id:
                existing = next((r for r in self._runs if r.run_id == run_id), None)
                if existing is not None:
                    return existing, False
            busy = next((r for r in self._runs if r.running), None)
            if busy is not None:
                raise ApplyBusy(busy)
            run = Run(
                number=(self._runs[-1].number + 1) if self._runs else 1,
                run_id=run_id or new_run_id(),
                origin=origin,
                trace_id=secrets.token_hex(16),
                started_at=_stamp(),
            )
            self._runs.append(run)
            save_run(self.layout, run)
        thread = threading.Thread(
            target=self._execute, args=(run,), name=f"apply-{run.run_id}", daemon=True
        )
        thread.start()
        return run, True

    def add_setup_run(self, note: str) -> Run:
        with self._lock:
            run = record_setup_run(self.layout, self.config.hostname, note)
            # Appended, not reloaded from disk: a reload would put a copy of a run still going
            # in place of the object its thread finishes, and the copy would run for ever.
            self._runs.append(run)
            self._seq = max(self._seq, max((e.seq for e in run.events), default=0))
            self._lock.notify_all()
            return run

    # -- the run
    def _emit(
        self, run: Run, severity: str, body: str, phase: str, depth: int = 1, node: str = ""
    ) -> None:
        with self._lock:
            self._seq += 1
            event = Event(
                seq=self._seq,
                timestamp=_stamp(),
                severity_text=severity,
                body=body,
                event_name=f"Enterprise::ConfigApply::{phase}",
                span_id=secrets.token_hex(8),
                span_depth=depth,
                node=node,
            )
            run.events.append(event)
            save_run(self.layout, run)
            _append_log(self.layout, run, event)
            self._lock.notify_all()

    def _finish(self, run: Run, ok: bool, failure: str | None = None) -> None:
        with self._lock:
            run.running = False
            run.successful = ok
            run.failure = failure
            run.finished_at = _stamp()
            save_run(self.layout, run)
            self._lock.notify_all()

    def _pause(self, share: float) -> None:
        time.sleep(max(self.config.apply_seconds, 0.0) * share)

    def _execute(self, run: Run) -> None:
        host = self.config.hostname
        phase = "PhaseValidation#config_phase_validation"
        try:
            self._emit(run, "INFO", f"Starting configuration run {run.run_id}", "Run#start", 0)
            values = self.store.read_all()
            previous = state.read_applied(self.layout)
            self._emit(run, "INFO", "Validating configuration", phase)
            self._pause(0.15)
            configured = values.get(keys.HOSTNAME, "")
            if configured != host:
                raise StepFailed(
                    f"Changing the hostname of a configured appliance is not supported "
                    f"(core.github-hostname is {configured or 'empty'!r}, this appliance is {host})"
                )
            warnings = validate_tls(values, host) + validate_packages(values)
            for text in warnings:
                self._emit(run, "WARN", text, phase)

            phase = "PhaseStorage#config_phase_storage"
            self._emit(run, "INFO", "Preparing storage", phase)
            self._pause(0.15)
            if state.is_true(values, keys.PACKAGES_ENABLED):
                target = from_settings(values)
                if target is not None:
                    try:
                        verify(self.layout, self.config, target)
                    except StorageFailure as exc:
                        raise StepFailed(
                            "GitHub Packages blob storage check failed: "
                            + exc.lines[-1].removeprefix("Error: ")
                        ) from None

            phase = "PhaseServices#config_phase_services"
            self._emit(run, "INFO", "Reloading application services", phase)
            self._pause(0.3)
            if faults.claim(self.layout, "apply-fail", f"run {run.run_id}"):
                raise StepFailed(
                    "Reloading application services failed: github-unicorn did not become "
                    "healthy within the timeout (lab fault apply-fail)"
                )
            try:
                with state.control_lock(self.layout):
                    parts.ensure_registry(self.layout, self.config, values)
                    phase = "PhaseSystem#config_phase_system"
                    self._emit(run, "INFO", "Reloading system services", phase)
                    parts.ensure_nginx(self.layout, self.config, values)
            except parts.PartError as exc:
                with state.control_lock(self.layout):
                    parts.ensure_registry(self.layout, self.config, previous)
                raise StepFailed(str(exc)) from None
            self._pause(0.3)

            phase = "PhaseMigrations#config_phase_migrations"
            self._emit(run, "INFO", "Running database migrations", phase)
            self._pause(0.1)
            state.write_applied(self.layout, values)
            topology = state.read_topology(self.layout)
            others = len(topology.nodes(host, self.config.uuid)) > 1
            if others and faults.claim(self.layout, "apply-fail-node2", f"run {run.run_id}"):
                # The lab's node succeeded, the first other node did not: a run has succeeded
                # only when every entry of GET config/apply's nodes[] says so.
                phase = "PhaseServices#config_phase_services"
                self._emit(run, "INFO", "Configuration run complete", "Run#finish", 0, "local")
                self._emit(
                    run,
                    "ERROR",
                    "Reloading application services failed: github-unicorn did not become "
                    "healthy within the timeout (lab fault apply-fail-node2)",
                    phase,
                    1,
                    "other",
                )
                self._emit(
                    run, "ERROR", f"Configuration run {run.run_id} failed", "Run#finish", 0, "other"
                )
                with self._lock:
                    run.failed_nodes.append("other")
                self._finish(run, True)
                return
            self._emit(run, "INFO", "Configuration run complete", "Run#finish", 0)
            self._finish(run, True)
        except StepFailed as exc:
            self._emit(run, "ERROR", str(exc), phase)
            self._emit(run, "ERROR", f"Configuration run {run.run_id} failed", "Run#finish", 0)
            self._finish(run, False, str(exc))
        except Exception as exc:  # a lab bug: still finish the run, with the reason
            self._emit(run, "ERROR", f"internal error: {type(exc).__name__}: {exc}", phase)
            self._finish(run, False, f"internal error: {exc}")
