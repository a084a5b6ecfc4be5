"""`lab up --from-capture`: a lab that starts as a captured appliance, to rehearse on loopback.

From a capture (`ghes-setup capture`, docs/schema/capture-v1.json) the lab takes: the GHES
version and hostname (the lab's DNS serves that name on its loopback address only: nothing
outside the lab's tools resolves it differently), the topology as far as the lab models it
(SingleNode, Ha, Cluster, replica), every `ghe-config` setting that is not a secret (or, from
an API-only capture, the Manage API settings, and Packages on with the lab's storage when
the registry answered with a Bearer challenge: Packages has no Manage API field), isolation, TLS
and Packages state, maintenance
mode. It then runs one configuration run with the lab's engine so that the front door is the
captured one.

What cannot be copied is replaced, and listed in the result's notes:
- redacted secrets: the TLS key goes with the lab's own certificate for HOSTNAME (the captured
  certificate's key is not in the capture), storage keys become the lab storage's, the admin
  password and PATs are the lab's fresh ones (all printed by `lab env`);
- addresses: the storage service URL becomes the lab storage's;
- the observed `ghe-config -l` format is imitated where the lab's ghe-config can (no `-z`,
  secrets not listed: DIR/state/ghe-config-list); another line format is reported only.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ghes_setup.capture.redact import is_marker
from ghes_setup.capture.verify import load_capture
from ghes_setup.errors import InputError
from ghes_setup.lab import client, state
from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import DEFAULT_STORAGE, LabConfig, Layout
from ghes_setup.lab.service import UpOptions, UpResult, down, up
from ghes_setup.lab.settings import SettingsStore, fresh_settings
from ghes_setup.packages import backends


@dataclass
class FromCaptureResult:
    up: UpResult
    replaced: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _version(capture: dict[str, Any]) -> str:
    text = (capture.get("identity") or {}).get("version")
    if not isinstance(text, str) or not text:
        raise InputError(
            "the capture does not say the GHES version (no version probe succeeded)",
            hint="capture again over SSH or the Manage API",
        )
    parts = text.split(".")
    return ".".join(([*parts, "0"])[:3])


def _strip_markers(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_markers(v) for k, v in node.items() if not is_marker(v)}
    if isinstance(node, list):
        return [_strip_markers(v) for v in node if not is_marker(v)]
    return node


def _entries_from_settings(document: dict[str, Any]) -> dict[str, str]:
    """An API-only capture: the lab keeps the Manage API document in these keys."""
    out: dict[str, str] = {}
    for path, key, kind in keys.MAPPED_FIELDS:
        node: Any = document
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        # A marker stays: `lab_settings` gives the lab's own value for that key.
        out[key] = ("true" if node else "false") if kind == "bool" else str(node)
    mapped = {p[0] for p, _, _ in keys.MAPPED_FIELDS}
    for name, value in document.items():
        if name in mapped or name in keys.COMPUTED_FIELDS or name == "admin_password":
            continue
        if keys.DEFAULT_DOCUMENT.get(name) != value:
            out[f"{keys.EXTRA_SECTION}.{name}.json"] = json.dumps(_strip_markers(value))
    return out


def _registry_on(capture: dict[str, Any]) -> bool:
    registry = (capture.get("front_door") or {}).get("registry")
    return (
        isinstance(registry, dict)
        and registry.get("http_status") == 401
        and registry.get("scheme") == "bearer"
    )


def lab_settings(
    capture: dict[str, Any], config: LabConfig, layout: Layout
) -> tuple[dict[str, str], list[str], list[str]]:
    """The lab's settings for a capture: (values, replaced keys, dropped keys)."""
    gc = capture.get("ghe_config")
    entries = gc.get("entries") if isinstance(gc, dict) else None
    if not isinstance(entries, dict):
        document = capture.get("settings")
        entries = _entries_from_settings(document) if isinstance(document, dict) else {}
        if _registry_on(capture):
            # Packages lives in ghe-config only (no Manage API field): an API-only capture
            # shows it by the registry's Bearer challenge. The lab's storage stands in.
            entries.update(
                {
                    keys.PACKAGES_ENABLED: "true",
                    keys.STORAGE_TYPE: "s3",
                    keys.SERVICE_URL: config.service_url,
                    keys.BUCKET: config.bucket,
                    keys.ACCESS_KEY: "<redacted:storage-key>",
                    keys.SECRET_KEY: "<redacted:storage-key>",
                }
            )
    lab_values = {
        keys.SSL_CERT: layout.site_cert.read_text(encoding="utf-8"),
        keys.SSL_KEY: layout.site_key.read_text(encoding="utf-8"),
        keys.ACCESS_KEY: config.s3_access_key,
        keys.SECRET_KEY: config.s3_secret_key,
        keys.SERVICE_URL: config.service_url,
        keys.BUCKET: config.bucket,
        keys.AZURE_CONNECTION: config.azure_connection_string,
        keys.AZURE_CONTAINER: config.azure_container,
        keys.HOSTNAME: config.hostname,
        keys.PACKAGE_VERSION: config.ghes_version,
    }
    values = dict(fresh_settings(config))
    replaced: list[str] = []
    dropped: list[str] = []
    for key, value in entries.items():
        key, value = str(key), str(value)
        if key in lab_values:
            values[key] = lab_values[key]
            if value != lab_values[key] and key not in (keys.HOSTNAME, keys.PACKAGE_VERSION):
                replaced.append(key)
            continue
        if is_marker(value):
            dropped.append(key)
            continue
        if key.startswith(f"{keys.EXTRA_SECTION}.") and key.endswith(".json"):
            with contextlib.suppress(ValueError):
                value = json.dumps(_strip_markers(json.loads(value)))
        values[key] = value
    if values.get(keys.SSL_KEY) and keys.SSL_CERT not in values:
        values[keys.SSL_CERT] = lab_values[keys.SSL_CERT]
    return values, sorted(replaced), sorted(dropped)


