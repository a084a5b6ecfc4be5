"""SSH host-key trust: OpenSSH known_hosts files and pinned `SHA256:` fingerprints.

The decision is made here, in plain Python, so that it can be tested without a server and so
that it behaves like OpenSSH (ssh(1) "VERIFYING HOST KEYS", sshd(8) "SSH_KNOWN_HOSTS FILE
FORMAT"): entries are `[host]:port` for ports other than 22, host patterns may be hashed
(`|1|salt|hmac`), wildcards (`*`, `?`) and negations (`!`) are honoured, `@revoked` keys are
refused. An unknown key is refused unless the caller opted in to accept-new (then it is
appended); a *changed* key (the host is known with other keys) is always refused. A pinned
fingerprint replaces the file: the key must match it, nothing else counts.

The refusal is `HostKeyNotTrusted` (exit 4) whose hint shows the fingerprint and both ways
to trust it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ghes_setup.errors import HostKeyNotTrusted, MaterialError


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob: `SHA256:` + unpadded base64."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def host_entry(host: str, port: int) -> str:
    """How known_hosts names `host` on `port`: `host` on 22, `[host]:port` otherwise."""
    host = host.lower()
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True, slots=True)
class HostKey:
    """A public host key as the server presented it."""

    type: str  # e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"
    blob: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def base64(self) -> str:
        return base64.b64encode(self.blob).decode("ascii")


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    patterns: str
    key: HostKey
    marker: str | None = None  # "@revoked" / "@cert-authority"


class Trust(Enum):
    KNOWN = "known"  # found in known_hosts
    PINNED = "pinned"  # matched --host-key
    ADDED = "added"  # unknown, accepted with --accept-new-host-key and appended


class KnownHosts:
    """The entries of one known_hosts file (a missing file is an empty one)."""

    def __init__(self, path: Path, entries: list[Entry]) -> None:
        self.path = path
        self.entries = entries

    @classmethod
    def load(cls, path: Path | None = None) -> KnownHosts:
        """`path`, or the user's own file (~/.ssh/known_hosts, as OpenSSH) when None."""
        if path is None:
            path = Path("~/.ssh/known_hosts").expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return cls(path, [])
        except OSError as exc:
            raise MaterialError(
                f"cannot read known_hosts file {path}: {exc.strerror}",
                hint="check the path given with --known-hosts",
            ) from None
        entries: list[Entry] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            marker = None
            if fields[0].startswith("@"):
                marker, fields = fields[0], fields[1:]
            if len(fields) < 3:
                continue
            try:
                blob = base64.b64decode(fields[2], validate=True)
            except ValueError:
                continue  # OpenSSH skips lines it cannot parse, so do we
            entries.append(Entry(number, fields[0], HostKey(fields[1], blob), marker))
        return cls(path, entries)

    def for_names(self, names: list[str]) -> list[Entry]:
        """Entries whose host patterns match any of `names` (already in known_hosts form)."""
        return [e for e in self.entries if any(_matches(e.patterns, n) for n in names)]

    def known_types(self, names: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.for_names(names):
            if e.marker is None:
                seen[e.key.type] = None
        return list(seen)

    def append(self, name: str, key: HostKey) -> None:
        """Add `name key` (creating the file 0600 and its folder 0700 when missing)."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                if self.path.stat().st_size and not _ends_with_newline(self.path):
                    fh.write("\n")
                fh.write(f"{name} {key.type} {key.base64}\n")
        except OSError as exc:
            raise MaterialError(
                f"cannot add the host key to {self.path}: {exc.strerror}",
                hint="check the permissions of the known_hosts file and its folder",
            ) from None
        self.entries.append(Entry(0, name, key))


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _matches(patterns: str, name: str) -> bool:
    if patterns.startswith("|1|"):
        return _hashed_matches(patterns, name)
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if _glob(pattern.lower(), name):
            if negated:
                return False
            matched = True
    return matched


def _hashed_matches(entry: str, name: str) -> bool:
    try:
        _, _, salt64, hash64 = entry.split("|", 3)
        salt = base64.b64decode(salt64)
        expected = base64.b64decode(hash64)
    except ValueError:
        return False
    actual = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(actual, expected)


def _glob(pattern: str, name: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name) is not None


def decide(
    presented: HostKey,
    *,
    host: str,
    port: int,
    aliases: tuple[str, ...] = (),
    known_hosts: KnownHosts,
    pin: str | None = None,
    accept_new: bool = False,
) -> Trust:
    """Trust `presented` for `host:port`, or raise `HostKeyNotTrusted` with what to do.

    `aliases` are other names of the same endpoint (the address dialled, when a site gives
    one): an entry under any of them counts.
    """
    fp = presented.fingerprint
    where = f"{host}:{port}"
    name = host_entry(host, port)
    if pin is not None:
        if hmac.compare_digest(pin.strip(), fp):
            return Trust.PINNED
        raise HostKeyNotTrusted(
            f"host key of {where} does not match the pinned fingerprint: the appliance "
            f"presented {presented.type} {fp}, --host-key says {pin}",
            hint=(
                "if the appliance was rebuilt and you have verified the new key on its console "
                f"(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), pin it: --host-key {fp}"
            ),
        )
    names = [name, *(host_entry(a, port) for a in aliases if a and a.lower() != host.lower())]
    entries = known_hosts.for_names(names)
    for entry in entries:
        if entry.marker == "@revoked" and entry.key.blob == presented.blob:
            raise HostKeyNotTrusted(
                f"host key {fp} of {where} is marked @revoked in {known_hosts.path} "
                f"line {entry.line}",
                hint="the key was revoked on purpose; ask the appliance's owner",
            )
    plain = [e for e in entries if e.marker is None]
    if any(e.key.type == presented.type and e.key.blob == presented.blob for e in plain):
        return Trust.KNOWN
    if plain:
        lines = ", ".join(str(e.line) for e in plain if e.line)
        known = ", ".join(sorted({f"{e.key.type} {e.key.fingerprint}" for e in plain}))
        raise HostKeyNotTrusted(
            f"HOST KEY CHANGED for {where}: {known_hosts.path} (line {lines or '?'}) has "
            f"{known}, the appliance presented {presented.type} {fp}",
            hint=(
                "this may be an attack; if the appliance was rebuilt, verify the new key on its "
                f"console, then remove the old entry (ssh-keygen -R '{name}' -f "
                f"{known_hosts.path}) and pin the new one with --host-key {fp}"
            ),
        )
    if accept_new:
        known_hosts.append(name, presented)
        return Trust.ADDED
    raise HostKeyNotTrusted(
        f"host key of {where} is not known: the appliance presented {presented.type} {fp} "
        f"and {known_hosts.path} has no entry for {name}",
        hint=(
            "verify it on the appliance console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
            f"then pass --host-key {fp}, or trust it on first use with --accept-new-host-key "
            f"(adds it to {known_hosts.path}), or add it yourself: ssh-keyscan -p {port} "
            f"{host} >> {known_hosts.path}"
        ),
    )
