"""`facts list` and `facts verify`: every fact of `ghes_setup.facts`, judged from a capture.

A fact's id is stable: `ghe-config-key:<setting>` for the `ghe-config` key of a setting
(`facts.SETTINGS`), and the lower-case, dashed name of a `facts.Fact` constant otherwise
(`GHE_CONFIG_LIST_FORMAT` -> `ghe-config-list-format`). Only UNVERIFIED facts are judged:

- `confirmed`: the capture shows the fact holds (the key is listed, the realm is the guess);
- `contradicted`: the capture shows something else (another key name is listed where ours is
  missing, the Manage API says the setting is on but our key is absent, the listing is not
  `key=value`); the evidence says what the appliance showed;
- `unknown`: the capture cannot tell (the probe failed, the key is unset at its default).

`guard_writes` is the `--facts-from` check of `up` and `config apply`: a setting the run would
write over SSH under a `ghe-config` key the capture contradicts stops the run (exit 3) before
anything is written.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ghes_setup import facts
from ghes_setup.capture.redact import is_marker
from ghes_setup.config.site import Site
from ghes_setup.errors import InputError, MaterialError
from ghes_setup.files import read_document

CONFIRMED: Final = "confirmed"
CONTRADICTED: Final = "contradicted"
UNKNOWN: Final = "unknown"
KEY_PREFIX: Final = "ghe-config-key:"
_DEFAULT_ON: Final = frozenset({"tls.enabled"})

# Paths (fnmatch patterns over dotted paths) that legitimately differ between two captures of
# the same appliance state: docs/schema/capture-v1.json lists the same ones (a test holds the
# two together).
VOLATILE: Final[tuple[str, ...]] = (
    "captured_at",
    "tool_version",
    "probes.*.seconds",
    "probes.*.error",
    "identity.ghe_version_output",
    "identity.api_version*",
    "identity.nodes*",
    "settings.configuration_id",
    "settings.configuration_run_count",
    "settings.github_ssl.cert",
    "settings.customer.*",
    "settings.license.*",
    "ghe_config.entries.github-ssl.cert",
    "ghe_config.entries.secrets.packages.service-url",
    "ghe_config.format.multiline_keys*",
    "last_apply.*",
    "front_door.certificates.*",
    "dns.*.addresses*",
    "dns.wildcard.name",
)


@dataclass(frozen=True, slots=True)
class FactRow:
    id: str
    value: str
    source: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    id: str
    verdict: str
    evidence: str


def _const_id(name: str) -> str:
    return name.lower().replace("_", "-")


def catalogue() -> list[FactRow]:
    """Every fact of facts.py: the settings' ghe-config keys, then the `Fact` constants."""
    rows = [
        FactRow(f"{KEY_PREFIX}{s.name}", s.ghe_config_key, s.source, s.key_verified)
        for s in facts.SETTINGS
    ]
    for name, value in vars(facts).items():
        if isinstance(value, facts.Fact):
            rows.append(FactRow(_const_id(name), repr(value.value), value.source, value.verified))
    return rows


def fact_line(fact_id: str) -> str:
    """Where in ghes_setup/facts.py the fact is defined ("ghes_setup/facts.py:NNN")."""
    source = Path(facts.__file__).read_text(encoding="utf-8").splitlines()
    if fact_id.startswith(KEY_PREFIX):
        name = fact_id[len(KEY_PREFIX) :]
        if name.startswith("packages.ecosystems."):
            needle = 'ghe_config_key=f"app.packages.{name}-enabled"'
        else:
            needle = f'"{facts.SETTINGS_BY_NAME[name].ghe_config_key}"'
    else:
        needle = fact_id.upper().replace("-", "_") + ": Final"
    for number, line in enumerate(source, start=1):
        if needle in line:
            return f"ghes_setup/facts.py:{number}"
    return "ghes_setup/facts.py"


# ---------------------------------------------------------------------------- loading


# The top-level members of docs/schema/capture-v1.json and their JSON types (None: null): an
# edited or truncated capture is bad input (exit 3), not a crash in whatever reads it first.
_SHAPE: Final[dict[str, tuple[type | None, ...]]] = {
    "hostname": (str,),
    "transports": (list,),
    "identity": (dict,),
    "settings": (dict, None),
    "ghe_config": (dict, None),
    "unverified_keys": (dict, None),
    "last_apply": (dict,),
    "maintenance": (dict, None),
    "utilities": (dict,),
    "front_door": (dict,),
    "dns": (dict,),
    "probes": (dict,),
}


