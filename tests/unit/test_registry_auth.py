"""WWW-Authenticate parsing, scopes and the token cache (pure functions, no sockets)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ghes_setup.registry.auth import (
    DEFAULT_TOKEN_LIFETIME_S,
    Challenge,
    Scope,
    ScopeSet,
    TokenCache,
    TokenResponseError,
    format_challenge,
    parse_token_response,
    parse_www_authenticate,
)

# --------------------------------------------------------------------------- challenges


def test_bearer_challenge_of_distribution_is_parsed() -> None:
    header = (
        'Bearer realm="https://containers.ghe.example.com/token",'
        'service="containers.ghe.example.com",scope="repository:octo/app:pull,push"'
    )
    [c] = parse_www_authenticate(header)
    assert c.scheme == "bearer"
    assert c.realm == "https://containers.ghe.example.com/token"
    assert c.service == "containers.ghe.example.com"
    assert c.scope == "repository:octo/app:pull,push"
    assert c.error is None


def test_scheme_and_parameter_names_are_case_insensitive() -> None:
    [c] = parse_www_authenticate('BEARER Realm="r", SERVICE="s", Error="insufficient_scope"')
    assert (c.scheme, c.realm, c.service, c.error) == ("bearer", "r", "s", "insufficient_scope")


def test_quoted_values_keep_commas_and_escaped_quotes() -> None:
    [c] = parse_www_authenticate(r'Bearer realm="a,b", scope="x \"y\" \\z", error=invalid_token')
    assert c.realm == "a,b"
    assert c.scope == 'x "y" \\z'
    assert c.error == "invalid_token"


def test_several_challenges_in_one_header_and_in_several_headers() -> None:
    both = parse_www_authenticate(
        'Basic realm="Registry", Bearer realm="https://t/token",service="s"'
    )
    assert [c.scheme for c in both] == ["basic", "bearer"]
    assert both[0].realm == "Registry" and both[1].service == "s"
    many = parse_www_authenticate(['Basic realm="x"', 'Bearer realm="y"'])
    assert [(c.scheme, c.realm) for c in many] == [("basic", "x"), ("bearer", "y")]


def test_token68_and_bare_schemes_are_recognised() -> None:
    got = parse_www_authenticate("Negotiate abc+/=, Basic, Bearer realm=https://t/token")
    assert [(c.scheme, c.token68) for c in got] == [
        ("negotiate", "abc+/="),
        ("basic", None),
        ("bearer", None),
    ]
    assert got[2].realm == "https://t/token"


@pytest.mark.parametrize(
    "garbage",
    ['Bearer realm="unterminated', "=,=,=", '"""', "Bearer ,,,, realm", "", "\x00\xff", "a=b"],
)
def test_malformed_headers_do_not_raise(garbage: str) -> None:
    result = parse_www_authenticate(garbage)
    assert isinstance(result, list)
    assert all(isinstance(c, Challenge) for c in result)


def test_unterminated_quote_takes_the_rest_of_the_header() -> None:
    [c] = parse_www_authenticate('Bearer realm="https://t/token, service=x')
    assert c.realm == "https://t/token, service=x"


@settings(max_examples=500)
@given(st.text())
def test_arbitrary_input_never_crashes(text: str) -> None:
    for c in parse_www_authenticate(text):
        assert c.scheme == c.scheme.lower() and c.scheme
        assert all(k == k.lower() for k in c.params)


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~!#$%&'*+^`|", min_size=1)
_CHALLENGE = st.builds(
    lambda scheme, params: Challenge(scheme, params),
    _TOKEN,
    st.dictionaries(_TOKEN, st.text(), max_size=5),
)


@settings(max_examples=500)
@given(st.lists(_CHALLENGE, min_size=1, max_size=4))
def test_generated_valid_challenges_round_trip(challenges: list[Challenge]) -> None:
    header = ", ".join(format_challenge(c) for c in challenges)
    parsed = parse_www_authenticate(header)
    assert [(c.scheme, dict(c.params)) for c in parsed] == [
        (c.scheme, dict(c.params)) for c in challenges
    ]


