"""Desired settings from the site file, and the typed plan: desired vs current.

A `Plan` is a list of `Change(setting, old, new)`; settings whose value already matches are
not in it, so applying the same desired state twice plans nothing (and starts no apply).
A plan also carries what is *pending* (`pending.Pending`: stored on the appliance but not
applied since a run failed or never started): a plan with no change but something pending is
not empty, and applying it starts the configuration run that applies what is stored.
Showing a plan never shows a secret: a SECRET setting is "set"/"not set" and a change is
"changed"; a PEM is shown by its certificate's subject, expiry and SHA-256 fingerprint.

`config plan` and `config apply` cover the core settings (`CORE_SCOPE`: hostname, subdomain
isolation, TLS). Packages settings are written by `packages enable`, which runs the
appliance's own storage precheck before anything is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ghes_setup import facts
from ghes_setup.appliance.pending import Pending
from ghes_setup.appliance.transport import (
    Settings,
    SettingValue,
    normalise_pem,
    same_value,
    spec,
    validate,
)
from ghes_setup.config.site import Site
from ghes_setup.errors import MaterialError
from ghes_setup.facts import SettingKind, SettingSpec
from ghes_setup.secrets import REDACTED, Secret

CORE_SCOPE: Final = ("hostname", "subdomain_isolation", "tls.enabled", "tls.cert", "tls.key")
TLS_MATERIAL: Final = frozenset({"tls.cert", "tls.key"})
PLAN_SCHEMA_VERSION: Final = 1

# configuring-the-hostname-for-your-instance.md: changing the hostname of an existing
# instance is unsupported (restore to a new instance instead).
_HOSTNAME_NOTE: Final = (
    "GitHub does not support changing the hostname of an existing instance "
    "(configuring-the-hostname-for-your-instance.md)"
)


def desired_settings(
    site: Site,
    *,
    scope: Iterable[str] = CORE_SCOPE,
    given: Mapping[str, SettingValue] | None = None,
) -> Settings:
    """What the site file asks for, limited to `scope`: one pass over `facts.SETTINGS`.

    Each row in scope takes `given[name]` when the caller derives it (the Packages storage type
    and secrets, `packages.desired`), else the site model's value at the row's `site_key` (a
    PEM or SECRET there names a file, read here: MaterialError). A row with neither, or whose
    site value is not set, is left out: ghes-setup leaves what the site does not mention.
    `tls.enabled` is derived: true when the site gives a certificate and key to install."""
    wanted = set(scope)
    values = dict(given or {})
    # The certificate and its key go together (configuring-tls.md): both, or neither.
    material = (
        site.tls.cert is not None and site.tls.key is not None and bool(wanted & TLS_MATERIAL)
    )
    if material:
        values.setdefault("tls.enabled", True)
    desired: dict[str, SettingValue] = {}
    for row in facts.SETTINGS:
        if row.name not in wanted:
            continue
        if row.name in values:
            value = values[row.name]
        elif row.site_key is not None and (material or row.name not in TLS_MATERIAL):
            value = _site_value(site, row)
        else:
            continue
        if value is not None:
            desired[row.name] = validate(row.name, value)
    return Settings(desired)


def _site_value(site: Site, row: SettingSpec) -> SettingValue:
    """The site model's value at `row.site_key` (`packages.ecosystems.npm`: a table's entry);
    a path for a PEM or SECRET setting is read (the file's text; a Secret for a SECRET)."""
    assert row.site_key is not None
    value: object = site
    for part in row.site_key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else getattr(value, part)
        if value is None:
            return None
    if isinstance(value, Path):
        section, _, key = row.site_key.rpartition(".")
        text = _read(value, f"[{section}] {key}" if section else key)
        return Secret(text, f"file {value}") if row.kind is SettingKind.SECRET else text
    assert isinstance(value, bool | str)
    return value


def _read(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MaterialError(
            f"{what} {path}: cannot read it ({exc.strerror})", hint="check the path"
        ) from None
    except UnicodeDecodeError:
        raise MaterialError(f"{what} {path}: not PEM text", hint="give a PEM file") from None
    # The bytes pushed are the bytes the TLS gate judged: a UTF-8 byte order mark (some Windows
    # editors add one) parses but breaks the appliance's certificate install, so it is dropped;
    # any other non-ASCII character has no place in PEM (RFC 7468) and is refused here.
    text = text.removeprefix("\ufeff")
    if "-----BEGIN " not in text:
        raise MaterialError(f"{what} {path}: no PEM block", hint="give a PEM file")
    if not text.isascii():
        raise MaterialError(
            f"{what} {path}: has characters that are not ASCII (PEM is ASCII text)",
            hint="save the file as plain ASCII (no byte order mark, no typographic quotes)",
        )
    return normalise_pem(text)


@dataclass(frozen=True, slots=True)
class Change:
    setting: str
    old: SettingValue
    new: SettingValue
    note: str | None = None

    @property
    def kind(self) -> SettingKind:
        return spec(self.setting).kind

    @property
    def sensitive(self) -> bool:
        return self.kind is SettingKind.SECRET

    @property
    def old_text(self) -> str:
        return describe(self.setting, self.old)

    @property
    def new_text(self) -> str:
        if self.sensitive:
            return (
                "changed"
                if self.old is not None and self.new is not None
                else (describe(self.setting, self.new))
            )
        return describe(self.setting, self.new)


@dataclass(frozen=True, slots=True)
class Plan:
    """Desired vs current for one appliance. `current` and `desired` cover the same names."""

    host: str
    current: Settings
    desired: Settings
    changes: tuple[Change, ...]
    pending: Pending | None = None

    @property
    def empty(self) -> bool:
        """Nothing to write and nothing stored-but-unapplied: the appliance matches."""
        return not self.changes and self.pending is None

    @property
    def needs_run(self) -> bool:
        """A configuration run is due: changes to write, or pending settings to apply."""
        return bool(self.changes) or (self.pending is not None and self.pending.actionable)

    @property
    def hostname_change(self) -> Change | None:
        """A change of a configured hostname (unsupported by GHES; `apply` refuses it)."""
        return next((c for c in self.changes if c.setting == "hostname" and c.old), None)

    @property
    def changed_names(self) -> tuple[str, ...]:
        return tuple(c.setting for c in self.changes)

    def touches(self, names: Iterable[str]) -> bool:
        wanted = set(names)
        return any(c.setting in wanted for c in self.changes)

    def target(self) -> dict[str, SettingValue]:
        """The values to write."""
        return {c.setting: c.new for c in self.changes}


def make_plan(
    host: str,
    desired: Mapping[str, SettingValue],
    current: Settings,
    pending: Pending | None = None,
) -> Plan:
    changes: list[Change] = []
    for name, new in desired.items():
        if name not in current:
            raise KeyError(f"current value of {name} was not read")
        old = current[name]
        if same_value(name, old, new):
            continue
        note = _HOSTNAME_NOTE if name == "hostname" and old else None
        changes.append(Change(name, old, new, note))
    return Plan(host, current.subset(desired), Settings(desired), tuple(changes), pending)


# ---------------------------------------------------------------------------- presentation


def describe(name: str, value: SettingValue) -> str:
    """A value as it may be shown: secrets never, PEM by what it is."""
    kind = spec(name).kind
    if value is None:
        return "(not set)"
    if kind is SettingKind.SECRET:
        return f"(set, {REDACTED})"
    if kind is SettingKind.BOOL:
        return "true" if value else "false"
    if kind is SettingKind.PEM and isinstance(value, str):
        return describe_pem(value)
    return str(value)


def describe_pem(text: str) -> str:
    """`CN=ghe.example.com, expires 2027-01-01, 2 certs, sha256 AB:CD:..` (leaf first)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        certs = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        digest = hashlib.sha256(normalise_pem(text).encode()).hexdigest()[:16]
        return f"PEM (not a certificate), sha256 {digest}"
    leaf = certs[0]
    subject = leaf.subject.rfc4514_string() or "(no subject)"
    fp = leaf.fingerprint(hashes.SHA256()).hex().upper()
    short = ":".join(fp[i : i + 2] for i in range(0, 16, 2))
    chain = f", {len(certs)} certs" if len(certs) > 1 else ""
    return f"{subject}, expires {leaf.not_valid_after_utc:%Y-%m-%d}{chain}, sha256 {short}.."


def settings_document(settings: Settings) -> dict[str, Any]:
    """Settings for JSON output: secrets as {"set": bool}, PEM as its description."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        kind = spec(name).kind
        if kind is SettingKind.SECRET:
            out[name] = {"set": value is not None}
        elif kind is SettingKind.PEM and isinstance(value, str):
            out[name] = describe_pem(value)
        else:
            out[name] = value
    return out


def plan_document(plan: Plan) -> dict[str, Any]:
    return {
        "schema_version": PLAN_SCHEMA_VERSION,
        "host": plan.host,
        "changes": [
            {
                "setting": c.setting,
                "sensitive": c.sensitive,
                "old": c.old_text,
                "new": c.new_text,
                **({"note": c.note} if c.note else {}),
            }
            for c in plan.changes
        ],
        "unchanged": [n for n in plan.desired if n not in plan.changed_names],
        "pending": pending_document(plan.pending),
    }


def pending_document(pending: Pending | None) -> dict[str, Any] | None:
    if pending is None:
        return None
    return {
        "summary": pending.summary,
        "run_id": pending.run_id,
        "step": pending.step,
        "settings": list(pending.names),
        "known": pending.known,
        "running": pending.running,
        "snapshot": str(pending.snapshot) if pending.snapshot else None,
    }
