"""client-token: the token this machine would log in with can pull and push packages.

GitHub Packages accepts classic personal access tokens only ("About permissions for GitHub
Packages": fine-grained tokens are not supported by the Container registry), so a
`github_pat_` token is named as such whatever the REST API says about it: it often
authenticates there and is then refused by the registry (`unauthorized`). A classic token is
checked with `GET https://HOSTNAME/api/v3/user`: 401 means revoked, expired or mistyped; its
scopes come from the `X-OAuth-Scopes` header (`read:packages` to pull, `write:packages` to
push and pull). `GitHub-Authentication-Token-Expiration` and `X-GitHub-SSO` are reported when
the server sends them. The token value never appears in a result.
"""

from __future__ import annotations

from ghes_setup import facts
from ghes_setup.checks import Outcome, check
from ghes_setup.client.context import ClientContext
from ghes_setup.errors import GhesSetupError

FINE_GRAINED_PREFIX = "github_pat_"
# Token prefixes GitHub documents ("About authentication to GitHub", token formats).
KINDS = {
    "ghp_": "classic personal access token",
    FINE_GRAINED_PREFIX: "fine-grained personal access token",
    "gho_": "OAuth app token",
    "ghu_": "GitHub App user-to-server token",
    "ghs_": "GitHub App installation token (e.g. an Actions GITHUB_TOKEN)",
    "ghr_": "refresh token",
}
EXPIRY_HEADER = "github-authentication-token-expiration"
SSO_HEADER = "x-github-sso"


def token_kind(value: str) -> str:
    for prefix, kind in KINDS.items():
        if value.startswith(prefix):
            return kind
    return "token of an unknown format (a classic token from an older release?)"


def whoami(ctx: ClientContext) -> tuple[int, dict[str, str], str | None] | str:
    """GET /api/v3/user once per run: (status, headers, login) or why it could not be asked."""

    def compute() -> tuple[int, dict[str, str], str | None] | str:
        assert ctx.token is not None
        try:
            status, headers, login = ctx.user_probe(ctx.token)
        except GhesSetupError as exc:
            return exc.message
        return status, {k.lower(): v for k, v in headers.items()}, login

    return ctx.once("whoami", compute)


def token_login(ctx: ClientContext) -> str | None:
    """The token's owner, when a token was given and the REST API named it."""
    if ctx.token is None:
        return None
    answer = whoami(ctx)
    return None if isinstance(answer, str) else answer[2]


@check("client-token", area="client")
def client_token(ctx: ClientContext) -> Outcome:
    """The token is a classic PAT that authenticates, with read:packages and write:packages."""
    if ctx.token is None:
        return Outcome.skipped(
            "no token given (GHES_SETUP_TOKEN, GHES_SETUP_TOKEN_FILE, --token-file or "
            "--token-stdin)"
        )
    value = ctx.token.reveal()
    kind = token_kind(value)
    new_token = f"https://{ctx.hostname}{facts.NEW_PACKAGES_TOKEN_PATH}"
    if ctx.https_port != facts.HTTPS_PORT:
        new_token = f"https://{ctx.hostname}:{ctx.https_port}{facts.NEW_PACKAGES_TOKEN_PATH}"
    details: dict[str, object] = {"kind": kind, "source": ctx.token.source}
    answer = whoami(ctx)
    if isinstance(answer, str):
        details["api_error"] = answer
    else:
        status, headers, login = answer
        details.update({"api_status": status, "login": login})
        if EXPIRY_HEADER in headers:
            details["expires"] = headers[EXPIRY_HEADER]
        if SSO_HEADER in headers:
            details["sso"] = headers[SSO_HEADER]
        if facts.OAUTH_SCOPES_HEADER.lower() in headers:
            header = headers[facts.OAUTH_SCOPES_HEADER.lower()]
            details["scopes"] = sorted(s.strip() for s in header.split(",") if s.strip())
    classic_fix = (
        f"create a classic personal access token with read:packages (pull) and "
        f"write:packages (push) at {new_token}"
    )
    if value.startswith(FINE_GRAINED_PREFIX):
        works = (
            f"it authenticates to the REST API as {details.get('login')}, but "
            if details.get("api_status") == 200
            else ""
        )
        return Outcome.failed(
            f"a fine-grained personal access token (github_pat_...): {works}GitHub Packages "
            "and the Container registry accept classic personal access tokens only",
            classic_fix,
            details=details,
        )
    if isinstance(answer, str):
        return Outcome.errored(
            f"cannot ask the REST API about the token: {answer}",
            "make https://HOSTNAME/api/v3 reachable from here (client-dns, client-tls-trust, "
            "client-proxy)",
            details=details,
        )
    status, headers, login = answer
    if status == 401:
        return Outcome.failed(
            f"the {kind} is refused by https://{ctx.hostname}/api/v3/user (HTTP 401: revoked, "
            "expired or mistyped)",
            classic_fix,
            details=details,
        )
    if status != 200:
        return Outcome.errored(
            f"https://{ctx.hostname}/api/v3/user answered HTTP {status}",
            "the REST API must answer at https://HOSTNAME/api/v3",
            details=details,
        )
    scope_list = details.get("scopes")
    if not isinstance(scope_list, list):
        if value.startswith("ghs_"):
            return Outcome.warned(
                f"an {kind} for {login}: it has no OAuth scopes; its packages access comes "
                "from the workflow's `permissions: packages: read|write`",
                "in the workflow: permissions: { packages: write } (or read)",
                details=details,
            )
        return Outcome.failed(
            f"a {kind} for {login} without X-OAuth-Scopes: not a classic personal access "
            "token, which GitHub Packages requires",
            classic_fix,
            details=details,
        )
    have = {str(s) for s in scope_list}
    push = facts.PACKAGE_SCOPES["push"] in have
    pull = push or facts.PACKAGE_SCOPES["pull"] in have
    listed = ", ".join(sorted(have)) or "none"
    expiry = f"; expires {details['expires']}" if "expires" in details else ""
    if not pull:
        return Outcome.failed(
            f"the {kind} of {login} has no package scope (scopes: {listed}): the registry "
            "answers `denied` to pull and push",
            classic_fix,
            details=details,
        )
    if not push:
        return Outcome.warned(
            f"the {kind} of {login} can pull but not push (scopes: {listed}; push needs "
            f"write:packages){expiry}",
            f"for pushing, add write:packages to the token, or create one at {new_token}",
            details=details,
        )
    return Outcome.passed(
        f"the {kind} of {login} can pull and push (scopes: {listed}){expiry}", details=details
    )
