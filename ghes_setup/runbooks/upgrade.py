"""The upgrade runbook: `snapshot` before, `verify` after (docs/reference/ghes-facts.md §7,
docs/runbooks/upgrade.md).

`snapshot` records what matters about a working appliance: its version, the settings the
Container registry depends on (subdomain isolation, TLS and the certificate's fingerprint,
Packages with its storage and ecosystems; never a secret), the SHA-256 fingerprint of the
certificate served for every SNI host, and what the registry's /v2/ answers. It is JSON,
written 0600, never overwritten by accident.

`verify` takes the same readings after the upgrade and compares, one result per promise:

    appliance-version    the version did not go backwards (the new one is shown)
    subdomain-isolation  still on, as before
    packages-enabled     still enabled, same storage and ecosystems
    tls-served           the same certificate is served for every host, and it verifies
    registry-ping        /v2/ still answers as a registry
    registry-smoke       a real push and pull still works (unless told not to)

Every difference is listed (`details.differences`: what, before, after) and named in the
result's summary, so the report says exactly what changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from ghes_setup import __version__, facts
from ghes_setup.appliance.plan import describe
from ghes_setup.appliance.transport import TlsNotTrusted
from ghes_setup.checks import CheckResult, Outcome, Report, Status, run_checks
from ghes_setup.checks.catalogue import CheckId, Pipeline
from ghes_setup.errors import InputError, MaterialError
from ghes_setup.facts import GhesVersion
from ghes_setup.files import read_document, write_file
from ghes_setup.packages.desired import ECOSYSTEMS, ecosystem_setting
from ghes_setup.registry.check_ping import ping
from ghes_setup.runbooks.check import pipeline_checks
from ghes_setup.runbooks.context import PipelineContext
from ghes_setup.tls.check_served import HostResult, fingerprints, judge_hosts, probe_hosts

KIND: Final = "ghes-setup upgrade snapshot"
SCHEMA_VERSION: Final = 1
# The settings a snapshot records: the `recorded` rows of facts.SETTINGS (never a secret).
RECORDED: Final = tuple(s.name for s in facts.SETTINGS if s.recorded)
PACKAGES_SETTINGS: Final = tuple(n for n in RECORDED if n.startswith("packages."))
TLS_SETTINGS: Final = tuple(n for n in RECORDED if n not in PACKAGES_SETTINGS)
ECOSYSTEM_SETTINGS: Final = frozenset(ecosystem_setting(e) for e in ECOSYSTEMS)


@dataclass(frozen=True, slots=True)
class Difference:
    what: str
    before: Any
    after: Any

    def text(self) -> str:
        return f"{self.what}: {_show(self.before)} -> {_show(self.after)}"

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "before": self.before, "after": self.after}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------- snapshot


def take_snapshot(ctx: PipelineContext, *, now: datetime | None = None) -> dict[str, Any]:
    """Read what matters from the appliance (raises GhesSetupError if it cannot be reached)."""
    return _readings(ctx, now=now)[0]


def _readings(
    ctx: PipelineContext, *, now: datetime | None = None, tolerate_appliance: bool = False
) -> tuple[dict[str, Any], Outcome]:
    """The snapshot document, and tls-served's verdict on the same probe (one probe per host).

    With `tolerate_appliance` (verify), an appliance whose Manage API answers with a certificate
    that does not verify (expired, replaced by another CA's) leaves `appliance` None and
    `appliance_error` set, and the front door and the registry are still measured: after an
    upgrade, "the certificate served has expired" is the finding, not a reason to stop. An
    appliance that does not answer at all, or refuses our credentials, still stops (exit 4)."""
    appliance: dict[str, Any] | None = None
    appliance_error: dict[str, Any] | None = None
    settings: dict[str, Any] = {}
    unreadable = list(RECORDED)
    try:
        transport = ctx.transport()
        info = transport.identify()
        names = [n for n in RECORDED if transport.supports(n)]
        current = transport.read_settings(names)
    except TlsNotTrusted as exc:
        if not tolerate_appliance:
            raise
        appliance_error = {"message": exc.message, "hint": exc.hint}
    else:
        appliance = {
            "version": str(info.version),
            "platform": info.platform,
            "topology": info.topology,
            "via": info.via,
        }
        for name in RECORDED:
            value = current.get(name)
            if value is None and name in ECOSYSTEM_SETTINGS and name in current:
                # an unset ecosystem key reads as enabled (docs/reference/ghes-facts.md §2.2)
                value = "enabled"
            settings[name] = describe(name, value) if name in current else None
        unreadable = [n for n in RECORDED if n not in current]
    probe = ctx.tls_served()
    hosts = probe_hosts(probe)
    answer = ping(ctx.registry_ping())
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "taken_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "taken_by": f"ghes-setup {__version__}",
        "hostname": ctx.site.hostname,
        "appliance": appliance,
        "settings": settings,
        "unreadable": unreadable,
        "served": fingerprints(probe, hosts),
        # Every certificate each host serves, over all its addresses (`served` keeps the
        # first address's, for schema 1's readers): a second address serving another
        # certificate is a difference too.
        "served_all": _served_all(probe.hosts, hosts),
        "registry": {
            "ok": answer.ok,
            "answer": answer.short(),
            "realm": answer.realm,
            "service": answer.service,
        },
    }
    if appliance_error is not None:
        document["appliance_error"] = appliance_error
    return document, judge_hosts(probe, hosts)


def write_snapshot(document: Mapping[str, Any], path: Path, *, force: bool = False) -> None:
    """Write 0600 from the start; an existing file is kept unless `force` (a runbook's
    "before" must not be overwritten by a second run after the upgrade)."""
    if not force and (path.exists() or path.is_symlink()):
        raise InputError(
            f"{path} already exists: it may be the snapshot taken before the upgrade",
            hint="pick another --out, or pass --force to replace it",
        )
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    write_file(path, text, overwrite=force, what="snapshot")  # 0600, atomic, no symlink


@dataclass(frozen=True, slots=True)
class SnapshotTaken:
    """`snapshot`: the document `take_snapshot` read, and where it went."""

    path: Path
    document: Mapping[str, Any]


def snapshot_to(ctx: PipelineContext, path: Path, *, force: bool = False) -> SnapshotTaken:
    """Take the snapshot (closing the context's connections) and write it to `path`."""
    try:
        document = take_snapshot(ctx)
    finally:
        ctx.close()
    write_snapshot(document, path, force=force)
    return SnapshotTaken(path, document)


def load_snapshot(path: Path) -> dict[str, Any]:
    document = read_document(
        path,
        what="upgrade snapshot",
        kind=KIND,
        schema_version=SCHEMA_VERSION,
        hint="take one with ghes-setup snapshot --site SITE --out FILE",
    )
    for key in ("hostname", "appliance", "settings", "served", "registry"):
        if key not in document:
            raise MaterialError(f"snapshot {path} lacks {key!r}")
    _check_shape(document, path)
    return document


def _check_shape(document: Mapping[str, Any], path: Path) -> None:
    """What verify reads, of the types docs/schema/snapshot-v1.json gives (an edited or
    truncated file is bad input, exit 3, before the appliance is asked anything)."""
    hint = "take a new one with ghes-setup snapshot --site SITE --out FILE"

    def bad(what: str) -> MaterialError:
        return MaterialError(f"snapshot {path}: {what}", hint=hint)

    def text_map(key: str) -> None:
        value = document.get(key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
        ):
            raise bad(f"{key!r} is not an object of texts")

    if not isinstance(document["hostname"], str):
        raise bad("'hostname' is not a text")
    appliance = document["appliance"]
    if appliance is None:
        error = document.get("appliance_error")
        why = error.get("message") if isinstance(error, dict) else None
        raise bad(
            "it holds no reading of the appliance"
            + (f" (taken while: {why})" if isinstance(why, str) else "")
            + ": it cannot prove the version, subdomain isolation or Packages"
        )
    if not isinstance(appliance, dict) or not isinstance(appliance.get("version"), str):
        raise bad("'appliance' has no version text")
    try:
        GhesVersion.parse(appliance["version"])
    except ValueError:
        raise bad(f"'appliance.version' is not a GHES version: {appliance['version']!r}") from None
    text_map("settings")
    text_map("served")
    served_all = document.get("served_all")
    if served_all is not None and not (
        isinstance(served_all, dict)
        and all(
            isinstance(v, list) and all(isinstance(f, str) for f in v) for v in served_all.values()
        )
    ):
        raise bad("'served_all' is not an object of fingerprint lists")
    registry = document["registry"]
    if not isinstance(registry, dict) or not isinstance(registry.get("answer"), (str, type(None))):
        raise bad("'registry' is not an object with an answer")
    unreadable = document.get("unreadable", [])
    if not isinstance(unreadable, list) or not all(isinstance(n, str) for n in unreadable):
        raise bad("'unreadable' is not a list of setting names")


# ---------------------------------------------------------------------------- verify


def verify(ctx: PipelineContext, before: Mapping[str, Any], *, smoke: bool = True) -> Report:
    """Compare the appliance now with the snapshot `before`; one result per promise."""
    if before["hostname"] != ctx.site.hostname:
        raise InputError(
            f"the snapshot is of {before['hostname']}, the site file of {ctx.site.hostname}",
            hint="use the snapshot and the site file of the same appliance",
        )
    try:
        after, live = _readings(ctx, tolerate_appliance=True)
        if after["appliance"] is None:
            unread = after["appliance_error"]
            results = [
                _unread(check_id, area, unread)
                for check_id, area in (
                    (CheckId.APPLIANCE_VERSION, "appliance"),
                    (CheckId.SUBDOMAIN_ISOLATION, "appliance"),
                    (CheckId.PACKAGES_ENABLED, "packages"),
                )
            ]
        else:
            results = [
                _version(before, after),
                _isolation(before, after),
                _packages(before, after),
            ]
        results += [_served(before, after, live), _registry(before, after)]
        if smoke:
            smoke_check = pipeline_checks(Pipeline.VERIFY, only=CheckId.REGISTRY_SMOKE)
            results.extend(run_checks(smoke_check, ctx))
    finally:
        ctx.close()
    return Report("verify", tuple(results), target=ctx.site.hostname)


@dataclass(frozen=True, slots=True)
class VerifyDifferences:
    """`verify`: every difference its report found (`differences`), and the snapshot it
    compared with."""

    against: Path
    differences: tuple[Mapping[str, Any], ...]
    # The report did not pass: with no difference in the readings, checks still failed.
    failing: tuple[str, ...] = ()

    @classmethod
    def of(cls, report: Report, against: Path) -> VerifyDifferences:
        failing = tuple(r.id for r in report.results if r.status in (Status.FAIL, Status.ERROR))
        return cls(against, tuple(differences(report)), failing)


def differences(report: Report) -> list[dict[str, Any]]:
    """Every difference a `verify` report found, in check order."""
    return [
        d for r in report.results for d in r.details.get("differences", []) if isinstance(d, dict)
    ]


def _result(check_id: CheckId, area: str, outcome: Outcome) -> CheckResult:
    """A promise compared: its result under the catalogue's id (a plain string in reports)."""
    return CheckResult.from_outcome(check_id.value, area, outcome)


def _unread(check_id: CheckId, area: str, error: Mapping[str, Any]) -> CheckResult:
    """A promise that could not be compared: the appliance could not be read after the upgrade."""
    return _result(
        check_id,
        area,
        Outcome.errored(
            f"could not read the appliance: {error['message']}",
            error.get("hint") or "check the connection to the appliance, then verify again",
        ),
    )


def _diffs_outcome(
    differences: Sequence[Difference], ok_summary: str, remedy: str, **details: Any
) -> Outcome:
    payload = {"differences": [d.as_dict() for d in differences], **details}
    if not differences:
        return Outcome.passed(ok_summary, details=payload)
    shown = "; ".join(d.text() for d in differences[:4])
    more = f"; and {len(differences) - 4} more" if len(differences) > 4 else ""
    noun = "difference" if len(differences) == 1 else "differences"
    return Outcome.failed(f"{len(differences)} {noun}: {shown}{more}", remedy, details=payload)


def _version(before: Mapping[str, Any], after: Mapping[str, Any]) -> CheckResult:
    old = GhesVersion.parse(before["appliance"]["version"])
    new = GhesVersion.parse(after["appliance"]["version"])
    details: dict[str, Any] = {"before": str(old), "after": str(new)}
    if new < old:
        # Going back is a difference; going up is the upgrade itself.
        details["differences"] = [Difference("GHES version", str(old), str(new)).as_dict()]
        outcome = Outcome.failed(
            f"GHES went backwards: {old} -> {new}",
            "check which release the appliance booted (a failed upgrade rolls back to the "
            "previous root partition)",
            details=details,
        )
    elif new == old:
        outcome = Outcome.passed(f"GHES {new}, as before (not upgraded)", details=details)
    else:
        outcome = Outcome.passed(f"GHES {old} -> {new}", details=details)
    return _result(CheckId.APPLIANCE_VERSION, "appliance", outcome)


def _compare(
    before: Mapping[str, Any], after: Mapping[str, Any], names: Sequence[str]
) -> list[Difference]:
    b, a = before["settings"], after["settings"]
    return [Difference(n, b.get(n), a.get(n)) for n in names if b.get(n) != a.get(n)]


def _isolation(before: Mapping[str, Any], after: Mapping[str, Any]) -> CheckResult:
    diffs = _compare(before, after, TLS_SETTINGS)
    if after["settings"].get("subdomain_isolation") != "true" and not any(
        d.what == "subdomain_isolation" for d in diffs
    ):
        diffs.insert(
            0,
            Difference("subdomain_isolation", "true", after["settings"].get("subdomain_isolation")),
        )
    outcome = _diffs_outcome(
        diffs,
        "subdomain isolation is on and TLS is as before",
        "re-apply the site: ghes-setup up --site SITE (or config apply)",
    )
    return _result(CheckId.SUBDOMAIN_ISOLATION, "appliance", outcome)


def _packages(before: Mapping[str, Any], after: Mapping[str, Any]) -> CheckResult:
    diffs = _compare(before, after, PACKAGES_SETTINGS)
    unreadable = [n for n in after.get("unreadable", []) if n in PACKAGES_SETTINGS]
    if unreadable and not diffs:
        return _result(
            CheckId.PACKAGES_ENABLED,
            "packages",
            Outcome.errored(
                "the Packages settings cannot be read without the admin SSH shell",
                "give an SSH key (site: [connection] ssh_identity)",
            ),
        )
    enabled = after["settings"].get("packages.enabled")
    outcome = _diffs_outcome(
        diffs,
        f"GitHub Packages is {'enabled' if enabled == 'true' else 'as before'}, same storage "
        "and ecosystems",
        "restore the Packages settings: ghes-setup packages enable --site SITE",
    )
    return _result(CheckId.PACKAGES_ENABLED, "packages", outcome)


def _served_all(names: Sequence[str], results: Sequence[HostResult]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {name: set() for name in names}
    for result in results:
        if result.fingerprint_sha256:
            found.setdefault(result.host, set()).add(result.fingerprint_sha256)
    return {name: sorted(prints) for name, prints in found.items()}


def _served(before: Mapping[str, Any], after: Mapping[str, Any], live: Outcome) -> CheckResult:
    old: Mapping[str, Any] = before["served"]
    new: Mapping[str, Any] = after["served"]
    # A snapshot from before `served_all` holds one fingerprint a host: every address must
    # serve that one now.
    old_all: Mapping[str, Any] = before.get("served_all") or {
        host: [value] if value else [] for host, value in old.items()
    }
    new_all: Mapping[str, Any] = after["served_all"]

    def shown(prints: Sequence[str]) -> str | None:
        return ", ".join(prints) if prints else None

    diffs = [
        Difference(
            f"certificate served for {host}",
            shown(old_all.get(host, [])),
            shown(new_all.get(host, [])),
        )
        for host in sorted(set(old) | set(new))
        if old.get(host) != new.get(host)
        or set(old_all.get(host, [])) != set(new_all.get(host, []))
    ]
    if diffs:
        outcome = _diffs_outcome(
            diffs,
            "",
            "if the certificate was meant to change, take a new snapshot; otherwise upload "
            "it again (ghes-setup up --site SITE)",
            live=live.summary,
        )
    elif live.status is not Status.PASS:
        outcome = live
    else:
        outcome = replace(
            live,
            summary=f"the same certificate is served for all {len(new)} host(s), and it "
            f"verifies ({live.summary})",
            details={**live.details, "differences": []},
        )
    return _result(CheckId.TLS_SERVED, "tls", outcome)


def _registry(before: Mapping[str, Any], after: Mapping[str, Any]) -> CheckResult:
    b, a = before["registry"], after["registry"]
    details = {"before": b.get("answer"), "after": a.get("answer"), "realm": a.get("realm")}
    if a.get("ok"):
        return _result(
            CheckId.REGISTRY_PING,
            "registry",
            Outcome.passed(
                f"containers.{after['hostname']}/v2/ answers: {a.get('answer')}", details=details
            ),
        )
    return _result(
        CheckId.REGISTRY_PING,
        "registry",
        Outcome.failed(
            f"/v2/ no longer answers as a registry: {a.get('answer')} (before: {b.get('answer')})",
            "ghes-setup registry start --site SITE (and see ghes-setup check)",
            details=details,
        ),
    )