def load_capture(path: Path) -> dict[str, Any]:
    """A capture file, checked for its kind, schema version and the types of its top-level
    members (`MaterialError`, exit 3)."""
    hint = "give a file written by `ghes-setup capture --out FILE`"
    doc = read_document(
        path, what="capture", kind="ghes-setup-capture", schema_version=1, hint=hint
    )
    for key, types in _SHAPE.items():
        if key not in doc:
            raise MaterialError(f"capture {path} lacks {key!r}", hint=hint)
        value = doc[key]
        if not any(value is None if t is None else isinstance(value, t) for t in types):
            names = " or ".join("null" if t is None else _JSON_TYPE[t] for t in types)
            raise MaterialError(f"capture {path}: {key!r} is not {names}", hint=hint)
    listing = doc["ghe_config"]
    if listing is not None and not (
        isinstance(listing.get("entries"), dict) and isinstance(listing.get("format"), dict)
    ):
        raise MaterialError(
            f"capture {path}: 'ghe_config' has no 'entries' and 'format' objects", hint=hint
        )
    return doc


_JSON_TYPE: Final[dict[type, str]] = {str: "a text", list: "a list", dict: "an object"}


# ---------------------------------------------------------------------------- judging


def _listing(capture: Mapping[str, Any]) -> dict[str, str] | None:
    gc = capture.get("ghe_config")
    entries = gc.get("entries") if isinstance(gc, dict) else None
    if isinstance(entries, dict):
        return {str(k): str(v) for k, v in entries.items()}
    return None


def _tokens(key: str) -> set[str]:
    words = set(re.split(r"[.\-_]+", key.lower()))
    return words - {"", "enabled", "core", "app", "secrets", "github"}


def similar_keys(key: str, listed: Iterable[str]) -> list[str]:
    """Listed keys that look like another name for `key`: they carry every distinctive word
    of it (`core.subdomain-isolation` ~ `app.subdomain-isolation.enabled`)."""
    want = _tokens(key)
    return sorted(k for k in listed if k != key and want and want <= _tokens(k))


def _api_value(capture: Mapping[str, Any], path: str | None) -> Any:
    node: Any = capture.get("settings")
    if path is None or not isinstance(node, dict):
        return None
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _api_says_set(kind: facts.SettingKind, value: Any) -> bool:
    if kind is facts.SettingKind.BOOL:
        return value is True
    return isinstance(value, str) and value != ""


def _judge_key(spec: facts.SettingSpec, capture: Mapping[str, Any]) -> Verdict:
    fid = f"{KEY_PREFIX}{spec.name}"
    key = spec.ghe_config_key
    listing = _listing(capture)
    direct = capture.get("unverified_keys")
    present_direct = direct.get(key, {}).get("present") if isinstance(direct, dict) else None
    if listing is None and present_direct is None:
        return Verdict(fid, UNKNOWN, "the capture has no ghe-config listing (SSH not captured)")
    listed = listing is not None and key in listing
    if listed or present_direct:
        value = listing.get(key) if listing is not None else None
        api = _api_value(capture, spec.api_field)
        if (
            spec.kind is facts.SettingKind.BOOL
            and isinstance(api, bool)
            and isinstance(value, str)
            and value.strip().lower() in ("true", "false")
            and (value.strip().lower() == "true") != api
        ):
            return Verdict(
                fid,
                CONTRADICTED,
                f"ghe-config {key} = {value.strip()} but the Manage API {spec.api_field} = "
                f"{str(api).lower()}: the key does not hold this setting",
            )
        return Verdict(fid, CONFIRMED, f"ghe-config lists {key}")
    others = similar_keys(key, listing or {})
    api = _api_value(capture, spec.api_field)
    if others:
        return Verdict(
            fid,
            CONTRADICTED,
            f"ghe-config has no {key}; the appliance lists {', '.join(others)} instead",
        )
    # A boolean that is on by default (TLS) may be on without being stored: only a setting
    # that is off by default and shown on (isolation), or a value shown set, contradicts.
    shown_set = is_marker(api) or _api_says_set(spec.kind, api)
    if spec.api_field is not None and spec.name not in _DEFAULT_ON and shown_set:
        return Verdict(
            fid,
            CONTRADICTED,
            f"the Manage API has {spec.api_field} set, but ghe-config has no {key}",
        )
    return Verdict(fid, UNKNOWN, f"{key} is not set (it may be at its default)")


