"""Registry authentication, the pure part: challenges, scopes, tokens and the token cache.

No I/O here (the client in `client.py` does the requests), so every rule can be tested alone:

- `parse_www_authenticate` reads RFC 7235 challenges (`Bearer realm="...",service="...",
  scope="...",error="..."` and `Basic realm="..."`): case-insensitive scheme and parameter
  names, quoted strings with backslash escapes and commas inside, several challenges in one
  header, token68 credentials. It never raises: garbage yields fewer (or no) challenges.
- `Scope`/`ScopeSet` normalise `repository:org/img:push,pull` to a set keyed by resource and
  sorted actions. The token cache is keyed by that set, never by the challenge's text: the
  registry writes the actions in varying order (docs/reference/lab-findings.md §1, a real bug seen
  there).
- `TokenCache.find` returns a token whose granted scopes cover the request and which has not
  expired (with a safety margin), so one `pull,push` token also serves a `pull`.

Distribution token spec: https://distribution.github.io/distribution/spec/auth/token/
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ghes_setup.secrets import Secret

# RFC 7230 tchar, and RFC 7235 token68 characters.
_TCHAR: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_TOKEN68: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SPACE: Final = " \t"

# The token spec says a client SHOULD assume 60 s when the response has no expires_in.
DEFAULT_TOKEN_LIFETIME_S: Final = 60.0


class _Param:
    """A challenge parameter read as an attribute: `challenge.realm` is `challenge.get("realm")`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, challenge: Challenge, owner: type | None = None) -> str | None:
        return challenge.get(self.name)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a WWW-Authenticate header. `scheme` and parameter names are lower case."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None

    # The parameters the token flow reads (distribution's token spec; RFC 6750 §3 for error).
    realm = _Param()
    service = _Param()
    scope = _Param()
    error = _Param()

    def get(self, name: str) -> str | None:
        return self.params.get(name.lower())


def parse_www_authenticate(values: str | Iterable[str]) -> list[Challenge]:
    """All challenges in one header value, or in several values of the header (in order)."""
    if isinstance(values, str):
        values = [values]
    out: list[Challenge] = []
    for value in values:
        out.extend(_parse_one(value))
    return out


def _parse_one(text: str) -> list[Challenge]:
    challenges: list[tuple[str, dict[str, str], list[str]]] = []
    i, n = 0, len(text)
    after_scheme = False  # just read a scheme: a token68 may follow
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if ch == ",":
            after_scheme = False
            i += 1
            continue
        if after_scheme:
            m = _TOKEN68.match(text, i)
            if m and m.group().endswith("=") and _at_list_end(text, m.end()):
                challenges[-1][2].append(m.group())
                i = m.end()
                after_scheme = False
                continue
            if m and "=" not in m.group() and _at_list_end(text, m.end()):
                # "Negotiate abc": a token68, unless it is followed by "=" (a parameter).
                challenges[-1][2].append(m.group())
                i = m.end()
                after_scheme = False
                continue
        start = i
        while i < n and text[i] in _TCHAR:
            i += 1
        word = text[start:i]
        if not word:
            i += 1  # a character no rule allows here: skip it
            after_scheme = False
            continue
        j = i
        while j < n and text[j] in _SPACE:
            j += 1
        if j < n and text[j] == "=" and challenges:
            value, i = _param_value(text, j + 1)
            params = challenges[-1][1]
            params.setdefault(word.lower(), value)  # a repeated parameter: the first wins
            after_scheme = False
            continue
        challenges.append((word.lower(), {}, []))
        after_scheme = True
    return [
        Challenge(scheme, params, token68[0] if token68 else None)
        for scheme, params, token68 in challenges
    ]


def _at_list_end(text: str, i: int) -> bool:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i >= len(text) or text[i] == ","


def _param_value(text: str, i: int) -> tuple[str, int]:
    n = len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    if i < n and text[i] == '"':
        i += 1
        chars: list[str] = []
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                chars.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                return "".join(chars), i + 1
            chars.append(ch)
            i += 1
        return "".join(chars), n  # unterminated: take the rest, do not fail
    start = i
    while i < n and (text[i] in _TCHAR or text[i] in "/:="):
        i += 1
    return text[start:i], i


