"""An in-memory appliance implementing `ApplianceTransport`, for unit tests and the contract suite.

State-based, like backup-utils' `test/bin` stubs: it keeps settings (by ghe-config key, as the
appliance does), configuration runs and their events, and it can be told to misbehave (refuse
a value, fail the next apply at a named step, be a replica, be unreachable). It validates what
a real appliance validates (a hostname must be a domain name, PEM must be PEM) so that
"all or nothing" is observable: one bad value and nothing is written.

Like the SSH transport it can `run_utility`: `ghe-packages-precheck` and
`ghe-check-blob-connection` test against a `FakeStorage` (the storage that would accept the
credentials), every other utility is "command not found".

Nothing here touches the network; production code never uses it, but it lives in the package
so that other areas' tests can build on it.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ghes_setup import facts
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplyEvent,
    ApplyRun,
    ApplyStatus,
    EventBatch,
    Settings,
    SettingsRejected,
    SettingValue,
    TlsNotTrusted,
    TransportBase,
    check_run_id,
    decode_config,
    encode_config,
    spec,
)
from ghes_setup.errors import AuthenticationFailed, RefusedTarget, Unreachable
from ghes_setup.facts import GhesVersion

# The steps a configuration run goes through, in the words of ghe-config-apply's progress.
APPLY_STEPS: tuple[str, ...] = (
    "Preparing storage device",
    "Updating configuration",
    "Reloading system services",
    "Reloading application services",
    "Running migrations",
)

Validator = Callable[[str, str | None], str | None]  # (setting, config text) -> error or None

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def default_validator(name: str, text: str | None) -> str | None:
    """What a real appliance refuses outright (configuring-the-hostname-for-your-instance.md)."""
    if name == "hostname" and text is not None and not _HOST.match(text):
        return f"hostname {text!r} is not a domain name"
    return None


@dataclass(frozen=True)
class FakeStorage:
    """The blob storage the fake's storage utilities accept (provider s3 also covers MinIO)."""

    provider: str = "s3"  # s3 | azure
    service_url: str = ""
    bucket: str = ""
    access_key: str = ""
    secret_key: str = ""
    azure_connection_string: str = ""
    azure_container: str = ""


@dataclass
class _FakeApplyRun:
    run_id: str
    steps: tuple[str, ...]
    fail_at: str | None
    polls_left: int
    events: list[ApplyEvent] = field(default_factory=list)
    done: bool = False
    successful: bool = False


