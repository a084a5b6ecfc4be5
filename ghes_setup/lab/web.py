"""The web side of the front door: `/status`, the few REST calls the tool makes, subdomains.

- `/status`: 200 `ok`, 503 in maintenance mode (health_checks.md, maintenance-mode-status.md).
- `HOSTNAME/api/v3` (every response carries `X-GitHub-Enterprise-Version:
  enterprise-server@X.Y.Z`, docs/reference/ghes-facts.md §7):
  - `GET /user` with a PAT (`Authorization: token PAT`, `Bearer PAT` or Basic `user:PAT`) ->
    the documented "private user" object (every required field) and `X-OAuth-Scopes` listing
    the PAT's scopes; 401 for a bad PAT. `PATCH /user` answers the same object (the lab
    changes nothing).
  - `GET /meta` -> `installed_version`.
  - Container package versions of an org or a user (REST "packages" endpoints):
    `GET|DELETE /orgs/{org}/packages/container/{name}/versions[/{id}]`, the `/users/{user}/`
    and `/user/` twins, and `GET|DELETE .../packages/container/{name}`; any other package
    type is 404 (the lab has only the Container registry). A version is a manifest
    digest of `{owner}/{name}` in the registry (read from its storage); deleting a version
    deletes the manifest through the registry API. Listing needs `read:packages`, deleting
    also `delete:packages` (403 otherwise, as GitHub answers).
- In maintenance mode everything here answers 503 (web and API, as
  enabling-and-scheduling-maintenance-mode says); nginx answers 503 for containers.HOSTNAME/v2/
  too (the lab's choice: the registry is part of the web front door).
- Any other subdomain (with isolation on) answers 200 naming itself: enough for TLS and
  routing checks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import re
from typing import Any
from urllib.parse import quote, unquote

from ghes_setup.lab import state
from ghes_setup.lab.layout import Token
from ghes_setup.lab.storage import registry_revisions
from ghes_setup.lab.tokens import SigningHandler

_PACKAGE = re.compile(
    r"^/api/v3/(?:(?P<kind>orgs|users)/(?P<owner>[^/]+)|user)/packages/(?P<type>[^/]+)/"
    r"(?P<name>[^/]+)(?:/versions(?:/(?P<id>[^/]+))?(?P<versions>))?/?$"
)
_STAMP = "2024-01-01T00:00:00Z"


def version_id(digest: str) -> int:
    """A stable integer id for a manifest digest (52 bits: exact in JSON numbers)."""
    return int(hashlib.sha256(digest.encode()).hexdigest()[:13], 16)


class WebHandler(SigningHandler):
    @property
    def subdomain(self) -> str:
        return self.headers.get("X-Lab-Subdomain", "")

    def _maintenance(self) -> bool:
        current = state.read_maintenance(self.ctx.layout)
        state.sync_maintenance_flag(self.ctx.layout, current)  # the registry's 503 follows
        return current.active()

    def _api_headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "X-GitHub-Enterprise-Version": f"enterprise-server@{self.ctx.config.ghes_version}",
            "X-GitHub-Media-Type": "github.v3; format=json",
        }
        headers.update(extra or {})
        return headers

    def _api(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        self.send_json(status, body, self._api_headers(extra))

    def _docs(self) -> str:
        version = ".".join(self.ctx.config.ghes_version.split(".")[:2])
        return f"https://docs.github.com/enterprise-server@{version}/rest"

    def _handle(self) -> None:
        self.read_body()
        path = self.url_path
        if self.subdomain:
            if self._maintenance():
                self.send_text(503, "maintenance\n")
            else:
                self.send_text(
                    200, f"{self.subdomain}.{self.ctx.config.hostname} (ghes-setup lab)\n"
                )
            return
        if path == "/status":
            if self._maintenance():
                self.send_text(503, "maintenance\n")
            else:
                self.send_text(200, "ok\n")
            return
        if path == "/api/v3" or path.startswith("/api/v3/"):
            if self._maintenance():
                self._api(
                    503, {"message": "Service Unavailable: the appliance is in maintenance mode"}
                )
                return
            self._rest(path)
            return
        if self._maintenance():
            self.send_text(503, "GitHub Enterprise Server is in maintenance mode.\n")
            return
        if path == "/":
            self.send_text(
                200, "<!doctype html><title>GitHub Enterprise Server (lab)</title>\n", "text/html"
            )
            return
        self.send_text(404, "not found\n")

    # BaseHTTPRequestHandler calls do_<METHOD>: every method goes through the one router.
    do_GET = do_HEAD = do_DELETE = do_POST = do_PUT = do_PATCH = _handle

    # -- REST
    def _pat(self) -> tuple[Token | None, bool]:
        """(token, credentials_given)."""
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if not header:
            return None, False
        if scheme in ("token", "bearer"):
            return self.ctx.token(value.strip()), True
        if scheme == "basic":
            creds = self.basic_auth()
            return (self.ctx.token(creds[1]) if creds else None), True
        return None, True

    def _rest(self, path: str) -> None:
        token, given = self._pat()
        if given and token is None:
            self._api(401, {"message": "Bad credentials", "documentation_url": self._docs()})
            return
        # Fine-grained tokens get no X-OAuth-Scopes header (REST docs, "Scopes for OAuth apps").
        fine = token is not None and token.value.startswith("github_pat_")
        scopes = {"X-OAuth-Scopes": ", ".join(token.scopes)} if token and not fine else {}
        if path in ("/api/v3", "/api/v3/") and self.command == "GET":
            self._api(
                200, {"current_user_url": f"https://{self.ctx.config.hostname}/api/v3/user"}, scopes
            )
            return
        if path == "/api/v3/meta" and self.command == "GET":
            self._api(
                200,
                {
                    "verifiable_password_authentication": True,
                    "installed_version": self.ctx.config.ghes_version,
                },
                scopes,
            )
            return
        if token is None:
            self._api(
                401, {"message": "Requires authentication", "documentation_url": self._docs()}
            )
            return
        if path == "/api/v3/user" and self.command in ("GET", "PATCH"):
            self._api(200, self._user(token), {**scopes, "X-Accepted-OAuth-Scopes": ""})
            return
        match = _PACKAGE.match(path)
        if match:
            self._packages(token, match, scopes)
            return
        self._api(404, {"message": "Not Found", "documentation_url": self._docs()}, scopes)

    def _simple_user(self, login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
        """The documented "simple user" fields (all required ones)."""
        host = self.ctx.config.hostname
        api = f"https://{host}/api/v3/users/{login}"
        return {
            "login": login,
            "id": user_id,
            "node_id": base64.b64encode(f"04:{kind}{user_id}".encode()).decode(),
            "avatar_url": f"https://{host}/avatars/u/{user_id}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://{host}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": kind,
            "site_admin": kind == "User" and login == self.ctx.config.user,
        }

    def _user(self, token: Token) -> dict[str, Any]:
        """The authenticated user: the documented "private user" (every required field)."""
        user_id = 1 if token.login == self.ctx.config.user else 2
        return {
            **self._simple_user(token.login, user_id),
            "site_admin": True,
            "name": None,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": _STAMP,
            "updated_at": _STAMP,
            "private_gists": 0,
            "total_private_repos": 0,
            "owned_private_repos": 0,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": False,
        }

    # -- packages
    def _versions(self, owner: str, name: str, base: str) -> list[dict[str, Any]] | None:
        """The versions of `{owner}/{name}`: the manifests in the registry's storage (S3 or
        the filesystem: storage.registry_revisions), None when the package does not exist."""
        applied = state.read_applied(self.ctx.layout)
        if not state.registry_wanted(applied):
            return None
        found = registry_revisions(self.ctx.layout, self.ctx.config, applied, f"{owner}/{name}")
        if found is None:
            return None
        versions = []
        host = self.ctx.config.hostname
        quoted = quote(name, safe="")
        for rev in found:
            digest = rev.digest
            stamp = rev.modified.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            vid = version_id(digest)
            api = f"{base}/packages/container/{quoted}"
            versions.append(
                {
                    "id": vid,
                    "name": digest,
                    "url": f"{api}/versions/{vid}",
                    "package_html_url": f"https://{host}/{owner}/packages/container/package/{quoted}",
                    "created_at": stamp,
                    "updated_at": stamp,
                    "html_url": f"https://{host}/{owner}/packages/container/{quoted}/{vid}",
                    "metadata": {
                        "package_type": "container",
                        "container": {"tags": list(rev.tags)},
                    },
                }
            )
        versions.sort(key=lambda v: str(v["created_at"]), reverse=True)
        return versions

    def _packages(self, token: Token, match: re.Match[str], scopes: dict[str, str]) -> None:
        owner = match.group("owner") or token.login
        name = unquote(match.group("name"))
        docs = {"documentation_url": self._docs()}
        if "read:packages" not in token.scopes and "write:packages" not in token.scopes:
            self._api(
                403,
                {"message": "You need at least read:packages scope to list packages.", **docs},
                scopes,
            )
            return
        if match.group("type") != "container":
            self._api(404, {"message": "Package not found.", **docs}, scopes)
            return
        if match.group("kind") == "users" and owner.lower() != token.login.lower():
            self._api(404, {"message": "Package not found.", **docs}, scopes)
            return
        if match.group("kind") == "orgs" and owner.lower() != self.ctx.config.namespace.lower():
            self._api(404, {"message": "Not Found", **docs}, scopes)
            return
        host = self.ctx.config.hostname
        kind = match.group("kind")
        base = f"https://{host}/api/v3/" + (f"{kind}/{owner}" if kind else "user")
        found = self._versions(owner, name, base)
        if found is None:
            self._api(404, {"message": "Package not found.", **docs}, scopes)
            return
        versions = found
        wants_versions = match.group("versions") is not None
        version = match.group("id")
        if self.command == "GET":
            if version is not None:
                found = [v for v in versions if str(v["id"]) == version]
                if not found:
                    self._api(404, {"message": "Not Found", **docs}, scopes)
                else:
                    self._api(200, found[0], scopes)
            elif wants_versions:
                self._api(200, self._page(versions), scopes)
            else:
                org = kind == "orgs"
                quoted = quote(name, safe="")
                stamps = sorted(str(v["created_at"]) for v in versions) or [_STAMP]
                self._api(
                    200,
                    {
                        "id": version_id(f"{owner}/{name}"),
                        "name": name,
                        "package_type": "container",
                        "visibility": "private",
                        "url": f"{base}/packages/container/{quoted}",
                        "html_url": f"https://{host}/{owner}/packages/container/package/{quoted}",
                        "version_count": len(versions),
                        "owner": self._simple_user(
                            owner, 3 if org else 1, "Organization" if org else "User"
                        ),
                        "repository": None,
                        "created_at": stamps[0],
                        "updated_at": stamps[-1],
                    },
                    scopes,
                )
            return
        if self.command != "DELETE":
            self._api(404, {"message": "Not Found", **docs}, scopes)
            return
        if "delete:packages" not in token.scopes:
            self._api(
                403,
                {
                    "message": "You need at least delete:packages and read:packages scopes "
                    "to delete a package version.",
                    **docs,
                },
                scopes,
            )
            return
        targets = versions if version is None else [v for v in versions if str(v["id"]) == version]
        if version is not None and not targets:
            self._api(404, {"message": "Not Found", **docs}, scopes)
            return
        for target in targets:
            error = self._delete_manifest(f"{owner}/{name}", str(target["name"]))
            if error is not None:
                self._api(
                    503, {"message": f"could not delete {target['name']}: {error}", **docs}, scopes
                )
                return
        self.send_response(204)
        for header, value in self._api_headers(scopes).items():
            self.send_header(header, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _page(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`page` / `per_page` as GitHub pages lists (per_page at most 100, default 30)."""

        def number(name: str, default: int) -> int:
            try:
                return max(int(self.query.get(name, [str(default)])[0]), 1)
            except ValueError:
                return default

        per_page = min(number("per_page", 30), 100)
        page = number("page", 1)
        return items[(page - 1) * per_page : page * per_page]

    def _delete_manifest(self, repository: str, digest: str) -> str | None:
        """DELETE /v2/<repository>/manifests/<digest> on the registry, with a lab-minted token."""
        access = [{"type": "repository", "name": repository, "actions": ["delete"]}]
        bearer = self._signer().mint("lab-package-api", access)
        conn = http.client.HTTPConnection(
            self.ctx.config.address, self.ctx.config.internal.registry, timeout=10
        )
        try:
            conn.request(
                "DELETE",
                f"/v2/{repository}/manifests/{digest}",
                headers={"Authorization": f"Bearer {bearer}"},
            )
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            return f"registry unreachable ({exc})"
        finally:
            conn.close()
        if resp.status in (200, 202, 404):
            return None
        return f"registry answered {resp.status}: {body[:200].decode(errors='replace')}"
