"""NO_PROXY by Go's and curl's rules: one table, each row a case where the two may differ."""

from __future__ import annotations

import pytest

from ghes_setup.client.noproxy import (
    Rules,
    choose,
    curl_entries,
    matches_curl,
    matches_go,
    parse_proxy,
    redact_url,
)

GO, CURL = Rules.GO, Rules.CURL
HOST = "containers.ghe.example.com"

# (NO_PROXY entry, host, port, Go says direct, curl says direct)
CASES = [
    # exact names
    ("ghe.example.com", "ghe.example.com", 443, True, True),
    ("GHE.Example.COM", "ghe.example.com", 443, True, True),
    # a plain domain covers every name under it, in both
    ("ghe.example.com", HOST, 443, True, True),
    # but not a name that merely ends with the same letters
    ("example.com", "ghe.badexample.com", 443, False, False),
    ("ghe.example.com", "xghe.example.com", 443, False, False),
    # leading dot: Go matches only names under it; curl drops the dot and matches the name too
    (".ghe.example.com", HOST, 443, True, True),
    (".ghe.example.com", "ghe.example.com", 443, False, True),
    # *. prefix: Go treats it as a leading dot; curl does not understand it at all
    ("*.ghe.example.com", HOST, 443, True, False),
    ("*.ghe.example.com", "ghe.example.com", 443, False, False),
    # trailing dots are ignored
    ("ghe.example.com.", HOST, 443, True, True),
    # ports: Go honours them, curl has no port syntax
    ("ghe.example.com:443", HOST, 443, True, False),
    ("ghe.example.com:8443", HOST, 443, False, False),
    # CIDRs and IPs match IP literals only, never a name that resolves into them
    ("10.0.0.0/8", "10.1.2.3", 443, True, True),
    ("10.0.0.0/8", "11.1.2.3", 443, False, False),
    ("10.0.0.0/8", HOST, 443, False, False),
    ("10.1.2.3", "10.1.2.3", 443, True, True),
    ("2001:db8::/32", "2001:db8::5", 443, True, True),
    ("[2001:db8::5]", "2001:db8::5", 443, True, True),
    # an IP entry never matches a name, a name never matches an IP
    ("10.1.2.3", HOST, 443, False, False),
    ("example.com", "10.1.2.3", 443, False, False),
    # empty entries match nothing
    ("", HOST, 443, False, False),
]


@pytest.mark.parametrize(("entry", "host", "port", "go", "curl"), CASES)
def test_no_proxy_entry_matches_like_go_and_curl(
    entry: str, host: str, port: int, go: bool, curl: bool
) -> None:
    assert matches_go(entry, host, port) is go
    assert matches_curl(entry, host, port) is curl


@pytest.mark.parametrize(("entry", "host", "port", "go", "curl"), CASES)
def test_choose_goes_direct_exactly_when_an_entry_matches(
    entry: str, host: str, port: int, go: bool, curl: bool
) -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": f"other.corp, {entry}"}
    assert choose(env, host, port, GO).direct is go
    assert choose(env, host, port, CURL).direct is curl
    if go:
        assert choose(env, host, port, GO).bypass == (entry.strip() or None)


def test_a_lone_star_disables_the_proxy_for_both() -> None:
    env = {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}
    assert choose(env, HOST, 443, GO).direct
    assert choose(env, HOST, 443, CURL).direct


def test_star_inside_a_list_disables_the_proxy_for_go_only() -> None:
    env = {"https_proxy": "http://p:3128", "no_proxy": "localhost,*"}
    assert choose(env, HOST, 443, GO).direct
    assert not choose(env, HOST, 443, CURL).direct


def test_variable_precedence_differs_between_go_and_curl() -> None:
    env = {
        "HTTPS_PROXY": "http://upper:3128",
        "https_proxy": "http://lower:3128",
        "NO_PROXY": "ghe.example.com",
        "no_proxy": "",
    }
    go = choose(env, HOST, 443, GO)
    curl = choose(env, HOST, 443, CURL)
    assert go.direct and go.bypass == "ghe.example.com"
    # curl: https_proxy first; an empty no_proxy counts as unset, so NO_PROXY applies
    assert curl.direct and curl.no_proxy_variable == "NO_PROXY"
    only_lower = {"https_proxy": "http://lower:3128"}
    assert choose(only_lower, HOST, 443, GO).proxy == "http://lower:3128"
    assert choose(only_lower, HOST, 443, GO).variable == "https_proxy"


def test_all_proxy_counts_for_curl_not_for_go() -> None:
    env = {"ALL_PROXY": "http://all:3128"}
    assert choose(env, HOST, 443, GO).direct
    assert choose(env, HOST, 443, CURL).proxy == "http://all:3128"


def test_go_never_proxies_loopback() -> None:
    env = {"HTTPS_PROXY": "http://p:3128"}
    assert choose(env, "localhost", 443, GO).direct
    assert choose(env, "127.0.0.1", 443, GO).direct
    assert not choose(env, "127.0.0.1", 443, CURL).direct


def test_no_proxy_set_means_direct_without_a_bypass_entry() -> None:
    choice = choose({}, HOST, 443, GO)
    assert choice.direct and choice.bypass is None and choice.proxy is None


def test_proxy_passwords_are_redacted_and_parsed() -> None:
    assert redact_url("http://bob:s3cret@proxy:3128") == "http://bob:***@proxy:3128"
    assert redact_url("http://proxy:3128") == "http://proxy:3128"
    parsed = parse_proxy("bob:s3cret@proxy.corp:3128")
    assert (parsed.scheme, parsed.host, parsed.port, parsed.username) == (
        "http",
        "proxy.corp",
        3128,
        "bob",
    )
    assert parse_proxy("http://proxy.corp").port == 80
    with pytest.raises(ValueError, match="without a host"):
        parse_proxy("http://:3128")


@pytest.mark.parametrize(
    ("no_proxy", "entries"),
    [
        ("a.corp,b.corp", ["a.corp", "b.corp"]),
        (" a.corp , ,b.corp,", ["a.corp", "b.corp"]),
        ("a.corp\t,\tb.corp", ["a.corp", "b.corp"]),
        # a blank followed by anything but a comma ends curl's list
        ("localhost ghe.example.com", ["localhost"]),
        ("a.corp, b.corp c.corp,d.corp", ["a.corp", "b.corp"]),
        ("", []),
        (" ", []),
    ],
)
def test_curl_reads_entries_up_to_a_blank_without_a_comma(
    no_proxy: str, entries: list[str]
) -> None:
    assert curl_entries(no_proxy) == entries


def test_space_separated_names_go_through_the_proxy_for_both() -> None:
    env = {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": f"localhost {HOST}"}
    assert not choose(env, HOST, 443, GO).direct
    assert not choose(env, HOST, 443, CURL).direct


def test_a_star_with_blanks_is_not_a_lone_star_for_curl() -> None:
    env = {"https_proxy": "http://p:3128", "no_proxy": " * "}
    assert not choose(env, HOST, 443, CURL).direct