class FakeAppliance(TransportBase):
    """One fake appliance; also its own transport (`name` = "fake")."""

    def __init__(
        self,
        *,
        version: str = "3.17.2",
        hostname: str | None = "ghe.example.com",
        settings: Mapping[str, SettingValue] | None = None,
        is_replica: bool = False,
        topology: str = "SingleNode",
        apply_polls: int = 2,
        supported: Iterable[str] | None = None,
        validator: Validator = default_validator,
        storage: FakeStorage | None = None,
    ) -> None:
        self.version = GhesVersion.parse(version)
        self.is_replica = is_replica
        self.topology = topology
        self.apply_polls = apply_polls
        self._supported = frozenset(supported) if supported is not None else None
        self._validator = validator
        self._lock = threading.RLock()
        # The appliance's store: ghe-config key -> text, as github.conf/secrets.conf hold it.
        self.store: dict[str, str] = {}
        if hostname is not None:
            self.store[spec("hostname").ghe_config_key] = hostname
        for name, value in (settings or {}).items():
            text = encode_config(name, value)
            if text is not None:
                self.store[spec(name).ghe_config_key] = text
        self.runs: dict[str, _FakeApplyRun] = {}
        self.run_order: list[str] = []
        self.writes = 0  # successful write_settings calls
        self.reads = 0
        self.closed = False
        self.unreachable = False
        self.wrong_password = False
        self.tls_untrusted = False  # an API whose certificate does not verify
        self.in_maintenance: bool | None = False  # None: the fake cannot tell
        self._fail_next: str | None = None
        self.storage = storage
        self.utility_calls: list[tuple[str, ...]] = []

    # ------------------------------------------------------------------ test controls
    def fail_next_apply(self, step: str = "Reloading application services") -> None:
        """The next configuration run fails at `step` (one of APPLY_STEPS)."""
        self._fail_next = step

    def value(self, name: str) -> SettingValue:
        """Current value of a setting, decoded (for assertions)."""
        with self._lock:
            return decode_config(name, self.store.get(spec(name).ghe_config_key))

    # ------------------------------------------------------------------ protocol
    @property
    def name(self) -> str:
        return "fake"

    def supports(self, setting: str) -> bool:
        spec(setting)
        return self._supported is None or setting in self._supported

    def _reach(self) -> None:
        if self.closed:
            raise RuntimeError("transport used after close()")
        if self.unreachable:
            raise Unreachable("fake appliance: connection refused", hint="start it")
        if self.tls_untrusted:
            raise TlsNotTrusted(
                "fake appliance: TLS certificate not trusted: self-signed certificate",
                hint="pass --ca-file",
            )
        if self.wrong_password:
            raise AuthenticationFailed("fake appliance: 401 Unauthorized", hint="fix it")

    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        with self._lock:
            self._reach()
            return ApplianceInfo(
                version=self.version,
                via=self.name,
                hostname=self.store.get(spec("hostname").ghe_config_key),
                platform="fake",
                is_replica=self.is_replica,
                topology=self.topology,
            )

    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        with self._lock:
            self._reach()
            self.reads += 1
            wanted = list(names) if names is not None else self._all_names()
            for name in wanted:
                self._require_support(name)
            return Settings(
                {n: decode_config(n, self.store.get(spec(n).ghe_config_key)) for n in wanted}
            )

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        with self._lock:
            self._reach()
            staged: dict[str, str | None] = {}
            for name, value in changes.items():
                self._require_support(name)
                text = encode_config(name, value)  # type check: SettingsRejected
                problem = self._validator(name, text)
                if problem:
                    raise SettingsRejected(f"the appliance refused {name}: {problem}")
                staged[spec(name).ghe_config_key] = text
            for key, text in staged.items():  # nothing above wrote: all or nothing
                if text is None:
                    self.store.pop(key, None)
                else:
                    self.store[key] = text
            self.writes += 1

    def start_apply(self, run_id: str) -> ApplyRun:
        with self._lock:
            self._reach()
            check_run_id(run_id)
            if any(not r.done for r in self.runs.values()):
                # What the SSH and Manage API transports raise (RefusedTarget; apply wraps it
                # in ApplyFailed, exit 6).
                raise RefusedTarget("a configuration run is already in progress")
            run = _FakeApplyRun(run_id, APPLY_STEPS, self._fail_next, self.apply_polls)
            self._fail_next = None
            self.runs[run_id] = run
            self.run_order.append(run_id)
            run.events.append(ApplyEvent(f"Starting configuration run {run_id}", "INFO"))
            return ApplyRun(run_id, self.name)

    def _advance(self, run: _FakeApplyRun) -> None:
        if run.done:
            return
        if run.polls_left > 0:
            run.polls_left -= 1
            return
        for step in run.steps:
            if step == run.fail_at:
                run.events.append(ApplyEvent(f"{step} failed", "ERROR"))
                run.done, run.successful = True, False
                return
            run.events.append(ApplyEvent(f"{step}...", "INFO"))
        run.events.append(ApplyEvent("Configuration run complete", "INFO"))
        run.done, run.successful = True, True

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        with self._lock:
            self._reach()
            rid = run_id or (self.run_order[-1] if self.run_order else None)
            run = self.runs.get(rid) if rid else None
            if run is None:
                return ApplyStatus(rid, running=False, successful=False, known=False)
            self._advance(run)
            detail = next((e.body for e in reversed(run.events) if e.is_error), None)
            return ApplyStatus(
                run.run_id, running=not run.done, successful=run.successful, detail=detail
            )

    def apply_events(self, since: str | None = None) -> EventBatch:
        with self._lock:
            self._reach()
            if not self.run_order:
                return EventBatch((), since)
            run = self.runs[self.run_order[-1]]
            start = 0
            if since and since.startswith(run.run_id + ":"):
                start = int(since.rpartition(":")[2])
            events = tuple(run.events[start:])
            return EventBatch(events, f"{run.run_id}:{len(run.events)}")

    def close(self) -> None:
        self.closed = True

    def maintenance(self) -> bool | None:
        with self._lock:
            self._reach()
            return self.in_maintenance

    # ------------------------------------------------------------------ utilities (SSH only)
    def run_utility(self, argv: Sequence[str], stdin: bytes | None = None) -> tuple[int, str]:
        """Like `SshTransport.run_utility`: exit code and output of an appliance utility."""
        with self._lock:
            self._reach()
            self.utility_calls.append(tuple(argv))
            if argv[0] == "ghe-packages-precheck":
                return self._precheck(list(argv[1:]))
            if argv[0] == "ghe-check-blob-connection":
                return self._blob_check()
            return 127, f"bash: {argv[0]}: command not found\n"

    def _precheck(self, args: list[str]) -> tuple[int, str]:
        opts = {"-p": "S3", **dict(zip(args[::2], args[1::2], strict=False))}
        if "-cs" not in opts:
            return 1, "ghe-packages-precheck: -cs is required\n"
        provider = opts["-p"].lower()
        kind = next((k for k, p in _PROTOCOLS.items() if provider in p.providers), _S3)
        return self._storage_test(kind, _PROTOCOLS[kind].precheck(opts))

    def _blob_check(self) -> tuple[int, str]:
        kind = self.store.get(spec("packages.storage_type").ghe_config_key, "")
        if not kind:
            return 1, "Error: GitHub Packages blob storage is not configured\n"
        stored = {
            name: self.store.get(spec(setting).ghe_config_key, "")
            for name, setting in _STORED_FIELDS.items()
        }
        return self._storage_test(kind, stored)

    def _storage_test(self, kind: str, fields: Mapping[str, str]) -> tuple[int, str]:
        good = self.storage
        if good is None or good.provider != kind:
            return 1, f"Error: Could not connect to the {kind} storage\n"
        ok, head, failure = _PROTOCOLS.get(kind, _PROTOCOLS[_S3]).test(good, fields)
        if failure is not None:
            return 1, failure
        if not ok:
            return 1, f"{head}Error: Access Denied (Service: {kind}, Status Code: 403)\n"
        return 0, f"{head}Testing PUT object...\n{facts.BLOB_CHECK_SUCCESS}\n"

    # ------------------------------------------------------------------ helpers
    def _all_names(self) -> list[str]:
        return [s.name for s in facts.SETTINGS if self.supports(s.name)]

    def _require_support(self, name: str) -> None:
        if not self.supports(name):
            raise SettingsRejected(f"the fake transport does not handle {name}")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---------------------------------------------------------------------------- storage protocols
