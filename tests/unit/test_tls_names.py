"""RFC 6125 host-name matching: one-label wildcards, case, IDNA."""

from __future__ import annotations

import pytest

from ghes_setup.tls import names
from tests.tls.corpus import pki


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("ghe.example.com", "ghe.example.com", True),
        ("GHE.Example.COM", "ghe.example.com", True),
        ("ghe.example.com", "ghe.example.com.", True),  # the host asked for may end in a dot
        ("ghe.example.com.", "ghe.example.com", False),  # a certificate's name may not
        ("*.ghe.example.com.", "containers.ghe.example.com", False),
        (" ghe.example.com", "ghe.example.com", False),
        ("*.ghe.example.com", "containers.ghe.example.com", True),
        ("*.ghe.example.com", "CONTAINERS.GHE.EXAMPLE.COM", True),
        ("*.ghe.example.com", "ghe.example.com", False),  # never the apex
        ("*.ghe.example.com", "a.b.ghe.example.com", False),  # exactly one label
        ("*.example.com", "containers.ghe.example.com", False),
        ("*.example.com", "ghe.example.com", True),
        ("*.*.ghe.example.com", "a.b.ghe.example.com", False),  # only the left-most label
        ("a*.ghe.example.com", "ab.ghe.example.com", False),  # no partial-label wildcards
        ("*.com", "example.com", False),  # no wildcard over a single label
        ("*", "localhost", False),
        ("ghe.example.com", "*.ghe.example.com", False),  # a host is never a pattern
        ("", "ghe.example.com", False),
    ],
)
def test_matches_follows_the_one_label_wildcard_rule(
    pattern: str, host: str, expected: bool
) -> None:
    assert names.matches(pattern, host) is expected


def test_unicode_host_matches_its_a_label_form() -> None:
    assert names.to_ascii("GHE.Bücher.example") == "ghe.xn--bcher-kva.example"
    assert names.matches("*.xn--bcher-kva.example", "ghe.bücher.example")
    assert names.matches("xn--bcher-kva.example", "Bücher.example")


def test_a_certificate_name_in_u_labels_matches_nothing() -> None:
    # A SAN is an IA5String: clients compare its bytes, and never decode it from Unicode.
    assert not names.matches("ghe.bücher.example", "ghe.xn--bcher-kva.example")
    assert not names.matches("*.bücher.example", "a.xn--bcher-kva.example")
    assert not names.covers_wildcard(["*.bücher.example"], "bücher.example")


def test_invalid_internationalised_name_never_matches() -> None:
    with pytest.raises(ValueError, match="internationalised"):
        names.to_ascii("a\u200b" + "x" * 70 + "é.example.com")
    assert not names.matches("ghe.example.com", "a\u200b" + "x" * 70 + "é.example.com")


def test_covers_wildcard_needs_the_literal_wildcard_for_the_hostname() -> None:
    assert names.covers_wildcard(["ghe.example.com", "*.GHE.example.com"], "ghe.example.com")
    assert not names.covers_wildcard(["*.example.com"], "ghe.example.com")
    assert not names.covers_wildcard(["*.ghe.example.com."], "ghe.example.com")


def test_cn_is_ignored_when_sans_exist_and_only_used_when_asked() -> None:
    p = pki()
    with_sans = p.leaf(sans=("other.example.com",))
    assert names.dns_names(with_sans, cn_fallback=True) == ("other.example.com",)
    without = p.leaf(sans=None)
    assert names.san_dns_names(without) is None
    assert names.dns_names(without) == ()
    assert names.dns_names(without, cn_fallback=True) == ("ghe.example.com",)
