"""The contract validator itself: conforming exchanges pass, each kind of breach is named."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.contract.validate import (
    DESCRIPTIONS,
    ContractError,
    Description,
    install_validation,
    to_json_schema,
    validating_transport,
    vendored_versions,
)

Handler = Callable[[httpx.Request], httpx.Response]

USER = {
    "login": "octocat", "id": 1, "node_id": "MDQ6VXNlcjE=", "avatar_url": "https://h/a",
    "gravatar_id": "", "url": "https://h/api/v3/users/octocat", "html_url": "https://h/octocat",
    "followers_url": "u", "following_url": "u", "gists_url": "u", "starred_url": "u",
    "subscriptions_url": "u", "organizations_url": "u", "repos_url": "u", "events_url": "u",
    "received_events_url": "u", "type": "User", "site_admin": True, "name": None,
    "company": None, "blog": None, "location": None, "email": None, "hireable": None,
    "bio": None, "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
    "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
}  # fmt: skip


def client(version: str, handler: Handler) -> httpx.Client:
    inner = httpx.MockTransport(handler)
    return httpx.Client(
        transport=validating_transport(version, inner), base_url="https://ghes.example"
    )


def test_every_vendored_version_is_there_with_provenance() -> None:
    versions = vendored_versions()
    assert versions[0] == "3.12"
    provenance = json.loads((DESCRIPTIONS / "provenance.json").read_text())
    assert set(provenance["versions"]) == set(versions)
    for version in versions:
        paths = Description.load(version).doc["paths"]
        assert "/manage/v1/config/apply" in paths
        assert "/user" in paths
        assert "/user/packages/{package_type}/{package_name}/versions/{package_version_id}" in paths


@pytest.mark.parametrize("version", ["3.12", "3.19"])
def test_conforming_exchanges_pass(version: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/manage/v1/config/apply" and request.method == "POST":
            return httpx.Response(200, json={"run_id": "d34db33f"})
        if request.url.path == "/api/v3/user":
            return httpx.Response(200, json=USER)
        if request.url.path == "/v2/":
            return httpx.Response(200, json={})
        return httpx.Response(204)

    with client(version, handler) as c:
        assert c.post("/manage/v1/config/apply", json={"run_id": "x"}).status_code == 200
        assert c.get("/api/v3/user").json()["login"] == "octocat"
        assert c.get("/v2/").status_code == 200  # the registry: not described, passes through
        c.delete("/api/v3/user/packages/container/app/versions/12")


def test_undocumented_status_is_named() -> None:
    with (
        client("3.19", lambda r: httpx.Response(202, json={"run_id": "a"})) as c,
        pytest.raises(ContractError, match=r"POST /manage/v1/config/apply: response status 202"),
    ):
        c.post("/manage/v1/config/apply")


def test_null_where_a_string_is_documented_is_named() -> None:
    body = {"status": "off", "scheduled_time": None, "connection_services": []}
    with (
        client("3.19", lambda r: httpx.Response(200, json=body)) as c,
        pytest.raises(ContractError, match=r"GET /manage/v1/maintenance.*scheduled_time"),
    ):
        c.get("/manage/v1/maintenance")


def test_missing_required_user_field_is_named() -> None:
    partial = {k: v for k, v in USER.items() if k != "created_at"}
    with (
        client("3.19", lambda r: httpx.Response(200, json=partial)) as c,
        pytest.raises(ContractError, match=r"'created_at' is a required property"),
    ):
        c.get("/api/v3/user")


def test_bad_request_body_and_query_and_paths_are_named() -> None:
    with client("3.19", lambda r: httpx.Response(200, json=[])) as c:
        with pytest.raises(ContractError, match=r"request body at enabled"):
            c.post("/manage/v1/maintenance", json={"enabled": "yes"})
        with pytest.raises(ContractError, match=r"content type 'application/x-www-form"):
            c.post("/manage/v1/maintenance", data={"enabled": "true"})
        with pytest.raises(ContractError, match=r"query parameter 'bogus'"):
            c.get("/manage/v1/config/apply/events", params={"bogus": "1"})
        with pytest.raises(ContractError, match=r"method not documented"):
            c.patch("/manage/v1/version")
        with pytest.raises(ContractError, match=r"path not in the vendored"):
            c.get("/manage/v1/nope")
        with pytest.raises(ContractError, match=r"path 'rubygems-x'"):
            c.get("/api/v3/user/packages/rubygems-x/app/versions")


def test_install_validation_hooks_check_a_plain_client() -> None:
    inner = httpx.MockTransport(lambda r: httpx.Response(409, json={"message": "busy"}))
    with httpx.Client(transport=inner, base_url="https://ghes.example") as c:
        checked = install_validation(c, "3.12")
        with pytest.raises(ContractError, match=r"response status 409"):
            c.post("/manage/v1/config/apply")
        assert checked == []


def test_nullable_becomes_null_type() -> None:
    schema = {"type": "string", "nullable": True, "enum": ["a"]}
    assert to_json_schema(schema) == {"type": ["string", "null"], "enum": ["a", None]}
    nested = {"allOf": [{"type": "object"}], "nullable": True}
    assert to_json_schema(nested) == {"anyOf": [{"allOf": [{"type": "object"}]}, {"type": "null"}]}


def test_a_patch_release_loads_its_feature_release() -> None:
    assert Description.load("3.17.4") is Description.load("3.17")
    assert Description.load("enterprise-server@3.12.1").version == "3.12"


def test_rest_404_is_accepted_where_undocumented_but_not_for_the_manage_api() -> None:
    with client("3.19", lambda r: httpx.Response(404, json={"message": "Not Found"})) as c:
        assert c.get("/api/v3/user/packages/container/app").status_code == 404
        with pytest.raises(ContractError, match=r"response status 404"):
            c.get("/manage/v1/config/nodes")
