"""Host-key trust decisions, OpenSSH-compatible, without a server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from ghes_setup.appliance.known_hosts import (
    HostKey,
    KnownHosts,
    Trust,
    decide,
    fingerprint,
    host_entry,
)
from ghes_setup.errors import HostKeyNotTrusted

KEY = HostKey("ssh-ed25519", b"\x00\x00\x00\x0bssh-ed25519" + bytes(range(32)))
OTHER = HostKey("ssh-ed25519", b"\x00\x00\x00\x0bssh-ed25519" + bytes(range(1, 33)))


def kh(tmp_path: Path, *lines: str) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"{line}\n" for line in lines))
    return KnownHosts.load(path)


def test_fingerprint_is_openssh_sha256_without_padding() -> None:
    digest = base64.b64encode(hashlib.sha256(KEY.blob).digest()).decode().rstrip("=")
    assert fingerprint(KEY.blob) == f"SHA256:{digest}"
    assert not KEY.fingerprint.endswith("=")


def test_non_default_port_uses_bracket_form() -> None:
    assert host_entry("GHE.example.com", 122) == "[ghe.example.com]:122"
    assert host_entry("ghe.example.com", 22) == "ghe.example.com"


def test_known_key_is_trusted(tmp_path: Path) -> None:
    known = kh(tmp_path, f"[ghe.example.com]:122 ssh-ed25519 {KEY.base64}")
    assert decide(KEY, host="ghe.example.com", port=122, known_hosts=known) is Trust.KNOWN


def test_key_under_the_dialled_address_counts(tmp_path: Path) -> None:
    known = kh(tmp_path, f"[10.0.0.5]:122 ssh-ed25519 {KEY.base64}")
    got = decide(KEY, host="ghe.example.com", port=122, aliases=("10.0.0.5",), known_hosts=known)
    assert got is Trust.KNOWN


def test_unknown_key_is_refused_with_the_fingerprint_and_both_ways_to_trust_it(
    tmp_path: Path,
) -> None:
    known = kh(tmp_path)
    with pytest.raises(HostKeyNotTrusted) as info:
        decide(KEY, host="ghe.example.com", port=122, known_hosts=known)
    assert KEY.fingerprint in info.value.message
    assert f"--host-key {KEY.fingerprint}" in (info.value.hint or "")
    assert "--accept-new-host-key" in (info.value.hint or "")


def test_accept_new_adds_an_unknown_key_to_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "ssh" / "known_hosts"
    known = KnownHosts.load(path)
    got = decide(KEY, host="ghe.example.com", port=122, known_hosts=known, accept_new=True)
    assert got is Trust.ADDED
    assert path.read_text() == f"[ghe.example.com]:122 ssh-ed25519 {KEY.base64}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = decide(KEY, host="ghe.example.com", port=122, known_hosts=KnownHosts.load(path))
    assert again is Trust.KNOWN


def test_changed_key_is_refused_even_with_accept_new(tmp_path: Path) -> None:
    known = kh(tmp_path, "# comment", f"[ghe.example.com]:122 ssh-ed25519 {OTHER.base64}")
    with pytest.raises(HostKeyNotTrusted, match="HOST KEY CHANGED") as info:
        decide(KEY, host="ghe.example.com", port=122, known_hosts=known, accept_new=True)
    assert "line 2" in info.value.message
    assert "ssh-keygen -R '[ghe.example.com]:122'" in (info.value.hint or "")
    assert known.path.read_text().count("\n") == 2  # nothing appended


def test_pinned_fingerprint_replaces_known_hosts(tmp_path: Path) -> None:
    known = kh(tmp_path, f"[ghe.example.com]:122 ssh-ed25519 {OTHER.base64}")
    got = decide(KEY, host="ghe.example.com", port=122, known_hosts=known, pin=KEY.fingerprint)
    assert got is Trust.PINNED
    with pytest.raises(HostKeyNotTrusted, match="does not match the pinned") as info:
        decide(KEY, host="ghe.example.com", port=122, known_hosts=known, pin=OTHER.fingerprint)
    assert KEY.fingerprint in (info.value.hint or "")


def test_hashed_entries_match(tmp_path: Path) -> None:
    salt = os.urandom(20)
    name = b"[ghe.example.com]:122"
    digest = hmac.new(salt, name, hashlib.sha1).digest()
    line = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    known = kh(tmp_path, f"{line} ssh-ed25519 {KEY.base64}")
    assert decide(KEY, host="ghe.example.com", port=122, known_hosts=known) is Trust.KNOWN


def test_wildcards_and_negations(tmp_path: Path) -> None:
    known = kh(tmp_path, f"[*.example.com]:122,![bad.example.com]:122 ssh-ed25519 {KEY.base64}")
    assert decide(KEY, host="ghe.example.com", port=122, known_hosts=known) is Trust.KNOWN
    with pytest.raises(HostKeyNotTrusted, match="not known"):
        decide(KEY, host="bad.example.com", port=122, known_hosts=known)


def test_revoked_key_is_refused(tmp_path: Path) -> None:
    known = kh(
        tmp_path,
        f"@revoked [ghe.example.com]:122 ssh-ed25519 {KEY.base64}",
        f"[ghe.example.com]:122 ssh-ed25519 {KEY.base64}",
    )
    with pytest.raises(HostKeyNotTrusted, match="revoked"):
        decide(KEY, host="ghe.example.com", port=122, known_hosts=known)


def test_known_types_lists_what_the_file_has_for_the_host(tmp_path: Path) -> None:
    known = kh(
        tmp_path,
        f"[ghe.example.com]:122 ssh-rsa {KEY.base64}",
        f"other.example.com ssh-ed25519 {KEY.base64}",
    )
    assert known.known_types(["[ghe.example.com]:122"]) == ["ssh-rsa"]


def test_no_file_given_means_the_users_own_known_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert KnownHosts.load().path == tmp_path / ".ssh" / "known_hosts"
    given = tmp_path / "elsewhere"
    assert KnownHosts.load(given).path == given
