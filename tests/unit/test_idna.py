"""IDNA 2008 host names everywhere: the tool and its HTTP client (httpx) agree on a name.

Python's own "idna" codec is IDNA 2003, which maps `ß` to `ss`; httpx encodes with the `idna`
package (IDNA 2008). Were the tool to use the codec, `straße.example` would be two hosts: one
for the tool's DNS checks, certificate names and `--resolve` pins, another for every request.
"""

from __future__ import annotations

import httpx
import pytest

from ghes_setup.config.site import validate_hostname
from ghes_setup.errors import InputError
from ghes_setup.net import ResolveOverrides, to_ascii, valid_a_label
from ghes_setup.tls import names

STRASSE_2008 = "xn--strae-oqa.example"


def test_sharp_s_is_idna_2008_not_the_2003_codec() -> None:
    assert "straße.example".encode("idna") == b"strasse.example"  # the codec we must not use
    assert to_ascii("straße.example") == STRASSE_2008
    assert to_ascii("Straße.Example.") == STRASSE_2008


def test_the_tool_and_httpx_agree_on_the_host() -> None:
    for name in ("straße.example", "ghe.bücher.example", "ΣΊΣΥΦΟΣ.example", "ghe.faß.de"):
        url = httpx.URL(f"https://{name.lower()}/v2/")
        assert url.raw_host.decode("ascii") == to_ascii(name), name


def test_uts46_mapping_and_wildcards() -> None:
    assert to_ascii("ghe\u3002bücher\u3002example") == "ghe.xn--bcher-kva.example"  # 。 dots
    assert to_ascii("*.straße.example") == "*." + STRASSE_2008
    assert names.matches("*." + STRASSE_2008, "ghe.straße.example")


def test_invalid_names_are_value_errors() -> None:
    with pytest.raises(ValueError, match="internationalised"):
        to_ascii("a\u200b" + "x" * 70 + "é.example.com")  # zero-width space: disallowed
    with pytest.raises(ValueError, match="internationalised"):
        to_ascii("\u0661\u0662a.example")  # bidi rule: Arabic digits next to a Latin letter


def test_site_hostname_accepts_2008_a_labels_and_refuses_broken_ones() -> None:
    assert validate_hostname("ghe.straße.example") == "ghe." + STRASSE_2008
    assert validate_hostname("ghe." + STRASSE_2008) == "ghe." + STRASSE_2008  # 2003 said invalid
    assert valid_a_label("xn--strae-oqa")
    assert not valid_a_label("xn--zz")
    with pytest.raises(InputError, match="A-label"):
        validate_hostname("ghe.xn--zz.example")


def test_resolve_pins_unicode_names_in_a_labels() -> None:
    pins = ResolveOverrides.parse([".straße.example:10.0.0.5", "ghe.bücher.example:10.0.0.6"])
    assert pins.lookup("containers.ghe." + STRASSE_2008) == ("10.0.0.5",)
    assert pins.lookup("Containers.GHE.Straße.example") == ("10.0.0.5",)
    assert pins.lookup("ghe.xn--bcher-kva.example") == ("10.0.0.6",)
    assert pins.lookup("strasse.example") is None
    with pytest.raises(InputError, match="not a valid host name"):
        ResolveOverrides.parse(["\u0661\u0662a.example:10.0.0.5"])


def test_dns_queries_go_out_in_idna_2008_a_labels() -> None:
    """dnspython alone would encode a Unicode name by IDNA 2003 (`strasse.example`)."""
    from tests.unit.test_dns_resolver import NS1, Zone, ZoneResolver

    resolver = ZoneResolver({NS1: Zone({"ghe." + STRASSE_2008: [("A", "10.0.0.5")]})})
    result = resolver.lookup("ghe.straße.example")
    assert result.addresses == ("10.0.0.5",)
    assert {name for _, name, _ in resolver.sent} == {"ghe." + STRASSE_2008}
