"""A commented site file to start from (`ghes-setup init`), generated from the site model.

Every key of `config.site`'s dataclasses appears, in its section, with what it means, its
default and, when it has no default, an example; keys the admin (or the appliance, with
`init --from-appliance`) gave a value are written uncommented, the rest stay commented out
so the defaults of the loader apply. `KEY_HELP` must describe exactly the model's keys: a key
added to the model without a line here fails `render` (and the unit tests), so the template
cannot drift from what the loader accepts. Secrets have no key: the header says where each
one goes instead (the environment, a file or standard input; docs/security.md).
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from ghes_setup.config.site import Site, env_name, storage_choices
from ghes_setup.facts import GhesVersion

# section ("" for the top level) -> the dataclass holding its keys (Site's own fields that
# are not sections are the top level).
SECTIONS: Final = ("", "connection", "tls", "packages", "smoke")
_NOT_KEYS: Final = frozenset({"source", "origins", "connection", "tls", "packages", "smoke"})

# key path -> (meaning, example value for a key without a default, or None).
KEY_HELP: Final[dict[str, tuple[str, Any]]] = {
    "hostname": ("the appliance's hostname (a domain name, no port)", None),
    "ghes_version": (
        'the GHES release "X.Y"; quote it (a TOML number 3.10 reads as 3.1). Default: detected',
        "3.17",
    ),
    "subdomain_isolation": (
        "desired state of subdomain isolation (the Container registry requires it)",
        None,
    ),
    "connection.address": (
        "connect to this IP instead of resolving the hostname (pins every name under it). "
        "Default: the hostname's address",
        "10.0.0.5",
    ),
    "connection.ssh_port": ("the administrative SSH shell's port", None),
    "connection.ssh_user": ("the administrative SSH user", None),
    "connection.ssh_identity": (
        "private key for the admin shell. Default: the SSH agent, then ~/.ssh/id_*",
        "~/.ssh/ghes_admin_ed25519",
    ),
    "connection.known_hosts": (
        "known_hosts file holding the appliance's SSH host key. Default: ~/.ssh/known_hosts",
        "~/.ssh/known_hosts",
    ),
    "connection.host_key": (
        "pin the SSH host key by fingerprint instead of known_hosts",
        "SHA256:...",
    ),
    "connection.accept_new_host_key": (
        "trust an UNKNOWN host key on first use (never a changed one), like OpenSSH accept-new",
        None,
    ),
    "connection.api_port": ("Manage API / Management Console port (8443 TLS, 8080 plain)", None),
    "connection.api_scheme": (
        'how to speak to the Manage API: "https" or "http". Default: http on 8080, else https',
        "https",
    ),
    "connection.allow_plain_http": (
        "allow the Manage API over plain HTTP (the admin password in clear)",
        None,
    ),
    "connection.https_port": ("the web, REST API and registry port", None),
    "connection.ca_file": (
        "a private CA (PEM) to trust besides the system store",
        "certs/corp-root.pem",
    ),
    "connection.nameservers": (
        "resolve through these DNS servers, IP[:PORT]. Default: the system resolver",
        ["10.0.0.53"],
    ),
    "connection.resolve": ('pin names like curl --resolve: "HOST:IP", ".DOMAIN:IP"', []),
    "connection.transport": ('how settings are read and pushed: "auto", "ssh" or "api"', None),
    "connection.timeout": ("network timeout per operation, seconds", None),
    "tls.cert": (
        "the certificate bundle to install: leaf first, then intermediates",
        "certs/ghe-chain.pem",
    ),
    "tls.key": ("its unencrypted RSA private key", "certs/ghe.key"),
    "tls.warn_days": ("tls checks warn below this many days left", None),
    "tls.crit_days": ("and fail below this many", None),
    "packages.enabled": (
        "desired state of GitHub Packages. Default: unset (leave it as it is)",
        True,
    ),
    "packages.storage": (f"blob storage: {storage_choices()}", "minio"),
    "packages.service_url": ("S3 or MinIO endpoint", "https://minio.example.com:9000"),
    "packages.bucket": ("S3/MinIO bucket", "ghes-packages"),
    "packages.azure_container": ("Azure container", "ghes-packages"),
    "packages.ecosystems": (
        'per ecosystem "enabled", "read-only" or "disabled" (container, docker, npm, maven, '
        "nuget, rubygems)",
        {"container": "enabled", "npm": "enabled"},
    ),
    "smoke.user": ("the user that owns the smoke test's PAT (registry login)", "octo-admin"),
    "smoke.namespace": ("user or organisation to push the smoke image under", "octo-org"),
    "smoke.image": ("the smoke image's name", None),
    "smoke.size": ("bytes of a random layer added to the smoke image (throughput test)", None),
}

SECRETS_HEADER: Final = """\
# Secrets never go in this file (a key that looks like one is refused). Give them in the
# environment, as a file (the *_FILE variable or --password-file/--token-file), or on
# standard input (--password-stdin/--token-stdin):
#   GHES_SETUP_ADMIN_PASSWORD   the Management Console / Manage API password
#   GHES_SETUP_TOKEN            a classic PAT with write:packages (the registry smoke test)
#   GHES_SETUP_S3_ACCESS_KEY, GHES_SETUP_S3_SECRET_KEY   S3/MinIO storage for Packages
#   GHES_SETUP_AZURE_CONNECTION_STRING                   Azure storage for Packages
"""


def model_keys() -> dict[str, tuple[Any, bool]]:
    """Every key of the site model -> (its default, whether it has one), in file order."""
    keys: dict[str, tuple[Any, bool]] = {}
    for f in dataclasses.fields(Site):
        if f.name not in _NOT_KEYS:
            keys[f.name] = _default(f)
    for section in SECTIONS[1:]:
        section_type = _section_type(section)
        for f in dataclasses.fields(section_type):
            keys[f"{section}.{f.name}"] = _default(f)
    return keys


def _section_type(section: str) -> Any:
    for f in dataclasses.fields(Site):
        if f.name == section:
            return type(f.default_factory())  # type: ignore[operator]
    raise KeyError(section)


def _default(f: dataclasses.Field[Any]) -> tuple[Any, bool]:
    if f.default is not dataclasses.MISSING:
        return f.default, f.default not in (None, ())
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return value, bool(value)
    return None, False


def toml_value(value: Any) -> str:
    """One TOML value (strings JSON-quoted: a subset of TOML's basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, GhesVersion | Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def render(
    hostname: str,
    values: Mapping[str, Any] | None = None,
    *,
    notes: Mapping[str, Iterable[str]] | None = None,
    header: Iterable[str] = (),
) -> str:
    """The commented site file. `values`: key path -> value to write uncommented (e.g. what
    the appliance says); `notes`: section -> comment lines to add under its header."""
    values = dict(values or {})
    notes = notes or {}
    keys = model_keys()
    missing = set(keys) - set(KEY_HELP)
    extra = set(KEY_HELP) - set(keys)
    if missing or extra:  # a programming error: the model and this table disagree
        raise RuntimeError(f"site template out of date: missing {missing}, unknown {extra}")
    unknown = set(values) - set(keys)
    if unknown:
        raise KeyError(f"not site keys: {sorted(unknown)}")
    values["hostname"] = hostname
    out = [f"# {line}" if line else "#" for line in header]
    out += [
        "# Site file for ghes-setup. Every key is listed with its meaning and default; a key",
        "# left commented out takes its default. Precedence: command-line flags > GHES_SETUP_*",
        "# environment variables (e.g. [connection] ssh_port is GHES_SETUP_CONNECTION_SSH_PORT)",
        "# > this file > defaults. Relative paths are relative to this file's folder.",
        "#",
        *SECRETS_HEADER.rstrip("\n").splitlines(),
    ]
    for section in SECTIONS:
        out.append("")
        if section:
            out.append(f"[{section}]")
        out += [f"# {line}" for line in notes.get(section, ())]
        for key, (default, has_default) in keys.items():
            if key.split(".")[0] != section and not (section == "" and "." not in key):
                continue
            if section == "" and "." in key:
                continue
            name = key.split(".", 1)[1] if section else key
            meaning, example = KEY_HELP[key]
            shown_default = f" Default: {toml_value(default)}." if has_default else ""
            text = f"{meaning[0].upper()}{meaning[1:]}.{shown_default} Env: {env_name(key)}"
            out += textwrap.wrap(text, width=96, initial_indent="# ", subsequent_indent="#   ")
            if key in values and values[key] is not None:
                out.append(f"{name} = {toml_value(values[key])}")
            elif has_default:
                out.append(f"# {name} = {toml_value(default)}")
            elif example is not None:
                out.append(f"# {name} = {toml_value(example)}")
            else:
                out.append(f"# {name} =")
    return "\n".join(out) + "\n"
