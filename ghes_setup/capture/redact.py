"""Replace every secret in a capture by a marker: `<redacted:KIND>`.

The marker carries the word `redacted` and the kind of secret (password, token, private-key,
storage-key, connection-string, secret), never the value, its length nor a hash of it: a hash
of a short password can be brute-forced, and a length narrows a guess. Booleans, numbers,
enums, hostnames and key NAMES are kept: they are what `facts verify` and `lab up
--from-capture` need.

A value is a secret when its key or field name says so (password, secret, token, private,
credential, key, community, ...), when it lives under `secrets.*` and is not one of the storage
settings `facts.SETTINGS` marks as plain text (bucket, service URL, storage type, container),
or when its text looks like one (a PEM private key, a GitHub token, a URL with a password or
with a credential in its query: a proxy's `user:pass@`, an Azure SAS `sig=`) wherever it is. The
explicit values the run holds (admin password, PAT) are scrubbed again over the finished
document as a last line of defence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

from ghes_setup import facts
from ghes_setup.facts import SettingKind

MARKER_PREFIX: Final = "<redacted:"
KINDS: Final = (
    "password",
    "token",
    "private-key",
    "storage-key",
    "connection-string",
    "secret",
)

# ghe-config keys under secrets.* that facts.SETTINGS declares plain text (not secrets).
_PLAIN_SECRETS_KEYS: Final = frozenset(
    s.ghe_config_key
    for s in facts.SETTINGS
    if s.ghe_config_key.startswith("secrets.") and s.kind is not SettingKind.SECRET
)
_SECRET_SETTING_KEYS: Final = {
    s.ghe_config_key: s for s in facts.SETTINGS if s.kind is SettingKind.SECRET
}
# Field or key names that hold secrets. "public_key..." is public and excluded below.
_SECRET_NAME: Final = re.compile(
    r"(password|passwd|passphrase|secret|token|private|credential|community|"
    r"connection[-_]string|access[-_]key|api[-_]key|(^|[._-])key$|license)",
    re.IGNORECASE,
)
_PUBLIC_NAME: Final = re.compile(r"public[-_]?key|(^|[._-])key[-_]?(type|size)$", re.IGNORECASE)
_SECRET_TEXT: Final = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "private-key"),
    (re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"), "token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "token"),
    # A connection string with a real value (a usage text's `SecretAccessKey=s` or
    # `AccountKey=<key>` is an example, not a secret).
    (
        re.compile(
            r"(AccountKey|SharedAccessSignature|SecretAccessKey|AccessKeyId)=(?![<{$])[^;\"'\s]{8,}",
            re.IGNORECASE,
        ),
        "connection-string",
    ),
    # A URL carrying a password in its user information (`http://user:pass@proxy:3128`).
    (re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@"), "password"),
    # A URL whose query carries a credential: an Azure SAS `sig=`, a presigned S3 or GCS
    # `X-Amz-Signature=`/`X-Amz-Credential=`/`X-Goog-Signature=`, an `access_token=`, a `key=`.
    # The name decides; a template value (`{token}`, `$KEY`, `<key>`) is an example.
    (
        re.compile(
            r"[?&;][A-Za-z0-9_.-]*(sig|signature|token|secret|password|passwd|key|credential|"
            r"auth)[A-Za-z0-9_.-]*=(?![<{$&;#])[^&;#\s\"']{6,}",
            re.IGNORECASE,
        ),
        "secret",
    ),
)


def marker(kind: str) -> str:
    if kind not in KINDS:
        kind = "secret"
    return f"{MARKER_PREFIX}{kind}>"


def is_marker(value: object) -> bool:
    return isinstance(value, str) and value.startswith(MARKER_PREFIX) and value.endswith(">")


def kind_for_name(name: str) -> str:
    low = name.lower()
    if "connection" in low:
        return "connection-string"
    if "password" in low or "passwd" in low or "passphrase" in low:
        return "password"
    if "token" in low:
        return "token"
    if "private" in low or low.endswith((".key", "_key")) or low == "key":
        return "private-key" if "ssl" in low or "private" in low or "tls" in low else "secret"
    if "access-key" in low or "secret-key" in low or "access_key" in low:
        return "storage-key"
    return "secret"


def secret_name(name: str) -> bool:
    """A key or field name that holds a secret value."""
    leaf = name.rsplit(".", 1)[-1]
    if _PUBLIC_NAME.search(leaf):
        return False
    return bool(_SECRET_NAME.search(leaf))


def secret_text(value: str) -> str | None:
    """The kind of secret a text looks like, wherever it is found; None if it looks plain."""
    for pattern, kind in _SECRET_TEXT:
        if pattern.search(value):
            return kind
    return None


def redact_config_value(key: str, value: str) -> str:
    """One `ghe-config` value, redacted when its key or text says it is a secret."""
    if value == "" or is_marker(value):
        return value
    setting = _SECRET_SETTING_KEYS.get(key)
    if setting is not None:
        kind = "private-key" if "ssl" in key else kind_for_name(key)
        if key.startswith("secrets.packages.a"):
            kind = "connection-string" if "connection" in key else "storage-key"
        return marker(kind)
    if key in _PLAIN_SECRETS_KEYS:
        found = secret_text(value)
        return marker(found) if found else value
    if key.startswith("secrets."):
        return marker(kind_for_name(key))
    if secret_name(key):
        return marker(kind_for_name(key))
    if key.endswith(".json"):  # the lab keeps Manage API sections as JSON (a git subsection)
        try:
            inner = json.loads(value)
        except ValueError:
            pass
        else:
            return json.dumps(redact_document(inner), sort_keys=True)
    found = secret_text(value)
    return marker(found) if found else value


def redact_document(node: Any, name: str = "") -> Any:
    """A JSON document (the Manage API settings) with every secret field replaced."""
    if isinstance(node, dict):
        return {k: redact_document(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [redact_document(v, name) for v in node]
    if isinstance(node, str) and node and not is_marker(node):
        found = secret_text(node)
        if found:
            return marker(found)
        if name and secret_name(name):
            return marker(kind_for_name(name))
    return node


def scrub_known(node: Any, values: Iterable[str]) -> Any:
    """Replace any string that contains one of `values` (secrets the run holds) by a marker."""
    known = [v for v in values if v and len(v) >= 4]
    if not known:
        return node

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, str) and any(v in item for v in known):
            return marker("secret")
        return item

    return walk(node)


def markers_in(node: Any) -> int:
    """How many markers a document holds (the command reports it)."""
    if isinstance(node, dict):
        return sum(markers_in(v) for v in node.values())
    if isinstance(node, list):
        return sum(markers_in(v) for v in node)
    return 1 if is_marker(node) else 0
