"""Load the site file. One documented precedence: flags > GHES_SETUP_* env > file > defaults.

Every key of the TOML file can also be set by an environment variable named after its path:
`[connection] ssh_port` is `GHES_SETUP_CONNECTION_SSH_PORT`, top-level `hostname` is
`GHES_SETUP_HOSTNAME`. Lists in the environment are comma-separated; tables (`ecosystems`) are
`name=value,name=value`. Relative paths in the file are relative to the file's folder.

Secrets are not part of the site model: see `ghes_setup.secrets`. A secret-looking key in the
file (password, token, secret) is refused, so nobody commits one by accident.

Errors are one line naming where the bad value came from, exit 3: the file and the key (or
the line, for TOML syntax), the environment variable (`GHES_SETUP_CONNECTION_TIMEOUT: ...`),
or the flag (`--timeout: ...`). The site file must be a regular file of at most 1 MiB: a
device (`/dev/zero`) or a FIFO would otherwise be read without end.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import stat
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Union, get_args, get_origin, get_type_hints

from ghes_setup import facts
from ghes_setup.errors import SiteFileError
from ghes_setup.facts import GhesVersion

ENV_PREFIX = "GHES_SETUP_"
# Environment variables that are not site keys (secrets and the site path itself).
NON_SITE_ENV = frozenset(
    {
        "SITE",
        "ADMIN_PASSWORD",
        "TOKEN",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "AZURE_CONNECTION_STRING",
        "LAB_READ_TOKEN",
        "LAB_DIR",
        "LIVE_SITE",
    }
)
_SECRETISH = re.compile(r"(password|secret|token|access_key|connection_string)$")

Transport = Literal["auto", "ssh", "api"]
# The Packages storage backends a site file may name, and the [packages] keys each needs.
# Each backend's other decisions (settings, secrets, precheck, lint) are its row in
# ghes_setup/packages/backends.py; tests/unit/test_storage_backends.py holds the three to
# the same names and keys.
StorageType = Literal["s3", "minio", "azure"]
STORAGE_NEEDS: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "s3": ("bucket", "service_url"),
        "minio": ("bucket", "service_url"),
        "azure": ("azure_container",),
    }
)
# Shown when a storage's key is missing.
_NEED_HINTS: Mapping[str, str] = {
    "service_url": "the S3 endpoint, e.g. https://s3.us-west-2.amazonaws.com, or MinIO's URL",
}
EcosystemState = Literal["enabled", "read-only", "disabled"]


@dataclass(frozen=True, slots=True)
class Connection:
    address: str | None = None
    ssh_port: int = facts.ADMIN_SSH_PORT
    ssh_user: str = facts.ADMIN_SSH_USER
    ssh_identity: Path | None = None
    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    host_key: str | None = None  # a pinned "SHA256:..." fingerprint
    accept_new_host_key: bool = False
    api_port: int = facts.MANAGE_API_PORT
    # https on 8443; http on 8080 (docs "Network ports"). None: derived from api_port.
    api_scheme: Literal["https", "http"] | None = None
    allow_plain_http: bool = False  # the admin password in clear: only when asked for
    https_port: int = facts.HTTPS_PORT
    ca_file: Path | None = None
    nameservers: tuple[str, ...] = ()
    resolve: tuple[str, ...] = ()  # HOST:IP pins, like curl --resolve
    transport: Transport = "auto"
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class TlsSettings:
    cert: Path | None = None
    key: Path | None = None
    warn_days: int = 30
    crit_days: int = 7


@dataclass(frozen=True, slots=True)
class PackagesSettings:
    enabled: bool | None = None  # None: leave Packages as it is
    storage: StorageType | None = None
    service_url: str | None = None
    bucket: str | None = None
    azure_container: str | None = None
    ecosystems: Mapping[str, EcosystemState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmokeSettings:
    user: str | None = None
    namespace: str | None = None
    image: str = "ghes-setup-smoke"
    size: int = 0


@dataclass(frozen=True, slots=True)
class Site:
    hostname: str
    ghes_version: GhesVersion | None = None
    subdomain_isolation: bool = True
    connection: Connection = field(default_factory=Connection)
    tls: TlsSettings = field(default_factory=TlsSettings)
    packages: PackagesSettings = field(default_factory=PackagesSettings)
    smoke: SmokeSettings = field(default_factory=SmokeSettings)
    source: Path | None = None  # the file it came from, if any
    # Where each given value came from, by dotted key ("tls.key"): "site.toml: [tls] key",
    # "GHES_SETUP_TLS_KEY" or the flag; for messages about a file a value names.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def api_scheme(self) -> str:
        """The Manage API's scheme: as given, else http on 8080 and https on any other port."""
        c = self.connection
        if c.api_scheme is not None:
            return c.api_scheme
        return "http" if c.api_port == facts.MANAGE_API_HTTP_PORT else "https"

    @property
    def connect_host(self) -> str:
        """Where to connect: the pinned address, else the hostname."""
        return self.connection.address or self.hostname