def _judge_const(name: str, capture: Mapping[str, Any]) -> Verdict:
    fid = _const_id(name)
    if name == "GHE_CONFIG_LIST_FORMAT":
        gc = capture.get("ghe_config")
        fmt = gc.get("format") if isinstance(gc, dict) else None
        if not isinstance(fmt, dict):
            return Verdict(fid, UNKNOWN, "no ghe-config -l listing in the capture")
        line = fmt.get("line_format")
        multi = fmt.get("multiline_values")
        if line == "key=value":
            return Verdict(fid, CONFIRMED, f"ghe-config -l lines are key=value ({multi})")
        return Verdict(fid, CONTRADICTED, f"ghe-config -l lines are {line!r}, not key=value")
    if name in ("PRECHECK_S3_CONNECTION", "PRECHECK_MINIO_EXTRA"):
        util = capture.get("utilities", {}).get("ghe-packages-precheck --help")
        text = util.get("output") if isinstance(util, dict) else None
        if not isinstance(text, str) or not text:
            return Verdict(fid, UNKNOWN, "no ghe-packages-precheck --help output in the capture")
        words = (
            ("BucketName", "AccessKeyId", "SecretAccessKey", "ServiceUrl")
            if name == "PRECHECK_S3_CONNECTION"
            else ("ForcePathStyle",)
        )
        if all(w in text for w in words):
            return Verdict(fid, CONFIRMED, f"ghe-packages-precheck --help names {', '.join(words)}")
        return Verdict(fid, UNKNOWN, "ghe-packages-precheck --help does not show the format")
    if name in ("MIN_RSA_BITS", "ECDSA_ACCEPTED"):
        chain = capture.get("front_door", {}).get("certificates", {}).get(capture.get("hostname"))
        leaf = chain[0] if isinstance(chain, list) and chain else None
        configured = (_listing(capture) or {}).get("github-ssl.cert")
        if not isinstance(leaf, dict) or not configured:
            return Verdict(fid, UNKNOWN, "no site certificate configured and served")
        if name == "ECDSA_ACCEPTED" and leaf.get("key_type") == "ECDSA":
            return Verdict(fid, CONTRADICTED, "the appliance serves a configured ECDSA certificate")
        if name == "MIN_RSA_BITS" and leaf.get("key_type") == "RSA":
            bits = leaf.get("key_bits")
            if isinstance(bits, int) and bits < facts.MIN_RSA_BITS.value:  # type: ignore[operator]
                return Verdict(fid, CONTRADICTED, f"the appliance serves a {bits}-bit RSA key")
        return Verdict(fid, UNKNOWN, "a served certificate cannot show what the appliance refuses")
    if name == "REGISTRY_REALM_GUESS":
        registry = capture.get("front_door", {}).get("registry")
        realm = registry.get("realm") if isinstance(registry, dict) else None
        if not realm:
            return Verdict(fid, UNKNOWN, "no registry challenge in the capture")
        guess = f"https://{facts.CONTAINER_REGISTRY_LABEL}.{capture.get('hostname')}/token"
        if realm == guess:
            return Verdict(fid, CONFIRMED, f"WWW-Authenticate realm is {realm}")
        return Verdict(fid, CONTRADICTED, f"WWW-Authenticate realm is {realm}, not {guess}")
    if name == "SCOPE_IMPLIES":
        return Verdict(fid, UNKNOWN, "one token's scopes cannot show what the token page grants")
    return Verdict(fid, UNKNOWN, "a read-only capture cannot show this")


def verify(capture: Mapping[str, Any]) -> list[Verdict]:
    """A verdict for every UNVERIFIED fact, in catalogue order."""
    verdicts = [_judge_key(s, capture) for s in facts.SETTINGS if not s.key_verified]
    for name, value in vars(facts).items():
        if isinstance(value, facts.Fact) and not value.verified:
            verdicts.append(_judge_const(name, capture))
    return verdicts