# --------------------------------------------------------------------------- scopes


def test_scope_actions_are_normalised_whatever_their_order() -> None:
    a = Scope.parse("repository:octo/app:push,pull")
    b = Scope.parse("repository:octo/app:pull,push")
    assert a == b and str(a) == "repository:octo/app:pull,push"


def test_scope_name_may_contain_a_port() -> None:
    s = Scope.parse("repository:registry.local:5000/octo/app:pull")
    assert s is not None and s.name == "registry.local:5000/octo/app" and s.actions == ("pull",)


@pytest.mark.parametrize("bad", ["", "repository", "repository:", ":x:pull", "repository::pull"])
def test_malformed_scopes_are_ignored(bad: str) -> None:
    assert Scope.parse(bad) is None
    assert not ScopeSet.parse(bad)


def test_scope_set_merges_actions_per_resource() -> None:
    merged = ScopeSet.parse("repository:a:pull repository:a:push repository:b:pull")
    assert merged.strings() == ["repository:a:pull,push", "repository:b:pull"]


@given(st.permutations(["pull", "push", "delete"]))
def test_scope_sets_with_permuted_actions_are_equal_keys(actions: list[str]) -> None:
    text = f"repository:octo/app:{','.join(actions)}"
    assert ScopeSet.parse(text) == ScopeSet.parse("repository:octo/app:delete,pull,push")
    other = ScopeSet.parse("repository:octo/app:pull,delete,push")
    assert hash(ScopeSet.parse(text)) == hash(other)


def test_wider_scope_covers_narrower_but_not_the_reverse() -> None:
    wide = ScopeSet.parse("repository:a:pull,push")
    narrow = ScopeSet.parse("repository:a:pull")
    assert wide.covers(narrow)
    assert not narrow.covers(wide)
    assert not wide.covers(ScopeSet.parse("repository:b:pull"))
    assert ScopeSet.parse("repository:a:*").covers(wide)


# --------------------------------------------------------------------------- tokens


def _token(scopes: str, now: float = 0.0, lifetime: int = 300):  # type: ignore[no-untyped-def]
    body = json.dumps({"token": f"tok-{scopes}", "expires_in": lifetime}).encode()
    return parse_token_response(body, ScopeSet.parse(scopes), now)


def test_cache_finds_token_regardless_of_action_order_in_the_request() -> None:
    cache = TokenCache()
    tok = _token("repository:a:pull,push")
    cache.put(tok)
    assert cache.find(ScopeSet.parse("repository:a:push,pull"), 1.0) is tok


def test_cache_reuses_a_wider_token_for_a_narrower_request() -> None:
    cache = TokenCache()
    tok = _token("repository:a:pull,push")
    cache.put(tok)
    assert cache.find(ScopeSet.parse("repository:a:pull"), 1.0) is tok
    assert cache.find(ScopeSet.parse("repository:a:delete"), 1.0) is None


def test_cache_does_not_return_an_expired_token() -> None:
    cache = TokenCache()
    cache.put(_token("repository:a:pull", now=0.0, lifetime=60))
    wanted = ScopeSet.parse("repository:a:pull")
    assert cache.find(wanted, 40.0) is not None
    assert cache.find(wanted, 55.0) is None  # inside the safety margin


def test_discarded_token_is_not_found_again() -> None:
    cache = TokenCache()
    tok = _token("repository:a:pull")
    cache.put(tok)
    cache.discard(tok)
    assert cache.find(ScopeSet.parse("repository:a:pull"), 0.0) is None
    assert len(cache) == 0


def test_token_response_accepts_access_token_and_defaults_expiry() -> None:
    tok = parse_token_response(b'{"access_token": "abc"}', ScopeSet(), 100.0)
    assert tok.value.reveal() == "abc"
    assert tok.expires_at == 100.0 + DEFAULT_TOKEN_LIFETIME_S
    assert "abc" not in repr(tok)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"token": ""}', b'{"expires_in": 3}'])
def test_token_response_without_a_token_is_an_error(body: bytes) -> None:
    with pytest.raises(TokenResponseError):
        parse_token_response(body, ScopeSet(), 0.0)