_SECTIONS: dict[str, type[Any]] = {
    "connection": Connection,
    "tls": TlsSettings,
    "packages": PackagesSettings,
    "smoke": SmokeSettings,
}
_TOP = ("hostname", "ghes_version", "subdomain_isolation")


@dataclass(frozen=True, slots=True)
class SiteOverrides:
    """What command-line flags set in the site model: the top of the precedence
    (flags > GHES_SETUP_* env > file > defaults). A field left None (or an empty tuple) is a
    flag not given, so it does not win over the environment or the file. Values are checked
    like the file's; a bad one is blamed on its flag (`load_site(flag_names=...)`).
    """

    hostname: str | None = None
    transport: Transport | None = None
    host_key: str | None = None
    known_hosts: Path | None = None
    accept_new_host_key: bool | None = None
    ssh_identity: Path | None = None
    ssh_port: int | None = None
    ca_file: Path | None = None
    https_port: int | None = None
    nameservers: tuple[str, ...] | None = None
    resolve: tuple[str, ...] | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    warn_days: int | None = None
    crit_days: int | None = None
    smoke_user: str | None = None
    smoke_namespace: str | None = None
    smoke_image: str | None = None
    smoke_size: int | None = None

    def given(self) -> dict[str, tuple[str, Any]]:
        """The flags given: field name -> (the site key it sets, value)."""
        return {
            name: (key, value)
            for name, key in _OVERRIDE_KEYS.items()
            if (value := getattr(self, name)) is not None and value != ()
        }


# The site key (the file's `[section] name`) each `SiteOverrides` field sets.
_OVERRIDE_KEYS: Final[Mapping[str, str]] = {
    "hostname": "hostname",
    "transport": "connection.transport",
    "host_key": "connection.host_key",
    "known_hosts": "connection.known_hosts",
    "accept_new_host_key": "connection.accept_new_host_key",
    "ssh_identity": "connection.ssh_identity",
    "ssh_port": "connection.ssh_port",
    "ca_file": "connection.ca_file",
    "https_port": "connection.https_port",
    "nameservers": "connection.nameservers",
    "resolve": "connection.resolve",
    "tls_cert": "tls.cert",
    "tls_key": "tls.key",
    "warn_days": "tls.warn_days",
    "crit_days": "tls.crit_days",
    "smoke_user": "smoke.user",
    "smoke_namespace": "smoke.namespace",
    "smoke_image": "smoke.image",
    "smoke_size": "smoke.size",
}


NO_OVERRIDES: Final = SiteOverrides()


def load_site(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: SiteOverrides = NO_OVERRIDES,
    require_hostname: bool = True,
    flag_names: Mapping[str, str] | None = None,
) -> Site:
    """Build a `Site` from the file (optional), the environment, then `overrides` (flags).

    `flag_names` maps a `SiteOverrides` field to the flag that sets it (`"ssh_identity"` ->
    `"--identity"`), so an error blames the flag, not the file.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(f"{ENV_PREFIX}SITE"):
        path = Path(env[f"{ENV_PREFIX}SITE"])
    label = str(path) if path else "site"
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        path = path.expanduser()
        raw = _read_toml(path)
        base = path.resolve().parent
    values: dict[str, Any] = {}
    _flatten_file(raw, label, values)
    origins = {key: f"{label}: {_display_key(key)}" for key in values}
    for key, text in _env_values(env).items():
        values[key] = _EnvText(text)
        origins[key] = env_name(key)
    for name, (key, value) in overrides.given().items():
        values[key] = value
        origins[key] = (flag_names or {}).get(name, f"command line ({_display_key(key)})")
    return _build(values, _Origins(label, origins), base, path, require_hostname)


@dataclass(frozen=True, slots=True)
class _Origins:
    """Where each value came from, for messages: the file's key, a variable or a flag."""

    label: str
    by_key: Mapping[str, str]

    def __call__(self, key: str) -> str:
        return self.by_key.get(key, f"{self.label}: {_display_key(key)}")


