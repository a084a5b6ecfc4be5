"""The one `ApplianceTransport` protocol, its data types, and the setting value codecs.

A transport speaks to one appliance at the level of *settings* (ghes-setup's names from
`facts.SETTINGS`), never at the level of `ghe-config` keys or API fields: the mapping lives in
`facts.SETTINGS` and the codecs below, so that SSH (`ssh.SshTransport`), the Manage API
(`manage_api.ManageApiTransport`), the routing of the two (`selector.RoutedTransport`) and the
in-memory fake (`fake.FakeAppliance`) are interchangeable and pass one contract suite.

This module imports neither paramiko nor httpx (an import-linter contract says so): it is
what every other part of the tool may depend on.

Values: BOOL -> bool, STRING -> str, PEM -> str (the PEM text), SECRET -> `Secret`,
ECOSYSTEM -> "enabled" | "read-only" | "disabled"; None means "not set on the appliance".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Protocol, Self

from ghes_setup import facts
from ghes_setup.errors import ApplianceResponseError, InputError, Unreachable
from ghes_setup.facts import GhesVersion, SettingKind, SettingSpec
from ghes_setup.net import comparable
from ghes_setup.secrets import Secret

SettingValue = bool | str | Secret | None

ECOSYSTEM_STATES: Final = ("enabled", "read-only", "disabled")
# ghe-config spelling of the ecosystem states (UNVERIFIED keys, see facts.SETTINGS): the
# unofficial config-apply source checks "false" (disabled) and "readonly"; unset = enabled.
_ECO_TO_CONFIG: Final = {"enabled": "true", "read-only": "readonly", "disabled": "false"}
_ECO_FROM_CONFIG: Final = {"true": "enabled", "readonly": "read-only", "false": "disabled"}

# Run ids travel in URLs and remote file names: keep them to a harmless alphabet.
RUN_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SettingsRejected(InputError):
    """The appliance (or our validation) refused a value; nothing was written (exit 3)."""


class TlsNotTrusted(Unreachable):
    """The appliance answers, but its certificate (or TLS handshake) does not verify (exit 4).

    Distinct from a closed port: an API that is offered but not trusted must stop the run,
    never be silently replaced by another transport."""


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class ApplianceInfo:
    """Who the appliance is. `via` names the transport that asked ("ssh", "api", "fake")."""

    version: GhesVersion
    via: str
    hostname: str | None = None
    platform: str | None = None
    build: str | None = None
    is_replica: bool = False
    topology: str = "SingleNode"  # SingleNode | Ha | Cluster (Manage API's words)
    primary: str | None = None  # the node that takes writes, when the appliance says
    # Why the run does not take the safe default path (the Manage API over TLS when the
    # admin password is given): "using SSH only: ..." or "plain HTTP: ...". Shown as a warn.
    transport_note: str | None = None


class Settings(Mapping[str, SettingValue]):
    """An immutable mapping of setting names (facts.SETTINGS) to values.

    A name that is absent was not read; a name mapped to None is unset on the appliance.
    `repr` never shows a secret (Secret redacts itself).
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, SettingValue] | None = None) -> None:
        values = dict(values or {})
        for name in values:
            spec(name)  # unknown names are a bug in the caller
        self._values: dict[str, SettingValue] = values

    def __getitem__(self, name: str) -> SettingValue:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({self._values!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def subset(self, names: Iterable[str]) -> Settings:
        wanted = set(names)
        return Settings({k: v for k, v in self._values.items() if k in wanted})

    def merged(self, other: Mapping[str, SettingValue]) -> Settings:
        return Settings({**self._values, **other})


@dataclass(frozen=True, slots=True)
class ApplyRun:
    """A configuration run that was started; `run_id` is ours (we pass it) or the appliance's."""

    run_id: str
    via: str


@dataclass(frozen=True, slots=True)
class ApplyStatus:
    """State of a configuration run. `known` is False when the appliance has no such run.

    `successful` is only meaningful when `running` is False. `detail` is a short reason the
    appliance gave for a failure (the last error line), if any.
    """

    run_id: str | None
    running: bool
    successful: bool
    known: bool = True
    detail: str | None = None

    @property
    def failed(self) -> bool:
        return self.known and not self.running and not self.successful


@dataclass(frozen=True, slots=True)
class ApplyEvent:
    """One progress line of a configuration run (API event, or a ghe-config.log line)."""

    body: str
    severity: str = "INFO"
    timestamp: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity.upper() in ("ERROR", "FATAL", "CRITICAL")


@dataclass(frozen=True, slots=True)
class EventBatch:
    """New events and the cursor to pass as `since` next time."""

    events: tuple[ApplyEvent, ...] = ()
    cursor: str | None = None


# ---------------------------------------------------------------------------- protocol


class ApplianceTransport(Protocol):
    """Settings-level access to one appliance. A context manager; `close()` is idempotent."""

    @property
    def name(self) -> str:
        """ "ssh", "api", "fake", or "ssh+api" for the routed pair."""

    def supports(self, setting: str) -> bool:
        """True when this transport can read and write `setting`."""

    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        """Reach the appliance, authenticate, and say what it is. A transport that can read
        the `prefetch` settings in the same round trip does, and serves them to the next
        `read_settings` (SSH); the others ignore it."""

    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        """Current values of `names` (default: every setting this transport supports)."""

    def forget_prefetch(self) -> None:
        """Drop what `identify` read ahead: the next `read_settings` asks the appliance."""

    def connect_ahead(self) -> None:
        """Start connecting in the background, running nothing on the appliance: the next
        call uses that connection, or raises what connecting met."""

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        """Write every change or none (`SettingsRejected`, `Unreachable`: nothing written)."""

    def start_apply(self, run_id: str) -> ApplyRun:
        """Start a configuration run (ghe-config-apply) under `run_id`."""

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        """Status of `run_id`, or of the latest run when None."""

    def apply_events(self, since: str | None = None) -> EventBatch:
        """Events of the latest run after the cursor `since` (None: from the start)."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class TransportBase:
    """Context-manager plumbing shared by the implementations."""

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def forget_prefetch(self) -> None:
        """Nothing is read ahead (the Manage API and the fake read on every call)."""

    def connect_ahead(self) -> None:
        """Nothing to start: the Manage API and the fake connect on the first call."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------- specs & codecs


def spec(name: str) -> SettingSpec:
    try:
        return facts.SETTINGS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown setting {name!r} (not in facts.SETTINGS)") from None


def validate(name: str, value: SettingValue) -> SettingValue:
    """Check a value's type for its setting; return it (PEM normalised). `SettingsRejected`."""
    s = spec(name)
    if value is None:
        return None
    kind = s.kind
    if kind is SettingKind.BOOL and not isinstance(value, bool):
        raise SettingsRejected(f"setting {name}: expected true or false, got {value!r}")
    if kind is SettingKind.SECRET and not isinstance(value, Secret):
        raise SettingsRejected(f"setting {name}: a secret must be given as a Secret")
    if kind in (SettingKind.STRING, SettingKind.PEM) and not isinstance(value, str):
        raise SettingsRejected(f"setting {name}: expected text, got {type(value).__name__}")
    if kind is SettingKind.PEM:
        assert isinstance(value, str)
        if "-----BEGIN " not in value:
            raise SettingsRejected(f"setting {name}: not PEM text (no -----BEGIN line)")
        return normalise_pem(value)
    if kind is SettingKind.ECOSYSTEM and value not in ECOSYSTEM_STATES:
        raise SettingsRejected(
            f"setting {name}: {value!r} is not one of {', '.join(ECOSYSTEM_STATES)}"
        )
    return value


def normalise_pem(text: str) -> str:
    """PEM as the appliance keeps it: LF line ends, no trailing blanks, one final newline."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]
    return "\n".join(lines) + "\n"


def same_value(name: str, a: SettingValue, b: SettingValue) -> bool:
    """Equality as the appliance means it (PEM whitespace does not count; a host name is
    compared as DNS compares it, as the site file's is read: case and a final dot do not
    count, so `GHE.Example.com` stored is no "hostname change")."""
    if name == "hostname" and isinstance(a, str) and isinstance(b, str):
        return comparable(a) == comparable(b)
    kind = spec(name).kind
    if kind is SettingKind.PEM and isinstance(a, str) and isinstance(b, str):
        return normalise_pem(a) == normalise_pem(b)
    if kind is SettingKind.SECRET and isinstance(a, Secret) and isinstance(b, Secret):
        return _strip_secret(a) == _strip_secret(b)
    return a == b


def _strip_secret(value: Secret) -> str:
    # A PEM key read back may differ only in line ends; compare in normal form.
    text = value.reveal()
    return normalise_pem(text) if "-----BEGIN " in text else text


def encode_config(name: str, value: SettingValue) -> str | None:
    """Value -> ghe-config text (None: unset the key)."""
    value = validate(name, value)
    if value is None:
        return None
    kind = spec(name).kind
    if kind is SettingKind.BOOL:
        return "true" if value else "false"
    if kind is SettingKind.SECRET:
        assert isinstance(value, Secret)
        return value.reveal()
    if kind is SettingKind.ECOSYSTEM:
        assert isinstance(value, str)
        return _ECO_TO_CONFIG[value]
    assert isinstance(value, str)
    return value


def decode_config(name: str, text: str | None) -> SettingValue:
    """ghe-config text (None: the key is unset) -> value. `ApplianceResponseError` if odd."""
    s = spec(name)
    if text is None:
        return None
    kind = s.kind
    if kind is SettingKind.BOOL:
        low = text.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0", ""):
            return False
        raise ApplianceResponseError(
            f"ghe-config {s.ghe_config_key} is {text.strip()!r}, expected true or false"
        )
    if kind is SettingKind.SECRET:
        return Secret(text, f"appliance {s.ghe_config_key}")
    if kind is SettingKind.ECOSYSTEM:
        state = _ECO_FROM_CONFIG.get(text.strip().lower())
        if state is None:
            raise ApplianceResponseError(
                f"ghe-config {s.ghe_config_key} is {text.strip()!r}, expected true, false "
                "or readonly"
            )
        return state
    return text


def encode_api(name: str, value: SettingValue) -> object:
    """Value -> JSON value of the Manage API field."""
    value = validate(name, value)
    if isinstance(value, Secret):
        return value.reveal()
    return value


def decode_api(name: str, raw: object) -> SettingValue:
    """JSON value of a Manage API field -> value. `ApplianceResponseError` on a wrong type."""
    s = spec(name)
    if raw is None:
        return None
    kind = s.kind
    if kind is SettingKind.BOOL:
        if isinstance(raw, bool):
            return raw
    elif isinstance(raw, str):
        if kind is SettingKind.SECRET:
            return Secret(raw, f"appliance {s.api_field}") if raw else None
        if kind is SettingKind.PEM and not raw:
            return None
        return raw
    raise ApplianceResponseError(
        f"Manage API field {s.api_field} has a {type(raw).__name__}, expected "
        f"{'a boolean' if kind is SettingKind.BOOL else 'a string'}"
    )


def b64(text: str) -> str:
    """Base64 (one line) of UTF-8 text, the form values take on the wire to the admin shell."""
    return base64.b64encode(text.encode()).decode("ascii")


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id):
        raise ValueError(f"invalid run id {run_id!r}")
    return run_id