def format_challenge(challenge: Challenge) -> str:
    """The header text for a challenge (quoting every parameter): the inverse of the parser."""
    parts = [f'{name}="{_quote(value)}"' for name, value in challenge.params.items()]
    head = (
        challenge.scheme if challenge.token68 is None else f"{challenge.scheme} {challenge.token68}"
    )
    return f"{head} {','.join(parts)}" if parts else head


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


# --------------------------------------------------------------------------- scopes


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """`repository:org/img:pull,push` as (type, name, sorted actions)."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def repository(cls, name: str, actions: Iterable[str]) -> Scope:
        return cls("repository", name, tuple(sorted(set(actions))))

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """One scope; None when it is not `type:name:actions`. The name may contain ':'."""
        kind, sep, rest = text.partition(":")
        if not sep:
            return None
        name, sep, acts = rest.rpartition(":")
        if not sep or not kind or not name:
            return None
        actions = tuple(sorted({a.strip() for a in acts.split(",") if a.strip()}))
        return cls(kind, name, actions)

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True, slots=True)
class ScopeSet:
    """A normalised set of scopes: one entry per resource, its actions merged and sorted."""

    scopes: frozenset[Scope] = frozenset()

    @classmethod
    def of(cls, scopes: Iterable[Scope]) -> ScopeSet:
        merged: dict[tuple[str, str], set[str]] = {}
        for s in scopes:
            merged.setdefault((s.type, s.name), set()).update(s.actions)
        return cls(frozenset(Scope(t, n, tuple(sorted(a))) for (t, n), a in merged.items()))

    @classmethod
    def parse(cls, text: str | None) -> ScopeSet:
        """A challenge's `scope` parameter: space-separated scopes."""
        if not text:
            return cls()
        return cls.of(s for s in (Scope.parse(p) for p in text.split()) if s is not None)

    def union(self, other: ScopeSet) -> ScopeSet:
        return ScopeSet.of([*self.scopes, *other.scopes])

    __or__ = union

    def covers(self, other: ScopeSet) -> bool:
        """True when every action `other` asks for is in this set."""
        mine = {(s.type, s.name): set(s.actions) for s in self.scopes}
        for s in other.scopes:
            have = mine.get((s.type, s.name))
            if have is None:
                return False
            if "*" not in have and not set(s.actions) <= have:
                return False
        return True

    def strings(self) -> list[str]:
        """One string per scope, sorted: the `scope` query parameters of a token request."""
        return sorted(str(s) for s in self.scopes)

    def __str__(self) -> str:
        return " ".join(self.strings())

    def __bool__(self) -> bool:
        return bool(self.scopes)


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class Token:
    """A registry bearer token. `expires_at` is on the caller's monotonic clock."""

    value: Secret
    scopes: ScopeSet
    expires_at: float
    lifetime_s: float

    def valid_at(self, now: float) -> bool:
        # Renew a little early: a token that expires in flight costs a 401 and a re-send.
        margin = min(10.0, self.lifetime_s / 10)
        return now < self.expires_at - margin


class TokenResponseError(ValueError):
    """The token service's answer is not a token response."""


def parse_token_response(body: bytes, scopes: ScopeSet, now: float) -> Token:
    """`{"token": ..., "access_token": ..., "expires_in": ...}`; either token field will do."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise TokenResponseError("the token service did not answer with JSON") from None
    if not isinstance(doc, dict):
        raise TokenResponseError("the token service's JSON is not an object")
    value = doc.get("token") or doc.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenResponseError("the token service's answer has no token or access_token")
    lifetime = doc.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME_S
    return Token(Secret(value, "registry token"), scopes, now + float(lifetime), float(lifetime))


class TokenCache:
    """Tokens by the normalised set of scopes they were granted for; thread-safe."""

    def __init__(self) -> None:
        self._tokens: dict[ScopeSet, Token] = {}
        self._lock = threading.Lock()

    def find(self, wanted: ScopeSet, now: float) -> Token | None:
        """An unexpired token whose scopes cover `wanted` (the exact set first)."""
        with self._lock:
            exact = self._tokens.get(wanted)
            if exact is not None and exact.valid_at(now):
                return exact
            for key, token in self._tokens.items():
                if token.valid_at(now) and key.covers(wanted):
                    return token
        return None

    def put(self, token: Token) -> None:
        with self._lock:
            self._tokens[token.scopes] = token

    def discard(self, token: Token) -> None:
        with self._lock:
            if self._tokens.get(token.scopes) is token:
                del self._tokens[token.scopes]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)