class _EnvText(str):
    """A value that came from the environment as text (parsed by the field's type)."""


MAX_SITE_BYTES = 1024 * 1024  # a site file is a page of TOML; 1 MiB is generous


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SiteFileError(
                f"site file {path} is not a regular file",
                hint="give the path of a TOML file (a device, FIFO or folder cannot be one)",
            )
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_SITE_BYTES + 1)
        if len(data) > MAX_SITE_BYTES:
            raise SiteFileError(
                f"site file {path} is larger than {MAX_SITE_BYTES // 1024} KiB",
                hint="is it the right file? a site file is a short TOML document",
            )
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise SiteFileError(
            f"site file {path} does not exist", hint="pass --site FILE or set GHES_SETUP_SITE"
        ) from None
    except OSError as exc:
        raise SiteFileError(
            f"cannot read site file {path}: {exc.strerror}", hint="check the path and its mode"
        ) from None
    except UnicodeDecodeError:
        raise SiteFileError(f"{path}: not UTF-8 text", hint="save the site file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteFileError(
            f"{path}: invalid TOML: {exc}", hint="ghes-setup explain site-file shows the format"
        ) from None


def _flatten_file(raw: Mapping[str, Any], label: str, out: dict[str, Any]) -> None:
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise SiteFileError(f"{label}: [{key}] must be a table")
            names = {f.name for f in dataclasses.fields(_SECTIONS[key])}
            for sub, sub_value in value.items():
                if sub not in names:
                    raise SiteFileError(
                        f"{label}: unknown key [{key}] {sub}",
                        hint=_known_hint(key, names, sub),
                    )
                out[f"{key}.{sub}"] = sub_value
        elif key in _TOP:
            out[key] = value
        else:
            raise SiteFileError(
                f"{label}: unknown key {key!r}",
                hint=_known_hint("", set(_TOP) | set(_SECTIONS), key),
            )


def _known_hint(section: str, names: set[str], key: str) -> str:
    if _SECRETISH.search(key):
        return (
            "secrets never go in the site file: use the environment (ghes-setup explain site-file)"
        )
    where = f"[{section}]" if section else "top level"
    return f"keys allowed at {where}: {', '.join(sorted(names))}"


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    known = {k: k for k in _TOP}
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            known[f"{section}.{f.name}"] = f"{section}.{f.name}"
    by_env = {ENV_PREFIX + k.replace(".", "_").upper(): k for k in known}
    return {by_env[name]: value for name, value in env.items() if name in by_env}