def captured_storage(capture: dict[str, Any]) -> str | None:
    """The lab storage that stands in for the captured one: the backend stored as the
    captured type when the lab's default (its S3 server, as `minio`) is not stored so
    (`azure`, Azurite, for an Azure appliance), else the default (None)."""
    entries = (capture.get("ghe_config") or {}).get("entries") or {}
    kind = entries.get(keys.STORAGE_TYPE) if isinstance(entries, dict) else None
    stored_so = backends.storing(kind) if isinstance(kind, str) else ()
    if not stored_so or backends.backend(DEFAULT_STORAGE) in stored_so:
        return None
    return stored_so[0].name


# A key `git config` (so the lab's settings store, like the appliance's ghe-config) takes:
# SECTION[.SUBSECTION].NAME, the name a letter then letters, digits or dashes.
_GIT_KEY = re.compile(r"[A-Za-z0-9.-]+(\.[^\n\0]*)?\.[A-Za-z][A-Za-z0-9-]*")


def _check_keys(capture: dict[str, Any], path: Path) -> None:
    gc = capture.get("ghe_config")
    entries = gc.get("entries") if isinstance(gc, dict) else None
    bad = sorted(k for k in entries or {} if not _GIT_KEY.fullmatch(k))
    if bad:
        shown = ", ".join(repr(k) for k in bad[:3]) + (" ..." if len(bad) > 3 else "")
        raise InputError(
            f"capture {path}: {len(bad)} ghe-config key(s) no appliance can hold: {shown}",
            hint="use the capture as `ghes-setup capture` wrote it (was it edited?)",
        )


def up_from_capture(
    path: Path, directory: Path, address: str | None = None, storage: str | None = None
) -> FromCaptureResult:
    capture = load_capture(path)
    hostname = capture.get("hostname")
    if not isinstance(hostname, str) or not hostname:
        raise InputError(f"capture {path}: no hostname", hint="capture again with --site")
    layout = Layout(directory)
    if layout.config.exists():
        raise InputError(
            f"{layout.root} already holds a lab",
            hint=f"`ghes-setup lab down --dir {layout.root}` first, or another --dir",
        )
    _check_keys(capture, path)  # before anything starts: a refusal leaves no lab behind
    started = up(
        UpOptions(
            directory,
            hostname,
            _version(capture),
            address,
            storage=storage or captured_storage(capture),
        )
    )
    config, layout = started.config, started.layout
    result = FromCaptureResult(started)
    try:
        values, result.replaced, result.dropped = lab_settings(capture, config, layout)
        SettingsStore(layout).replace_all(values)
    except BaseException:
        down(directory)  # not half a lab: nothing running, the folder gone
        raise
    answer = client.call(layout, "lab-apply")
    if answer.code != 0:
        result.notes.append(f"the configuration run failed: {answer.result or answer.stderr}")
    ident = capture.get("identity") or {}
    topology = ident.get("topology")
    if topology in state.TOPOLOGIES:
        replica = bool(ident.get("replica")) and topology != "SingleNode"
        state.write_topology(layout, state.Topology(str(topology), replica))
    elif topology:
        result.notes.append(f"topology {topology!r} is not one the lab models")
    maintenance = capture.get("maintenance")
    if isinstance(maintenance, dict) and maintenance.get("active") is True:
        state.write_maintenance(layout, state.Maintenance(status="on"))
    fmt = (capture.get("ghe_config") or {}).get("format") or {}
    _listing_format(layout, fmt, result)
    for key in result.replaced:
        result.notes.append(f"{key}: the lab's own value (secret or address of the appliance)")
    for key in result.dropped:
        result.notes.append(f"{key}: redacted in the capture and unknown to the lab: left unset")
    return result


def _listing_format(layout: Layout, fmt: dict[str, Any], result: FromCaptureResult) -> None:
    """Imitate the observed `ghe-config -l`: without -z, without secrets.* (the lab's
    ghe-config reads DIR/state/ghe-config-list). Another line format is reported only."""
    words = []
    if fmt.get("nul_separated") is False:
        words.append("no-z")
    if fmt.get("secrets_listed") is False:
        words.append("no-secrets")
    if words:
        path = layout.state / "ghe-config-list"
        path.write_text(" ".join(words) + "\n", encoding="ascii")
        path.chmod(0o644)
        result.notes.append(f"ghe-config -l imitates the capture: {', '.join(words)}")
    if fmt and fmt.get("line_format") != "key=value":
        result.notes.append(
            f"ghe-config -l lines were {fmt.get('line_format')!r} on the appliance; the lab "
            "lists key=value (not imitated)"
        )
