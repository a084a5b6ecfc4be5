"""The appliance's settings: two git-config files, the one source of truth.

A GHES appliance keeps its settings in /data/user/common/github.conf and its secrets in
secrets.conf, both in git-config syntax (docs/reference/ghes-facts.md §1.3: backup-utils' test stub
of `ghe-config` is `git config -f .../secrets.conf` for keys matching `secrets.*` and
`.../github.conf` for the rest). The lab does the same in DIR/data: the admin's `ghe-config`
(bash, over SSH), the Manage API and the apply engine all read and write these two files and
nothing else. Writes go through `git config` run as the `admin` user, so the files keep one
owner whichever side wrote last.

The keys, and which Manage API field each one is, are `facts.SETTINGS`'s (no second map
here). This module also maps the files to and from the Manage API settings document
(`GET/PUT /manage/v1/config/settings`, docs/reference/ghes-facts.md §3.4).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import pwd
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ghes_setup import facts
from ghes_setup.facts import SettingKind
from ghes_setup.lab.layout import ADMIN_USER, LabConfig, Layout

SECRETS_PREFIX = "secrets."

# ghe-config keys the lab uses: the `ghe_config_key` of each facts.SETTINGS row (one table:
# a key corrected there is corrected here). Where a key is UNVERIFIED for real GHES
# (docs/reference/ghes-facts.md §2), the row says so; the lab still needs *some* key and
# uses the row's.


def _key(setting: str) -> str:
    return facts.SETTINGS_BY_NAME[setting].ghe_config_key


HOSTNAME = _key("hostname")
PACKAGE_VERSION = facts.PACKAGE_VERSION_KEY
ISOLATION = _key("subdomain_isolation")
SSL_ENABLED = _key("tls.enabled")
SSL_CERT = _key("tls.cert")
SSL_KEY = _key("tls.key")
PACKAGES_ENABLED = _key("packages.enabled")
STORAGE_TYPE = _key("packages.storage_type")
SERVICE_URL = _key("packages.service_url")
BUCKET = _key("packages.bucket")
ACCESS_KEY = _key("packages.s3_access_key")
SECRET_KEY = _key("packages.s3_secret_key")
AZURE_CONNECTION = _key("packages.azure_connection_string")
AZURE_CONTAINER = _key("packages.azure_container")
# UNVERIFIED (unofficial Enterprise::ConfigApply::Packages): unset = enabled, "false" =
# disabled, "readonly" = read-only; falls back to secrets.packages.<eco>-enabled.
CONTAINER_ECOSYSTEM = _key("packages.ecosystems.container")

# How the lab stores and checks a Manage API field of each kind (a secret there is the TLS
# key, a PEM).
_FIELD_KINDS: Mapping[SettingKind, str] = {
    SettingKind.BOOL: "bool",
    SettingKind.STRING: "string",
    SettingKind.PEM: "pem",
    SettingKind.SECRET: "pem",
}
# Manage API fields stored under their own ghe-config key: (path in the document, key, type),
# every facts.SETTINGS row with an `api_field`.
MAPPED_FIELDS: tuple[tuple[tuple[str, ...], str, str], ...] = tuple(
    (tuple(s.api_field.split(".")), s.ghe_config_key, _FIELD_KINDS[s.kind])
    for s in facts.SETTINGS
    if s.api_field is not None
)
# Every other field of the document is stored as JSON under `manage-api.<field>.json`
# (a git-config subsection keeps the field name exactly, underscores included). Lab choice:
# the documented schema has many sections the lab does not act on; they are kept and returned.
EXTRA_SECTION = "manage-api"
# Read-only counters: computed, never stored; a PUT of them is ignored.
COMPUTED_FIELDS = ("configuration_id", "configuration_run_count")

# The documented top-level shape (manage-ghes 3.20; go-github ConfigSettings) with the values
# of a fresh appliance. Plausible defaults; the lab acts on none of them.
DEFAULT_DOCUMENT: dict[str, Any] = {
    "private_mode": False,
    "public_pages": False,
    "subdomain_isolation": False,
    "signup_enabled": False,
    "github_hostname": "",
    "identicons_host": "dotcom",
    "http_proxy": None,
    "auth_mode": "default",
    "expire_sessions": False,
    "admin_password": None,
    "configuration_id": 0,
    "configuration_run_count": 0,
    "avatar": {"enabled": False, "uri": ""},
    "customer": {
        "name": "ghes-setup lab",
        "email": "lab@example.invalid",
        "uuid": "",
        "secret_key_data": "-",
        "public_key_data": "-",
    },
    "license": {
        "seats": 0,
        "evaluation": True,
        "perpetual": False,
        "unlimited_seating": True,
        "support_key": "",
        "ssh_allowed": True,
        "cluster_support": False,
        "expire_at": "2099-01-01T00:00:00+00:00",
    },
    "github_ssl": {"enabled": True, "cert": None, "key": None},
    "ldap": {
        "host": None,
        "port": 0,
        "base": [],
        "uid": None,
        "bind_dn": None,
        "password": None,
        "method": "Plain",
        "search_strategy": "detect",
        "user_groups": [],
        "admin_group": None,
        "virtual_attribute_enabled": False,
        "recursive_group_search": False,
        "posix_support": True,
        "user_sync_emails": False,
        "user_sync_keys": False,
        "user_sync_interval": 4,
        "team_sync_interval": 4,
        "sync_enabled": False,
        "reconciliation": {"user": None, "org": None},
        "profile": {"uid": "uid", "name": None, "mail": None, "key": None},
    },
    "cas": {"url": None},
    "saml": {
        "sso_url": None,
        "certificate": None,
        "certificate_path": None,
        "issuer": None,
        "idp_initiated_sso": False,
        "disable_admin_demote": False,
    },
    # Strings the official description does not let be null: "" when unset.
    "github_oauth": {
        "client_id": "",
        "client_secret": "",
        "organization_name": "",
        "organization_team": "",
    },
    "smtp": {
        "enabled": False,
        "address": "",
        "authentication": "",
        "port": "",
        "domain": "",
        "username": "",
        "user_name": "",
        "enable_starttls_auto": False,
        "password": "",
        "discard-to-noreply-address": False,
        "support_address": "",
        "support_address_type": "email",
        "noreply_address": "",
    },
    "ntp": {"primary_server": "0.pool.ntp.org", "secondary_server": "1.pool.ntp.org"},
    "timezone": None,
    "snmp": {"enabled": False, "community": ""},
    "syslog": {"enabled": False, "server": None, "protocol_name": "udp"},
    "assets": None,
    "pages": {"enabled": True},
    "collectd": {
        "enabled": False,
        "server": None,
        "port": 0,
        "encryption": None,
        "username": None,
        "password": None,
    },
    "mapping": {"enabled": False, "tileserver": None, "basemap": "", "token": None},
    "load_balancer": None,
    "prometheus": {"enabled": False, "trusted_ips": ""},
}


class SettingsError(ValueError):
    """A settings write was refused (bad type, or a field that cannot be set this way)."""


@dataclass(frozen=True)
class GitRunner:
    """Runs `git config` on the settings files, as the admin user when we are root."""

    user: str | None

    @classmethod
    def for_lab(cls) -> GitRunner:
        if os.geteuid() != 0:
            return cls(None)
        try:
            pwd.getpwnam(ADMIN_USER)
        except KeyError:
            return cls(None)
        return cls(ADMIN_USER)

    def run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        for attempt in range(50):
            proc = subprocess.run(
                ["git", "--no-pager", "config", *args],
                capture_output=True,
                check=False,
                cwd="/",
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user else None,
                env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1"},
            )
            # Another writer (the admin's ghe-config) holds the file's lock: wait a moment.
            if proc.returncode == 0 or b"could not lock" not in proc.stderr or attempt == 49:
                break
            time.sleep(0.01)
        if check and proc.returncode != 0:
            raise SettingsError(
                f"git config {' '.join(args[:3])} failed: "
                f"{proc.stderr.decode(errors='replace').strip()}"
            )
        return proc


class SettingsStore:
    """github.conf + secrets.conf, read and written as one flat key -> value mapping."""

    def __init__(self, layout: Layout, git: GitRunner | None = None) -> None:
        self.layout = layout
        self.git = git or GitRunner.for_lab()

    def file_for(self, key: str) -> Path:
        return (
            self.layout.secrets_conf if key.startswith(SECRETS_PREFIX) else self.layout.github_conf
        )

    def read_file(self, path: Path) -> dict[str, str]:
        if not path.exists():
            return {}
        proc = self.git.run(["-f", str(path), "--list", "-z"])
        values: dict[str, str] = {}
        for item in proc.stdout.split(b"\0"):
            if not item:
                continue
            key, _, value = item.decode().partition("\n")
            values[key] = value
        return values

    def read_all(self) -> dict[str, str]:
        """Every setting, secrets included (github.conf first, then secrets.conf)."""
        return {
            **self.read_file(self.layout.github_conf),
            **self.read_file(self.layout.secrets_conf),
        }

    def get(self, key: str) -> str | None:
        proc = self.git.run(["-f", str(self.file_for(key)), "--get", key], check=False)
        return proc.stdout.decode().removesuffix("\n") if proc.returncode == 0 else None

    def set(self, key: str, value: str) -> None:
        self.git.run(["-f", str(self.file_for(key)), key, value])

    def unset(self, key: str) -> None:
        # `git config --unset` exits 5 when the key is absent: already at its default.
        self.git.run(["-f", str(self.file_for(key)), "--unset-all", key], check=False)

    def update(self, changes: Mapping[str, str | None]) -> None:
        for key, value in changes.items():
            if value is None:
                self.unset(key)
            else:
                self.set(key, value)

    def replace_all(self, values: Mapping[str, str]) -> None:
        """Make the two files hold exactly `values` (used to reset a lab)."""
        for path in (self.layout.github_conf, self.layout.secrets_conf):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")
            os.chmod(path, 0o600)
            if self.git.user:
                entry = pwd.getpwnam(self.git.user)
                os.chown(path, entry.pw_uid, entry.pw_gid)
        for key, value in values.items():
            self.set(key, value)


def fresh_settings(config: LabConfig) -> dict[str, str]:
    """A fresh appliance: hostname set, isolation off, TLS on with the appliance's own
    certificate (no cert/key configured), Packages disabled."""
    return {
        HOSTNAME: config.hostname,
        PACKAGE_VERSION: config.ghes_version,
        ISOLATION: "false",
        SSL_ENABLED: "true",
        PACKAGES_ENABLED: "false",
    }


# --------------------------------------------------------------------------- API document


def _bool(text: str | None, default: bool) -> bool:
    if text is None:
        return default
    return text.strip().lower() in ("true", "1", "yes", "on")


def _extra_key(field: str) -> str:
    return f"{EXTRA_SECTION}.{field}.json"


# Fields of the settings document that appeared in a later release (the official descriptions:
# `prometheus` first in 3.16's).
FIELDS_SINCE = {"prometheus": (3, 16)}


def to_document(
    values: Mapping[str, str],
    *,
    configuration_id: int,
    run_count: int,
    ghes_version: str | None = None,
) -> dict[str, Any]:
    """The Manage API settings document for the current files (as release `ghes_version`)."""
    doc = copy.deepcopy(DEFAULT_DOCUMENT)
    if ghes_version is not None:
        release = tuple(int(p) for p in ghes_version.split(".")[:2])
        for name, since in FIELDS_SINCE.items():
            if release < since:
                doc.pop(name, None)
    prefix = f"{EXTRA_SECTION}."
    for key, text in values.items():
        if key.startswith(prefix) and key.endswith(".json"):
            field = key[len(prefix) : -len(".json")]
            with contextlib.suppress(ValueError):
                doc[field] = json.loads(text)
    for path, key, kind in MAPPED_FIELDS:
        target = doc
        for part in path[:-1]:
            target = target.setdefault(part, {})
        default = target.get(path[-1])
        if kind == "bool":
            target[path[-1]] = _bool(values.get(key), bool(default))
        else:
            target[path[-1]] = values.get(key, default)
    doc["configuration_id"] = configuration_id
    doc["configuration_run_count"] = run_count
    doc["admin_password"] = None
    return doc


def _check_type(name: str, value: Any, kind: str) -> None:
    if kind == "bool" and not isinstance(value, bool):
        raise SettingsError(f"{name} must be a boolean")
    if kind == "string" and not isinstance(value, str):
        raise SettingsError(f"{name} must be a string")
    if kind == "pem" and value is not None and not isinstance(value, str):
        raise SettingsError(f"{name} must be a string or null")


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return patch


def document_changes(current: Mapping[str, str], patch: Mapping[str, Any]) -> dict[str, str | None]:
    """The ghe-config writes a `PUT /manage/v1/config/settings` body means: only the top-level
    fields given change, but an object given replaces the stored one, its missing fields set
    back to their defaults (the lab's reading of the description's "unmodified or populated
    from the default values": the one that hurts a client sending partial objects).

    Documented fields the lab maps go to their ghe-config keys. Any other field, documented or
    not (e.g. a `packages` object: the documented schema has no Packages fields), is kept as
    JSON under `manage-api.<field>.json` and returned by GET, but has no effect on the
    appliance: Packages is configured with ghe-config only (lab choice,
    docs/reference/ghes-facts.md §3.4).
    """
    changes: dict[str, str | None] = {}
    mapped_top = {path[0] for path, _, _ in MAPPED_FIELDS}
    for field, value in patch.items():
        if field == "admin_password":
            if value is not None:
                raise SettingsError(
                    "admin_password cannot be changed through this endpoint; "
                    "use ghe-set-password in the administrative shell"
                )
            continue
        if field in COMPUTED_FIELDS:
            continue
        if field in mapped_top:
            for path, key, kind in MAPPED_FIELDS:
                if path[0] != field:
                    continue
                if len(path) == 1:
                    sub: Any = value
                else:
                    if not isinstance(value, dict):
                        raise SettingsError(f"{field} must be an object")
                    # A field of a given object left out goes back to its default (the risky
                    # reading of "unmodified or populated from the default values").
                    default = DEFAULT_DOCUMENT.get(path[0], {}).get(path[1])
                    sub = value.get(path[1], default)
                    if path[1] not in value and sub is None:
                        changes[key] = None
                        continue
                _check_type(".".join(path), sub, kind)
                if kind == "bool":
                    changes[key] = "true" if sub else "false"
                else:
                    changes[key] = sub
            if field == "github_ssl" and isinstance(value, dict):
                extra = {k: v for k, v in value.items() if k not in ("enabled", "cert", "key")}
                changes[_extra_key("github_ssl")] = json.dumps(extra) if extra else None
            continue
        # An object replaces the stored one: its missing fields are the defaults again.
        merged = _merge(copy.deepcopy(DEFAULT_DOCUMENT.get(field)), value)
        if field in DEFAULT_DOCUMENT and merged == DEFAULT_DOCUMENT[field]:
            changes[_extra_key(field)] = None  # the default: nothing to store
            continue
        changes[_extra_key(field)] = json.dumps(merged, sort_keys=True)
    return changes