def env_name(key: str) -> str:
    """`connection.ssh_port` -> `GHES_SETUP_CONNECTION_SSH_PORT` (for docs and messages)."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def _build(
    values: Mapping[str, Any],
    where: _Origins,
    base: Path,
    path: Path | None,
    require_hostname: bool,
) -> Site:
    sections: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        hints = get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            if key in values:
                kwargs[f.name] = _coerce(values[key], hints[f.name], where(key), base)
        try:
            sections[section] = cls(**kwargs)
        except (TypeError, ValueError) as exc:  # pragma: no cover - coerce catches these
            raise SiteFileError(f"{where.label}: [{section}]: {exc}") from None
    hostname = values.get("hostname")
    if hostname is None:
        if require_hostname:
            raise SiteFileError(
                f"{where.label}: no hostname given",
                hint="set hostname in the site file, GHES_SETUP_HOSTNAME, or pass it as argument",
            )
        hostname = ""
    if not isinstance(hostname, str):
        raise SiteFileError(f"{where('hostname')}: expected a string, got {hostname!r}")
    host = validate_hostname(hostname, where=where("hostname")) if hostname else ""
    parsed_version = _version(values.get("ghes_version"), where("ghes_version"))
    isolation = values.get("subdomain_isolation", True)
    isolation = _coerce(isolation, bool, where("subdomain_isolation"), base)
    site = Site(
        hostname=host,
        ghes_version=parsed_version,
        subdomain_isolation=isolation,
        source=path,
        origins=dict(where.by_key),
        **sections,
    )
    _validate(site, where)
    return site


def _version(value: Any, where: str) -> GhesVersion | None:
    if value is None:
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        # TOML reads 3.10 as the number 3.1: refuse rather than guess which was meant.
        raise SiteFileError(
            f"{where}: {value!r} is a number; GHES versions are text (3.10 as a number is 3.1)",
            hint='quote it: ghes_version = "3.10"',
        )
    if not isinstance(value, str):
        raise SiteFileError(f'{where}: expected a string like "3.17", got {value!r}')
    try:
        return GhesVersion.parse(value)
    except ValueError as exc:
        raise SiteFileError(f"{where}: {exc}") from None


def positive_seconds(value: float, where: str) -> float:
    """A timeout: a finite number of seconds above zero (NaN, infinity, 0 and below refused)."""
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise SiteFileError(
            f"{where}: {value!r} is not a timeout; give a number of seconds above 0",
            hint="e.g. 10 or 2.5",
        )
    return float(value)


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def validate_hostname(name: str, *, where: str = "hostname") -> str:
    """GHES's rules (configuring-the-hostname-for-your-instance.md): a domain name, not an IP,
    not localhost. Returns the name lower-cased without a trailing dot."""
    from ghes_setup.errors import InputError
    from ghes_setup.net import to_ascii

    hint = "use the appliance's fully qualified domain name, e.g. ghe.example.com"
    port = re.fullmatch(r"(?P<name>[^:\[\]]+):(?P<port>[0-9]*)", name.strip())
    if port:
        raise InputError(
            f"{where}: {name!r} has a port; give the host name alone",
            hint="ports go in [connection] https_port, api_port and ssh_port (or their flags)",
        )
    if "/" in name or "@" in name:
        raise InputError(f"{where}: {name!r} is not a host name (a URL?)", hint=hint)
    try:  # an internationalised name: its A-labels (punycode) are the name
        host = to_ascii(name)
    except ValueError:
        raise InputError(f"{where}: {name!r} is not a valid domain name", hint=hint) from None
    if not host:
        raise InputError(f"{where}: empty host name", hint=hint)
    if host == "localhost" or host.endswith(".localhost"):
        raise InputError(f"{where}: {name!r}: GHES does not accept localhost", hint=hint)
    if re.fullmatch(r"[0-9.]+", host) or ":" in host:
        raise InputError(f"{where}: {name!r} is an IP address, not a host name", hint=hint)
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.match(lb) for lb in labels):
        raise InputError(f"{where}: {name!r} is not a valid domain name", hint=hint)
    for label in labels:
        if label.startswith("xn--") and not _valid_a_label(label):
            raise InputError(
                f"{where}: {name!r}: {label!r} is not a valid internationalised label (A-label)",
                hint="write the name in Unicode, or copy its A-labels from your DNS zone",
            )
    if host.startswith("*."):  # pragma: no cover - caught by the label check
        raise InputError(f"{where}: give the hostname, not the wildcard", hint=hint)
    return host


def target_hostname(given: str | None, site: Site, command: str) -> str:
    """The host a command that takes an optional HOSTNAME looks at: `given` (as the caller
    checked it; not validated here), else the site file's; neither is an InputError (exit 3)
    showing `command`'s usage."""
    host = given or site.hostname
    if not host:
        from ghes_setup.errors import InputError

        raise InputError(
            "no HOSTNAME given",
            hint=f"pass it (ghes-setup {command} ghe.example.com) or use a site file with hostname",
        )
    return host


def _valid_a_label(label: str) -> bool:
    """An `xn--` label must be punycode that decodes and encodes back to itself (RFC 5890),
    by IDNA 2008 like every name here (`net.to_ascii`)."""
    from ghes_setup.net import valid_a_label

    return valid_a_label(label)


