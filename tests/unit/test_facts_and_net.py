"""The facts table and the name-resolution overrides."""

from __future__ import annotations

import pytest

from ghes_setup import facts
from ghes_setup.errors import InputError
from ghes_setup.facts import GhesVersion, isolation_subdomains
from ghes_setup.net import Nameserver, ResolveOverrides, SystemResolver


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.17", GhesVersion(3, 17)),
        ("3.17.2", GhesVersion(3, 17, 2)),
        ("v3.9.0", GhesVersion(3, 9, 0)),
        ("enterprise-server@3.12.4", GhesVersion(3, 12, 4)),
        ("3.11.0.rc1", GhesVersion(3, 11, 0)),
    ],
)
def test_versions_parse(text: str, expected: GhesVersion) -> None:
    assert GhesVersion.parse(text) == expected


def test_versions_order_by_feature_then_patch() -> None:
    assert GhesVersion.parse("3.9") < GhesVersion.parse("3.10") < GhesVersion.parse("3.10.1")
    with pytest.raises(ValueError, match="not a GHES version"):
        GhesVersion.parse("three")


def test_subdomain_list_follows_the_version_gates() -> None:
    old = isolation_subdomains(GhesVersion(3, 4))
    assert "containers" not in old and "render" in old and "notebooks" not in old
    mid = isolation_subdomains(GhesVersion(3, 6))
    assert "containers" in mid and "render" in mid and "viewscreen" not in mid
    new = isolation_subdomains(GhesVersion(3, 17))
    assert {"containers", "notebooks", "viewscreen"} <= set(new) and "render" not in new
    assert isolation_subdomains(None) == new  # default: a current release


def test_settings_table_has_unique_names_and_keys_and_marks_unverified_ones() -> None:
    names = [s.name for s in facts.SETTINGS]
    keys = [s.ghe_config_key for s in facts.SETTINGS]
    assert len(set(names)) == len(names) and len(set(keys)) == len(keys)
    unverified = {s.ghe_config_key for s in facts.SETTINGS if not s.key_verified}
    assert "core.subdomain-isolation" in unverified and "github-ssl.key" in unverified
    assert "app.packages.enabled" not in unverified
    assert all(s.source for s in facts.SETTINGS)


def test_ghe_version_output_is_parsed_like_backup_utils() -> None:
    m = facts.GHE_VERSION_PATTERN.search("GitHub Enterprise Server 3.6.1 ami 2022-08-24 0616a9cb7b")
    assert m and m.group(1) == "3.6.1"


@pytest.mark.parametrize(
    ("text", "address", "port"),
    [
        ("10.0.0.53", "10.0.0.53", 53),
        ("10.0.0.53:5353", "10.0.0.53", 5353),
        ("::1", "::1", 53),
        ("[::1]:5353", "::1", 5353),
    ],
)
def test_nameserver_parsing(text: str, address: str, port: int) -> None:
    assert Nameserver.parse(text) == Nameserver(address, port)


@pytest.mark.parametrize("text", ["ns.example.com", "10.0.0.53:0", "10.0.0.53:99999", "1.2.3.4:x"])
def test_bad_nameserver_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError):
        Nameserver.parse(text)


def test_resolve_overrides_exact_suffix_and_curl_port_form() -> None:
    o = ResolveOverrides.parse(
        [
            "ghe.example.com:10.0.0.5",
            ".ghe.example.com:10.0.0.6",
            "other.example.com:443:10.0.0.7",
            "v6.example.com:[fd00::1]",
        ]
    )
    assert o.lookup("GHE.example.com.") == ("10.0.0.5",)
    assert o.lookup("containers.ghe.example.com") == ("10.0.0.6",)
    assert o.lookup("other.example.com") == ("10.0.0.7",)
    assert o.lookup("v6.example.com") == ("fd00::1",)
    assert o.lookup("unrelated.example.org") is None


@pytest.mark.parametrize("text", ["ghe.example.com", "ghe.example.com:not-an-ip", ":10.0.0.5"])
def test_bad_resolve_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError):
        ResolveOverrides.parse([text])


def test_system_resolver_uses_pins_and_passes_ip_literals_through() -> None:
    r = SystemResolver(ResolveOverrides.parse([".lab.test:127.0.0.9"]))
    assert r.addresses("ghe.lab.test") == ("127.0.0.9",)
    assert r.addresses("127.0.0.1") == ("127.0.0.1",)


def test_an_https_authority_leaves_out_the_default_port() -> None:
    # The one formatter of the registry ping, the smoke test, the capture probe and the client.
    assert facts.https_authority("ghe.example.com", 443) == "ghe.example.com"
    assert facts.https_authority("containers.ghe.example.com", 8443) == (
        "containers.ghe.example.com:8443"
    )
    assert facts.https_authority("127.0.0.1", 4443) == "127.0.0.1:4443"