@dataclass(frozen=True, slots=True)
class FactsList:
    """`facts list`: every fact, verified or not (`catalogue()`)."""

    rows: Sequence[FactRow]


def facts_list() -> FactsList:
    return FactsList(catalogue())


@dataclass(frozen=True, slots=True)
class FactsVerified:
    """`facts verify`: the verdicts on the capture file `capture` of `hostname` (GHES
    `version`, None when the capture does not say)."""

    capture: Path
    hostname: str | None
    version: str | None
    verdicts: Sequence[Verdict]

    @property
    def contradicted(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == CONTRADICTED]


def verify_file(path: Path) -> FactsVerified:
    """`verify()` on the capture file at `path` (`InputError` when it is not a capture)."""
    doc = load_capture(path)
    version = doc.get("identity", {}).get("version")
    return FactsVerified(path, doc.get("hostname"), version, verify(doc))


# ---------------------------------------------------------------------------- --facts-from


class FactContradicted(InputError):
    """A run would write a ghe-config key that a capture of the appliance contradicts."""


def contradicted_settings(capture: Mapping[str, Any]) -> dict[str, Verdict]:
    """Setting name -> the verdict contradicting its ghe-config key."""
    return {
        v.id[len(KEY_PREFIX) :]: v
        for v in verify(capture)
        if v.verdict == CONTRADICTED and v.id.startswith(KEY_PREFIX)
    }


def guard_writes(
    capture: Mapping[str, Any], settings: Iterable[str], *, over_ssh: Iterable[str]
) -> None:
    """Refuse (exit 3) when one of `settings` goes over SSH (`over_ssh`) to a key the capture
    contradicts. Called before anything connects or is written."""
    bad = contradicted_settings(capture)
    ssh = set(over_ssh)
    hits = [(name, bad[name]) for name in settings if name in bad and name in ssh]
    if hits:
        name, verdict = hits[0]
        raise FactContradicted(
            f"refusing to write {facts.SETTINGS_BY_NAME[name].ghe_config_key} over SSH: fact "
            f"{verdict.id} is contradicted by the capture ({verdict.evidence})",
            hint=f"correct {fact_line(verdict.id)} (see `ghes-setup facts verify`), or use "
            "the Manage API for this setting",
        )


# ---------------------------------------------------------------------------- comparing


def flatten(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list) and node and any(isinstance(v, dict | list) for v in node):
        for i, value in enumerate(node):
            yield from flatten(value, f"{prefix}[{i}]")
    else:
        yield prefix, node


def volatile(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in VOLATILE)


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Paths where two captures disagree, leaving out volatile fields and redaction markers."""
    left, right = dict(flatten(a)), dict(flatten(b))
    out = []
    for path in sorted(set(left) | set(right)):
        if volatile(path):
            continue
        x, y = left.get(path), right.get(path)
        if is_marker(x) or is_marker(y):
            continue
        if x != y:
            out.append(f"{path}: {x!r} != {y!r}")
    return out


def guard_site(
    capture: Mapping[str, Any],
    site: Site,
    *,
    password_given: bool,
    environ: Mapping[str, str] | None = None,
) -> None:
    """`--facts-from` for `up` and `config apply`: the settings this site makes the run write
    whose ghe-config key the capture contradicts, when they would go over SSH, stop the run
    (`FactContradicted`, exit 3) before it connects. Over the Manage API a setting is written
    by its documented field, which no capture can contradict."""
    from ghes_setup.appliance.selector import has_ssh_key

    mode = site.connection.transport
    api = mode in ("api", "auto") and password_given
    ssh = mode in ("ssh", "auto") and has_ssh_key(site, environ)
    names = ["hostname", "subdomain_isolation"]
    if site.tls.cert is not None and site.tls.key is not None:
        names += ["tls.enabled", "tls.cert", "tls.key"]
    if site.packages.enabled is not False:
        names += [f"packages.ecosystems.{e}" for e in site.packages.ecosystems]
    known = [n for n in names if n in facts.SETTINGS_BY_NAME]
    over_ssh = [
        n for n in known if ssh and (not api or facts.SETTINGS_BY_NAME[n].api_field is None)
    ]
    guard_writes(capture, known, over_ssh=over_ssh)
