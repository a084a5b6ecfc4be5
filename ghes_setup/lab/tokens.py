"""The registry token service: registry JWTs for lab PATs, by their scopes.

Implements the Docker/CNCF token protocol (distribution.github.io/distribution/spec/auth/token)
the way distribution 2.8 verifies it (docs/reference/lab-findings.md §1): RS256 signed by the lab's
token key, the header's `kid` is the libtrust fingerprint of that key (its certificate is the
registry's `rootcertbundle`), `aud` a plain string equal to the service, `iss` the configured
issuer.

What a PAT grants follows GHES's Packages scopes (docs/reference/ghes-facts.md §5.3):
`read:packages` -> pull, `write:packages` -> push and pull, `delete:packages` -> delete; only in the
token owner's own namespace and the lab organisation. Anonymous callers get a token with empty
access (the registry then answers `denied`); a wrong PAT gets 401. Lab choice: the user name sent
with the PAT is not checked (the PAT identifies the user).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ghes_setup.lab import parts, pki
from ghes_setup.lab.http_common import JsonHandler, LabContext
from ghes_setup.lab.layout import Token

SCOPE_ACTIONS = {
    "read:packages": ("pull",),
    "write:packages": ("pull", "push"),
    "delete:packages": ("delete",),
}
TOKEN_SECONDS = 300


def allowed_actions(token: Token | None) -> set[str]:
    if token is None:
        return set()
    return {action for scope in token.scopes for action in SCOPE_ACTIONS.get(scope, ())}


def namespaces(ctx: LabContext, token: Token) -> set[str]:
    return {token.login.lower(), ctx.config.namespace.lower()}


def parse_scopes(values: list[str]) -> list[tuple[str, str, list[str]]]:
    """`repository:org/img:pull,push` (several per parameter, space-separated) -> tuples."""
    found = []
    for value in values:
        for item in value.split():
            kind, sep, rest = item.partition(":")
            if not sep or ":" not in rest:
                continue
            name, actions = rest.rsplit(":", 1)
            found.append((kind, name, [a for a in actions.split(",") if a]))
    return found


def grant(
    ctx: LabContext, token: Token | None, scopes: list[tuple[str, str, list[str]]]
) -> list[dict[str, Any]]:
    access = []
    may = allowed_actions(token)
    for kind, name, wanted in scopes:
        actions: list[str] = []
        if kind == "repository" and token is not None:
            owner = name.split("/", 1)[0].lower()
            if owner in namespaces(ctx, token):
                actions = sorted({a for a in wanted if a in may})
        access.append({"type": kind, "name": name, "actions": actions})
    return access


class TokenSigner:
    def __init__(self, ctx: LabContext) -> None:
        key = serialization.load_pem_private_key(ctx.layout.token_key.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("the token-signing key must be RSA")
        self.key = key
        self.kid = pki.libtrust_kid(key.public_key())
        self.issuer = parts.token_issuer(ctx.config)
        self.service = ctx.config.registry_host

    def mint(self, subject: str, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,  # a string, never a list (distribution 2.8 rejects arrays)
            "exp": now + TOKEN_SECONDS,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"typ": "JWT", "kid": self.kid}
        )


class SigningHandler(JsonHandler):
    """A handler that mints tokens: one `TokenSigner` per handler class, made on first use
    (it reads the signing key)."""

    signer: TokenSigner | None = None

    def _signer(self) -> TokenSigner:
        cls = type(self)
        if cls.signer is None:
            cls.signer = TokenSigner(self.ctx)
        return cls.signer


class TokenHandler(SigningHandler):
    """GET /token?service=&scope=... (Basic user:PAT), and the OAuth2 POST form."""

    def _unauthorized(self) -> None:
        self.send_json(
            401,
            {
                "errors": [
                    {"code": "UNAUTHORIZED", "message": "authentication required: bad credentials"}
                ]
            },
            {"WWW-Authenticate": f'Basic realm="{self.ctx.config.registry_host}"'},
        )

    def _issue(self, token: Token | None, scopes: list[str]) -> None:
        access = grant(self.ctx, token, parse_scopes(scopes))
        jwt_text = self._signer().mint(token.login if token else "", access)
        issued = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.send_json(
            200,
            {
                "token": jwt_text,
                "access_token": jwt_text,
                "expires_in": TOKEN_SECONDS,
                "issued_at": issued,
            },
        )

    def do_GET(self) -> None:
        if self.url_path != "/token":
            self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        token: Token | None = None
        if self.headers.get("Authorization"):
            creds = self.basic_auth()
            token = self.ctx.token(creds[1]) if creds else None
            if token is None:
                self._unauthorized()
                return
        self._issue(token, self.query.get("scope", []))

    def do_POST(self) -> None:
        if self.url_path != "/token":
            self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        form = parse_qs(self.read_body().decode(errors="replace"))
        token = None
        if form.get("grant_type", [""])[0] == "password":
            token = self.ctx.token(form.get("password", [""])[0])
            if token is None:
                self._unauthorized()
                return
        self._issue(token, form.get("scope", []))