# What the fake's storage utilities speak, by the stored `packages.storage_type`: GHES stores
# `s3` (MinIO too) or `azure` (enabling-github-packages-with-minio.md), and its
# `ghe-packages-precheck -p` takes S3, MinIO or Azure (command-line-utilities.md). The fake
# models the appliance's utilities, which know their protocols; it cannot read ghes-setup's
# backend table (packages/backends.py: packages builds on appliance, not the reverse). A
# `-p` no protocol lists is tested as S3, as before. The storage test's fields: url, bucket,
# access, secret (S3); azure, container (Azure).

# A stored setting each field of the storage test reads (`ghe-check-blob-connection`).
_STORED_FIELDS: Final = {
    "url": "packages.service_url",
    "bucket": "packages.bucket",
    "access": "packages.s3_access_key",
    "secret": "packages.s3_secret_key",
    "azure": "packages.azure_connection_string",
    "container": "packages.azure_container",
}
# (access granted, the output's first line, an earlier failure's whole output)
_Outcome = tuple[bool, str, str | None]


def _s3_precheck(opts: Mapping[str, str]) -> dict[str, str]:
    """`-cs BucketName=...;AccessKeyId=...;SecretAccessKey=...;ServiceUrl=...`."""
    cs: dict[str, str] = {}
    for part in opts["-cs"].split(";"):
        name, _, value = part.partition("=")
        cs[name.strip().lower()] = value.strip()
    return {
        "url": cs.get("serviceurl", ""),
        "bucket": cs.get("bucketname", ""),
        "access": cs.get("accesskeyid", ""),
        "secret": cs.get("secretaccesskey", ""),
    }


def _s3_test(good: FakeStorage, fields: Mapping[str, str]) -> _Outcome:
    url = fields.get("url", "")
    if url.rstrip("/") != good.service_url.rstrip("/"):
        return False, "", f'Error: Could not connect to the endpoint URL: "{url}"\n'
    ok = _same(fields.get("access", ""), good.access_key) and _same(
        fields.get("secret", ""), good.secret_key
    )
    head = f"Testing connection to {url}...\n"
    if ok and fields.get("bucket", "") != good.bucket:
        return ok, head, f"{head}Error: NoSuchBucket: The specified bucket does not exist\n"
    return ok, head, None


def _azure_precheck(opts: Mapping[str, str]) -> dict[str, str]:
    """`-cs CONNECTION_STRING -cn CONTAINER`."""
    return {"azure": opts["-cs"], "container": opts.get("-cn", "")}


def _azure_test(good: FakeStorage, fields: Mapping[str, str]) -> _Outcome:
    ok = (
        _same(fields.get("azure", ""), good.azure_connection_string)
        and fields.get("container", "") == good.azure_container
    )
    return ok, "Testing connection to Azure Blob Storage...\n", None


@dataclass(frozen=True)
class _Protocol:
    providers: tuple[str, ...]  # the `ghe-packages-precheck -p` names, lower case
    precheck: Callable[[Mapping[str, str]], dict[str, str]]  # -cs/-cn: the test's fields
    test: Callable[[FakeStorage, Mapping[str, str]], _Outcome]


_S3: Final = "s3"
_PROTOCOLS: Final[dict[str, _Protocol]] = {
    _S3: _Protocol(("s3", "minio"), _s3_precheck, _s3_test),
    "azure": _Protocol(("azure",), _azure_precheck, _azure_test),
}