def _validate(site: Site, where: _Origins) -> None:
    conn, tls = site.connection, site.tls
    for key, port in (
        ("ssh_port", conn.ssh_port),
        ("api_port", conn.api_port),
        ("https_port", conn.https_port),
    ):
        if not 0 < port < 65536:
            raise SiteFileError(f"{where(f'connection.{key}')}: {port} is not a port (1-65535)")
    positive_seconds(conn.timeout, where("connection.timeout"))
    if conn.address is not None:
        _ip_address(conn.address, where("connection.address"))
    if conn.host_key is not None and not conn.host_key.startswith("SHA256:"):
        raise SiteFileError(
            f"{where('connection.host_key')}: must be a SHA256:... fingerprint",
            hint="ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the appliance prints it",
        )
    if tls.crit_days < 0:
        raise SiteFileError(f"{where('tls.crit_days')}: {tls.crit_days} must be >= 0")
    if tls.warn_days < tls.crit_days:
        raise SiteFileError(
            f"{where('tls.warn_days')}: warn_days ({tls.warn_days}) must be >= "
            f"crit_days ({tls.crit_days}, {where('tls.crit_days')})"
        )
    label = where.label
    if (tls.cert is None) != (tls.key is None):
        raise SiteFileError(f"{label}: [tls] cert and key go together", hint="give both or neither")
    pk = site.packages
    if pk.enabled and pk.storage is None:
        raise SiteFileError(
            f"{label}: [packages] enabled = true needs storage = {storage_choices()}"
        )
    for key in STORAGE_NEEDS.get(pk.storage or "", ()) if pk.enabled else ():
        if not getattr(pk, key):
            raise SiteFileError(
                f"{label}: [packages] storage {pk.storage!r} needs {key}",
                hint=_NEED_HINTS.get(key),
            )


def storage_choices() -> str:
    """`"s3", "minio" or "azure"`: the storage values a site file may give."""
    quoted = [f'"{name}"' for name in get_args(StorageType)]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def _ip_address(text: str, where: str) -> None:
    """`[connection] address` is an IP address: it pins the hostname and every name under it
    (docs/site-file.md); a name there would need its own lookup, which is what it replaces."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise SiteFileError(
            f"{where}: {text!r} is not an IP address",
            hint="give the appliance's IP (e.g. 10.0.0.5); to use other DNS servers set "
            "[connection] nameservers, to pin names use [connection] resolve",
        ) from None


# A number's type: what the file or variable may give for it (never a bool), its word.
_NUMBERS: dict[type, tuple[tuple[type, ...], str]] = {
    int: ((int, str), "an integer"),
    float: ((int, float, str), "a number"),
}


def _coerce(value: Any, hint: Any, where: str, base: Path) -> Any:
    """Turn a TOML value, a flag value or environment text into the field's type; `where`
    names the value's source in errors."""
    from_env = isinstance(value, _EnvText)
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None or (from_env and value == ""):
            return None
        return _coerce(value, inner[0], where, base)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise SiteFileError(f"{where}: {value!r} is not one of {allowed}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if from_env and value.lower() in ("1", "true", "yes", "on"):
            return True
        if from_env and value.lower() in ("0", "false", "no", "off"):
            return False
        raise SiteFileError(f"{where}: expected true or false, got {value!r}")
    if hint is int or hint is float:
        accepted, what = _NUMBERS[hint]
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise SiteFileError(f"{where}: expected {what}, got {value!r}")
        number: Any = hint
        try:
            return number(value)
        except ValueError:
            raise SiteFileError(f"{where}: expected {what}, got {value!r}") from None
    if hint is str:
        if not isinstance(value, str):
            raise SiteFileError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if hint is Path:
        if not isinstance(value, str | Path) or not str(value):
            raise SiteFileError(f"{where}: expected a file path, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() or from_env else base / p
    if origin is tuple:
        if from_env:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SiteFileError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    if origin is Mapping:
        if from_env:
            pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
            if any(len(p) != 2 for p in pairs):
                raise SiteFileError(f"{where}: expected name=value,name=value")
            value = {k.strip(): v.strip() for k, v in pairs}
        if not isinstance(value, dict):
            raise SiteFileError(f"{where}: expected a table, got {value!r}")
        _, value_hint = args
        return {
            str(k): _coerce(_EnvText(v) if from_env else v, value_hint, f"{where} {k}", base)
            for k, v in value.items()
        }
    raise AssertionError(f"unhandled type {hint!r} for {where}")  # pragma: no cover


def _display_key(key: str) -> str:
    section, _, name = key.partition(".")
    return f"[{section}] {name}" if name else section
