"""Name-resolution overrides shared by every network command (`--resolve`, `--nameserver`).

An admin often has to reach an appliance before public DNS exists, or the lab, whose names
only its own DNS server knows. `--resolve HOST:IP` (like curl's) pins one name; a leading dot
(`.ghe.example.com:10.0.0.5`) pins every name under a domain. `--nameserver IP[:PORT]` sends
lookups to a given server. This module only holds and parses those choices; the DNS lookups
themselves happen in `ghes_setup.dns.resolver`. It also owns `to_ascii`, the one way a host
name (or a certificate's name pattern) becomes the lower-case A-labels everything compares.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ghes_setup.errors import InputError


def to_ascii(name: str) -> str:
    """`Ghe.Exämple.com.` -> `ghe.xn--exmple-cua.com` (lower-case A-labels, no trailing dot).

    IDNA 2008 (RFC 5891) with the UTS #46 mapping, through the `idna` package: the encoding
    httpx applies to a URL's host, browsers use, and registrars register. Python's own "idna"
    codec is IDNA 2003, which maps `ß` to `ss`: `straße.example` would become
    `strasse.example` for us and `xn--strae-oqa.example` for the HTTP client, a different
    host. ASCII labels pass unchanged (lower-cased), so `*` of a certificate's wildcard and
    `_` of a service label keep working.

    Raises ValueError for a name that cannot be turned into A-labels.
    """
    text = name.strip().rstrip(".")
    if text.isascii():
        return text.lower()
    import idna

    try:
        # UTS #46 maps case, width and the ideographic full stop; then each label is checked
        # and encoded by IDNA 2008's own rules (non-transitional: `ß` stays `ß`).
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False).rstrip(".")
        labels = [
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in mapped.split(".")
        ]
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{name!r} is not a valid internationalised name: {exc}") from None
    return ".".join(label.lower() for label in labels)


def comparable(name: str) -> str:
    """A host name in the form two names compare in: its A-labels (`to_ascii`), or, for a
    name IDNA refuses, the name as written, lower-case, without its final dot."""
    try:
        return to_ascii(name)
    except ValueError:
        return name.strip().lower().rstrip(".")


def valid_a_label(label: str) -> bool:
    """Is an `xn--` label punycode that decodes, by IDNA 2008, and encodes back to itself?"""
    import idna

    try:
        return idna.alabel(idna.ulabel(label)).decode("ascii") == label.lower()
    except (idna.IDNAError, UnicodeError):
        return False


@dataclass(frozen=True, slots=True)
class Nameserver:
    address: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Nameserver:
        """`10.0.0.53`, `10.0.0.53:5353`, `[::1]:5353`, `::1`."""
        text = text.strip()
        host, port = text, 53
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest.startswith(":"):
                port = _port(rest[1:], text)
        elif text.count(":") == 1:
            host, port_text = text.split(":")
            port = _port(port_text, text)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InputError(
                f"nameserver {text!r} is not an IP address", hint="use IP or IP:PORT"
            ) from None
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port == 53 else f"{host}:{self.port}"


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InputError(f"{whole!r}: port must be 1-65535", hint="e.g. 10.0.0.53:5353")
    return int(text)


@dataclass(frozen=True, slots=True)
class ResolveOverrides:
    """Pinned name -> addresses, exact names or `.suffix` entries."""

    pins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: Iterable[str]) -> ResolveOverrides:
        pins: dict[str, tuple[str, ...]] = {}
        for item in items:
            name, sep, addr = item.rpartition(":") if "[" not in item else _split_v6(item)
            # Accept curl's HOST:PORT:ADDR form too; the port is ignored (every port maps).
            if sep and name.count(":") == 1 and "[" not in item:
                name = name.split(":")[0]
            name = _pin_name(name)
            addr = addr.strip().strip("[]")
            try:
                ipaddress.ip_address(addr)
            except ValueError:
                raise InputError(
                    f"--resolve {item!r}: expected HOST:IP",
                    hint="e.g. --resolve ghe.example.com:10.0.0.5 or .ghe.example.com:10.0.0.5",
                ) from None
            if not name:
                raise InputError(f"--resolve {item!r}: missing host name", hint="HOST:IP")
            pins[name] = (*pins.get(name, ()), addr)
        return cls(pins)

    def lookup(self, host: str) -> tuple[str, ...] | None:
        try:
            host = to_ascii(host)
        except ValueError:
            return None  # no pin can hold a name that has no A-labels
        if host in self.pins:
            return self.pins[host]
        for name, addrs in self.pins.items():
            if name.startswith(".") and (host.endswith(name) or host == name[1:]):
                return addrs
        return None

    def __bool__(self) -> bool:
        return bool(self.pins)


def pins_for(host: str, address: str, *, what: str = "--address") -> list[str]:
    """`--resolve` entries pinning `host` and every name under it to the IP `address`."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        raise InputError(f"{what} {address!r} is not an IP address", hint="e.g. 10.0.0.5") from None
    shown = f"[{ip}]" if ip.version == 6 else str(ip)
    return [f"{host}:{shown}", f".{host}:{shown}"]


def _pin_name(name: str) -> str:
    """A `--resolve` name in A-labels, its leading dot (every name under it) kept."""
    text = name.strip().rstrip(".")
    dot = "." if text.startswith(".") else ""
    try:
        return dot + to_ascii(text[len(dot) :]) if text[len(dot) :] else dot
    except ValueError:
        raise InputError(
            f"--resolve {name!r}: not a valid host name",
            hint="HOST:IP, e.g. ghe.example.com:10.0.0.5",
        ) from None


def _split_v6(item: str) -> tuple[str, str, str]:
    name, _, rest = item.partition(":[")
    return name, ":", rest


class AddressResolver(Protocol):
    """Turns a host name into the addresses to connect to (overrides first, then DNS)."""

    def addresses(self, host: str) -> tuple[str, ...]: ...


def known_addresses(overrides: ResolveOverrides, host: str) -> tuple[str, ...] | None:
    """What every resolver answers before asking anyone: the pinned addresses of `host`, or
    `host` itself when it is an IP literal (brackets dropped). None: `host` needs resolving."""
    pinned = overrides.lookup(host)
    if pinned:
        return pinned
    try:
        return (ipaddress.ip_address(host.strip("[]")).compressed,)
    except ValueError:
        return None


class SystemResolver:
    """Overrides first, then the operating system's resolver (getaddrinfo)."""

    def __init__(self, overrides: ResolveOverrides | None = None) -> None:
        self.overrides = overrides or ResolveOverrides()

    def addresses(self, host: str) -> tuple[str, ...]:
        import socket

        from ghes_setup.errors import Unreachable

        known = known_addresses(self.overrides, host)
        if known is not None:
            return known
        from ghes_setup.trace import event

        event("dns", f"> {host} (system resolver, getaddrinfo)")
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            event("dns", f"! {host}: {exc.strerror}")
            raise Unreachable(
                f"cannot resolve {host}: {exc.strerror}",
                hint="check DNS, or pin the address with --resolve HOST:IP",
            ) from None
        seen: dict[str, None] = {}
        for info in infos:
            seen[str(info[4][0])] = None
        event("dns", f"< {host}: {', '.join(seen)}")
        return tuple(seen)
