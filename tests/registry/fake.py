"""An in-process fake of GHES's Container registry, its token service and the REST bits we use.

A fake, not a mock: it keeps state (blobs, uploads, manifests, tags, tokens, package versions)
and implements the OCI distribution API the way CNCF distribution 2.8 does where it matters:
- upload URLs carry a `_state` query that changes after every PATCH; a PATCH or PUT with a
  stale or missing `_state` is 404 BLOB_UPLOAD_UNKNOWN / BLOB_UPLOAD_INVALID (the
  docs/reference/lab-findings.md §1 trap); a PATCH whose Content-Range does not start at the
  upload's size is 416;
- token auth: `GET /v2/` -> 401 Bearer challenge; the token service grants what the PAT's
  scopes allow; a token without the action gets 401 `insufficient_scope` with the actions in
  the challenge written `push,pull` (the order distribution sometimes uses);
- blob GET honours `Range: bytes=N-`; manifest PUT answers Docker-Content-Digest.
Faults are queued on purpose by tests (`fail_next`, `corrupt`, `disconnect_next`).

Use: `fake = FakeRegistry(); client = httpx.Client(transport=fake.transport())`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

import httpx

HOST = "ghe.test"
REGISTRY = f"containers.{HOST}"
REALM = f"https://{REGISTRY}/token"
SERVICE = REGISTRY

SCOPE_ACTIONS = {
    "read:packages": {"pull"},
    "write:packages": {"pull", "push"},
    "delete:packages": {"delete"},
}


@dataclass
class Pat:
    login: str
    scopes: set[str]
    classic: bool = True


@dataclass
class Upload:
    repo: str
    data: bytearray = field(default_factory=bytearray)
    state: str = ""


@dataclass
class Fault:
    """Answer the next matching request with `status` (after reading `after_bytes` of body)."""

    method: str
    path_pattern: str
    status: int = 503
    after_bytes: int | None = None  # None: before reading; the bytes read are kept
    keep_partial: bool = False  # keep what was read in the upload (a stale _state afterwards)
    disconnect: bool = False  # raise a connection error instead of answering
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    code: str = "UNAVAILABLE"  # the OCI error code of the answer


class FakeRegistry:
    def __init__(
        self,
        *,
        pats: dict[str, Pat] | None = None,
        relative_location: bool = False,
        allow_delete: bool = True,
        refuse_last_version: bool = False,
        token_lifetime: int = 300,
        realm: str = REALM,
    ) -> None:
        self.pats = (
            pats
            if pats is not None
            else {
                "pat-write": Pat("octo", {"read:packages", "write:packages", "delete:packages"}),
                "pat-read": Pat("reader", {"read:packages"}),
            }
        )
        self.relative_location = relative_location
        self.allow_delete = allow_delete
        self.refuse_last_version = refuse_last_version
        self.token_lifetime = token_lifetime
        self.realm = realm
        self.blobs: dict[str, bytes] = {}
        self.repo_blobs: dict[str, set[str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.tokens: dict[str, tuple[str, dict[str, set[str]]]] = {}
        self.faults: list[Fault] = []
        self.corrupt: set[str] = set()
        self.wrong_manifest_digest = False
        self.grant_less_once = False  # the next token grants pull only, whatever was asked
        self.cut_blob_after: dict[str, int] = {}  # digest -> bytes served before the cut (once)
        self.rest_packages = True  # False: the REST package endpoints answer 404
        self.public_packages: set[str] = set()  # "owner/name" listed under /users/{owner}/
        self.unreachable = False  # every request fails to connect
        self.not_a_registry = False  # /v2/ answers 404 (e.g. the front door without a registry)
        self.log: list[tuple[str, str, int]] = []  # (method, url, status)
        self.token_requests: list[list[str]] = []  # the scope params of each token request
        self.version_ids: dict[tuple[str, str], int] = {}
        self.deleted_packages: list[str] = []
        self._ids = itertools.count(1000)
        self._state_counter = itertools.count(1)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport())

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        fault = self._fault_for(request)
        response = self._apply_fault(fault, request) if fault else self._route(request)
        self.log.append((request.method, str(request.url), response.status_code))
        return response

    def _fault_for(self, request: httpx.Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and re.search(fault.path_pattern, request.url.path):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _apply_fault(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.keep_partial and fault.after_bytes:
            upload = self._upload_of(request)
            if upload is not None:
                upload.data += request.content[: fault.after_bytes]
        if fault.disconnect:
            raise httpx.RemoteProtocolError("peer closed connection", request=request)
        return _error(fault.status, fault.code, "injected fault")

    def _upload_of(self, request: httpx.Request) -> Upload | None:
        m = re.match(r"^/v2/(.+)/blobs/uploads/([^/]+)$", request.url.path)
        return self.uploads.get(m.group(2)) if m else None

    def _route(self, request: httpx.Request) -> httpx.Response:
        host, path, method = request.url.host, request.url.path, request.method
        if host == HOST and path.startswith("/api/v3/"):
            return self._rest(request, path.removeprefix("/api/v3"))
        if host != REGISTRY:
            return httpx.Response(404)
        if path == "/token":
            return self._token(request)
        if path == "/v2/" and method == "GET":
            if self.not_a_registry:
                return httpx.Response(404, text="not found")
            if self._bearer(request) is None:
                return self._challenge(None, None)
            return httpx.Response(200, json={}, headers=_API)
        m = re.match(
            r"^/v2/(.+)/(blobs/uploads/[^/]*|blobs/[^/]+|manifests/[^/]+|tags/list)$", path
        )
        if not m:
            return _error(404, "NOT_FOUND", "no route")
        repo, rest = m.group(1), m.group(2)
        needed = _needed_action(method, rest)
        granted = self._bearer(request)
        if granted is None:
            return self._challenge(repo, needed)
        if needed not in granted.get(repo, set()):
            return self._challenge(repo, needed, error="insufficient_scope")
        if rest.startswith("blobs/uploads/"):
            return self._upload(request, repo, rest.removeprefix("blobs/uploads/"))
        if rest.startswith("blobs/"):
            return self._blob(request, repo, rest.removeprefix("blobs/"))
        if rest.startswith("manifests/"):
            return self._manifest(request, repo, unquote(rest.removeprefix("manifests/")))
        return self._tag_list(request, repo)

    # ------------------------------------------------------------------ auth

    def _challenge(self, repo: str | None, action: str | None, error: str | None = None):
        value = f'Bearer realm="{self.realm}",service="{SERVICE}"'
        if repo is not None:
            # distribution writes the actions in varying order: use the "wrong" one here.
            actions = "push,pull" if action in ("push", "pull") else action
            value += f',scope="repository:{repo}:{actions}"'
        if error:
            value += f',error="{error}"'
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": value, **_API},
            json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
        )

    def _bearer(self, request: httpx.Request) -> dict[str, set[str]] | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        entry = self.tokens.get(auth.removeprefix("Bearer "))
        return entry[1] if entry else None

    def _pat_of_basic(self, request: httpx.Request) -> Pat | None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return None
        return self.pats.get(password)

    def _token(self, request: httpx.Request) -> httpx.Response:
        params = parse_qsl(request.url.query.decode())
        scopes = [v for k, v in params if k == "scope"]
        self.token_requests.append(scopes)
        pat = self._pat_of_basic(request)
        if request.headers.get("authorization") and pat is None:
            return httpx.Response(401, json={"details": "bad credentials"})
        allowed: set[str] = set()
        if pat is not None and pat.classic:
            for s in pat.scopes:
                allowed |= SCOPE_ACTIONS.get(s, set())
        if pat is not None and not pat.classic:
            return httpx.Response(401, json={"details": "fine-grained tokens are not supported"})
        granted: dict[str, set[str]] = {}
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository":
                acts = set(actions.split(",")) & allowed
                if self.grant_less_once:
                    acts &= {"pull"}
                granted.setdefault(name, set()).update(acts)
        self.grant_less_once = False
        token = uuid.uuid4().hex
        self.tokens[token] = (pat.login if pat else "", granted)
        return httpx.Response(200, json={"token": token, "expires_in": self.token_lifetime})

    # ------------------------------------------------------------------ uploads

    def _location(self, repo: str, upload_id: str, upload: Upload) -> str:
        upload.state = base64.urlsafe_b64encode(
            f"{upload_id}:{len(upload.data)}:{next(self._state_counter)}".encode()
        ).decode()
        path = f"/v2/{repo}/blobs/uploads/{upload_id}?_state={upload.state}"
        return path if self.relative_location else f"https://{REGISTRY}{path}"

    def _upload(self, request: httpx.Request, repo: str, upload_id: str) -> httpx.Response:
        method = request.method
        if method == "POST" and not upload_id:
            new_id = str(uuid.uuid4())
            upload = Upload(repo)
            self.uploads[new_id] = upload
            return httpx.Response(
                202,
                headers={"Location": self._location(repo, new_id, upload), "Range": "0-0", **_API},
            )
        upload = self.uploads.get(upload_id)
        if upload is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
        state = dict(parse_qsl(request.url.query.decode())).get("_state")
        if state != upload.state:
            code = "BLOB_UPLOAD_UNKNOWN" if state is None else "BLOB_UPLOAD_INVALID"
            return _error(404, code, "blob upload invalid")
        offset = int(base64.urlsafe_b64decode(state).decode().split(":")[1])
        if offset != len(upload.data):
            # distribution 2.8: "upload resumed at wrong offset" -> the upload is cancelled.
            del self.uploads[upload_id]
            return _error(404, "BLOB_UPLOAD_INVALID", "blob upload invalid")
        if method == "GET":
            end = max(len(upload.data) - 1, 0)
            return httpx.Response(
                204,
                headers={
                    "Location": self._location(repo, upload_id, upload),
                    "Range": f"0-{end}",
                    **_API,
                },
            )
        if method == "DELETE":
            del self.uploads[upload_id]
            return httpx.Response(204)
        body = request.content
        if method == "PATCH":
            content_range = request.headers.get("content-range")
            if content_range is not None:
                start = int(content_range.split("-")[0])
                if start != len(upload.data):
                    return _error(416, "BLOB_UPLOAD_INVALID", "range out of order")
            upload.data += body
            return httpx.Response(
                202,
                headers={
                    "Location": self._location(repo, upload_id, upload),
                    "Range": f"0-{len(upload.data) - 1}",
                    **_API,
                },
            )
        if method == "PUT":
            digest = dict(parse_qsl(request.url.query.decode())).get("digest")
            if not digest:
                return _error(400, "DIGEST_INVALID", "digest missing")
            upload.data += body
            actual = "sha256:" + hashlib.sha256(upload.data).hexdigest()
            if actual != digest:
                del self.uploads[upload_id]
                return _error(400, "DIGEST_INVALID", "provided digest did not match content")
            self.blobs[digest] = bytes(upload.data)
            self.repo_blobs.setdefault(repo, set()).add(digest)
            del self.uploads[upload_id]
            return httpx.Response(
                201,
                headers={
                    "Location": f"/v2/{repo}/blobs/{digest}",
                    "Docker-Content-Digest": digest,
                    **_API,
                },
            )
        return _error(405, "UNSUPPORTED", "method not allowed")

    # ------------------------------------------------------------------ blobs, manifests

    def _blob(self, request: httpx.Request, repo: str, digest: str) -> httpx.Response:
        if digest not in self.repo_blobs.get(repo, set()):
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        data = self.blobs[digest]
        if digest in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"x"
        headers = {"Docker-Content-Digest": digest, "Content-Type": "application/octet-stream"}
        if request.method == "HEAD":
            return httpx.Response(200, headers={**headers, "Content-Length": str(len(data))})
        cut = self.cut_blob_after.pop(digest, None)
        if cut is not None:
            return httpx.Response(200, stream=_CutStream(data, cut, request), headers=headers)
        rng = request.headers.get("range")
        if rng:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))  # type: ignore[union-attr]
            return httpx.Response(
                206,
                content=data[start:],
                headers={**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
            )
        return httpx.Response(200, content=data, headers=headers)

    def _manifest(self, request: httpx.Request, repo: str, reference: str) -> httpx.Response:
        method = request.method
        if method == "PUT":
            body = request.content
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            doc = json.loads(body)
            for d in [doc["config"], *doc["layers"]]:
                if d["digest"] not in self.repo_blobs.get(repo, set()):
                    return _error(400, "BLOB_UNKNOWN", f"blob unknown: {d['digest']}")
            self.manifests[(repo, digest)] = (body, request.headers["content-type"])
            self.version_ids.setdefault((repo, digest), next(self._ids))
            if not reference.startswith("sha256:"):
                self.tags[(repo, reference)] = digest
            announced = ("sha256:" + "0" * 64) if self.wrong_manifest_digest else digest
            return httpx.Response(
                201,
                headers={
                    "Docker-Content-Digest": announced,
                    "Location": f"/v2/{repo}/manifests/{digest}",
                },
            )
        digest = reference if reference.startswith("sha256:") else self.tags.get((repo, reference))
        if digest is None or (repo, digest) not in self.manifests:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        if method == "DELETE":
            if not self.allow_delete:
                return _error(405, "UNSUPPORTED", "The operation is unsupported.")
            self._drop_manifest(repo, digest)
            return httpx.Response(202)
        body, media_type = self.manifests[(repo, digest)]
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        if method == "HEAD":
            return httpx.Response(200, headers={**headers, "Content-Length": str(len(body))})
        return httpx.Response(200, content=body, headers=headers)

    def _drop_manifest(self, repo: str, digest: str) -> None:
        self.manifests.pop((repo, digest), None)
        for key in [k for k, v in self.tags.items() if k[0] == repo and v == digest]:
            del self.tags[key]

    def _tag_list(self, request: httpx.Request, repo: str) -> httpx.Response:
        tags = sorted(t for (r, t) in self.tags if r == repo)
        if not tags:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        params = dict(parse_qsl(request.url.query.decode()))
        n = int(params.get("n", "1000"))
        last = params.get("last")
        if last:
            tags = [t for t in tags if t > last]
        page, more = tags[:n], len(tags) > n
        headers = {}
        if more:
            headers["Link"] = f'</v2/{repo}/tags/list?n={n}&last={page[-1]}>; rel="next"'
        return httpx.Response(200, json={"name": repo, "tags": page}, headers=headers)

    # ------------------------------------------------------------------ REST

    def _rest(self, request: httpx.Request, path: str) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        pat = self.pats.get(auth.removeprefix("token ").removeprefix("Bearer "))
        if pat is None:
            return httpx.Response(401, json={"message": "Bad credentials"})
        if path == "/user":
            headers = {"X-GitHub-Enterprise-Version": "3.17.0"}
            if pat.classic:
                headers["X-OAuth-Scopes"] = ", ".join(sorted(pat.scopes))
            return httpx.Response(200, json=user_document(pat.login), headers=headers)
        # As the description documents them: /user/... the token owner's own packages,
        # /orgs/{org}/... an organization's, /users/{username}/... a user's PUBLIC ones only.
        m = re.match(
            r"^/(?:(orgs|users)/([^/]+)|user)/packages/container/([^/]+)"
            r"(/versions(?:/(\d+))?)?$",
            path,
        )
        if not m or not self.rest_packages:
            return httpx.Response(404, json={"message": "Not Found"})
        kind = m.group(1) or "user"
        owner = unquote(m.group(2)) if m.group(2) else pat.login
        name = unquote(m.group(3))
        if kind == "orgs" and owner == pat.login:
            return httpx.Response(404, json={"message": "Not Found"})
        repo = f"{owner.lower()}/{name}"
        if kind == "users" and repo not in self.public_packages:
            return httpx.Response(404, json={"message": "Package not found."})
        versions = [
            version_document(vid, digest, f"{REST_BASE}{path}")
            for (r, digest), vid in sorted(self.version_ids.items(), key=lambda i: -i[1])
            if r == repo and (r, digest) in self.manifests
        ]
        if request.method == "GET" and m.group(4) and not m.group(5):
            if not versions:
                return httpx.Response(404, json={"message": "Package not found."})
            page = int(dict(parse_qsl(request.url.query.decode())).get("page", "1"))
            per = int(dict(parse_qsl(request.url.query.decode())).get("per_page", "30"))
            return httpx.Response(200, json=versions[(page - 1) * per : page * per])
        if "delete:packages" not in pat.scopes:
            return httpx.Response(403, json={"message": "Must have admin rights"})
        if request.method == "DELETE" and m.group(5):
            vid = int(m.group(5))
            match = [v for v in versions if v["id"] == vid]
            if not match:
                return httpx.Response(404, json={"message": "Not Found"})
            if self.refuse_last_version and len(versions) == 1:
                return httpx.Response(
                    400,
                    json={
                        "message": "You cannot delete the last version of a package. "
                        "You must delete the package instead."
                    },
                )
            self._drop_manifest(repo, str(match[0]["name"]))
            return httpx.Response(204)
        if request.method == "DELETE" and not m.group(4):
            for v in versions:
                self._drop_manifest(repo, str(v["name"]))
            self.deleted_packages.append(f"{kind}/{owner}/{name}")
            return httpx.Response(204)
        return httpx.Response(405, json={"message": "Method not allowed"})

    # ------------------------------------------------------------------ helpers for tests

    def requests(self, method: str, pattern: str = "") -> list[str]:
        return [url for m, url, _ in self.log if m == method and re.search(pattern, url)]

    def quoted(self, name: str) -> str:
        return quote(name, safe="")


_API = {"Docker-Distribution-Api-Version": "registry/2.0"}
REST_BASE = f"https://{HOST}/api/v3"
_WHEN = "2026-01-01T00:00:00Z"


def user_document(login: str) -> dict[str, object]:
    """`GET /user` as the description's "Public User" schema requires it (every field)."""
    url = f"{REST_BASE}/users/{login}"
    doc: dict[str, object] = {
        "login": login,
        "id": 1,
        "node_id": "U_1",
        "avatar_url": f"https://{HOST}/avatars/u/1",
        "gravatar_id": "",
        "url": url,
        "html_url": f"https://{HOST}/{login}",
        "type": "User",
        "site_admin": False,
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
        "created_at": _WHEN,
        "updated_at": _WHEN,
    }
    for name in [
        "events_url",
        "followers_url",
        "following_url",
        "gists_url",
        "organizations_url",
        "received_events_url",
        "repos_url",
        "starred_url",
        "subscriptions_url",
    ]:
        doc[name] = f"{url}/{name.removesuffix('_url')}"
    return doc


def version_document(vid: int, digest: str, versions_url: str) -> dict[str, object]:
    """A package version with the fields the description requires."""
    return {
        "id": vid,
        "name": digest,
        "url": f"{versions_url.split('/versions')[0]}/versions/{vid}",
        "package_html_url": f"https://{HOST}/packages/{vid}",
        "created_at": _WHEN,
        "updated_at": _WHEN,
        "metadata": {"package_type": "container", "container": {"tags": []}},
    }


class _CutStream(httpx.SyncByteStream):
    """A body that breaks off after `cut` bytes, like a connection lost mid-download."""

    def __init__(self, data: bytes, cut: int, request: httpx.Request) -> None:
        self.data, self.cut, self.request = data, cut, request

    def __iter__(self):  # type: ignore[override]
        yield self.data[: self.cut]
        raise httpx.ReadError("connection reset by peer", request=self.request)


def _needed_action(method: str, rest: str) -> str:
    if method in ("GET", "HEAD") and not rest.startswith("blobs/uploads/"):
        return "pull"
    if method == "DELETE" and rest.startswith("manifests/"):
        return "delete"
    return "push"


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": message}]})


Handler = Callable[[httpx.Request], httpx.Response]
