"""Every capture in tests/contract/captures/ (the lab's own at the oldest and newest supported
release, and any real one a user contributes, docs/fidelity.md) against the schema and every
parser of the tool: settings, `ghe-config -l`, version, events, WWW-Authenticate, scopes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from ghes_setup import facts
from ghes_setup.appliance.manage_api import ManageApiTransport
from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession
from ghes_setup.appliance.transport import decode_api, decode_config
from ghes_setup.capture.parsers import parse_config_list, parse_scopes
from ghes_setup.capture.redact import is_marker, redact_config_value, redact_document
from ghes_setup.capture.verify import CONTRADICTED, VOLATILE, verify
from ghes_setup.facts import GhesVersion
from ghes_setup.registry.auth import parse_www_authenticate
from ghes_setup.registry.check_ping import PingRequest, judge, ping
from ghes_setup.registry.rest import RestApi
from ghes_setup.secrets import Secret

ROOT = Path(__file__).resolve().parent.parent.parent
CAPTURES = Path(__file__).resolve().parent / "captures"
SCHEMA = ROOT / "docs" / "schema" / "capture-v1.json"
ALL = sorted(CAPTURES.rglob("*.json"))
UNEDITED = [p for p in ALL if "edited" not in p.parts]


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _id(path: Path) -> str:
    return str(path.relative_to(CAPTURES))


def test_the_lab_captures_of_the_oldest_and_newest_release_are_there() -> None:
    names = {p.name for p in UNEDITED}
    oldest, newest = facts.TESTED_RELEASES[0].version, facts.TESTED_RELEASES[-1].version
    assert {f"lab-{oldest}.json", f"lab-{newest}.json"} <= names
    for feature in (oldest, newest):
        doc = _load(CAPTURES / f"lab-{feature}.json")
        assert GhesVersion.parse(doc["identity"]["version"]).feature == feature.feature


def test_schema_lists_the_volatile_fields_the_comparison_skips() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["x-volatile"] == list(VOLATILE)


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_capture_matches_the_published_schema(path: Path) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(_load(path)))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_capture_holds_no_secret_the_redaction_would_catch(path: Path) -> None:
    doc = _load(path)
    entries = (doc.get("ghe_config") or {}).get("entries") or {}
    for key, value in entries.items():
        assert redact_config_value(key, value) == value, key
    if doc.get("settings") is not None:
        assert redact_document(doc["settings"]) == doc["settings"]
    assert "PRIVATE KEY-----" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_settings_parser_reads_every_documented_field(path: Path) -> None:
    doc = _load(path)
    document = doc.get("settings")
    if document is None:
        pytest.fail(f"{path.name}: no Manage API settings (capture with the admin password)")
    read = 0
    for spec in facts.SETTINGS:
        if spec.api_field is None:
            continue
        node: Any = document
        for part in spec.api_field.split("."):
            node = node[part]
        if is_marker(node):
            continue
        decode_api(spec.name, node)
        read += 1
    assert read >= 3  # hostname, isolation, TLS enabled at least


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_ghe_config_listing_parser_round_trips_the_entries(path: Path) -> None:
    doc = _load(path)
    gc = doc["ghe_config"]
    assert gc is not None, "capture over SSH to record ghe-config -l"
    entries: dict[str, str] = gc["entries"]
    listing = "".join(f"{k}={v}\n" for k, v in entries.items())
    parsed = parse_config_list(listing)
    assert parsed.entries == entries
    assert parsed.line_format == gc["format"]["line_format"]
    if gc["format"]["multiline_values"] == "continuation-lines":
        assert parsed.multiline
    for spec in facts.SETTINGS:
        value = entries.get(spec.ghe_config_key)
        if value is not None and not is_marker(value):
            decode_config(spec.name, value)


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_version_parsers_agree_on_the_version(path: Path) -> None:
    ident = _load(path)["identity"]
    version = GhesVersion.parse(ident["version"])
    match = facts.GHE_VERSION_PATTERN.search(ident["ghe_version_output"])
    assert match is not None
    assert GhesVersion.parse(match.group(1)) == version
    api = ident["api_version"][0]["version"]["version"]
    assert GhesVersion.parse(str(api)) == version
    rest = _load(path)["front_door"]["rest"]["enterprise_version"]
    assert GhesVersion.parse(rest) == version


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_events_carry_the_fields_the_client_reads(path: Path) -> None:
    shape = _load(path)["last_apply"]["events_shape"]
    assert "nodes" in shape["top_fields"]
    assert {"node", "events", "last_request_id"} <= set(shape["node_fields"])
    assert {"body", "severity_text", "config_run_id", "timestamp"} <= set(shape["event_fields"])


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_registry_challenge_parses_to_the_recorded_realm(path: Path) -> None:
    registry = _load(path)["front_door"]["registry"]
    challenges = parse_www_authenticate(registry["headers"]["www-authenticate"])
    assert challenges[0].scheme == "bearer"
    assert challenges[0].realm == registry["realm"]
    assert challenges[0].service == registry["service"]


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_scopes_parser_reads_the_recorded_names(path: Path) -> None:
    scopes = _load(path)["front_door"]["token"]["scopes"]
    assert parse_scopes(", ".join(reversed(scopes))) == scopes
    assert facts.PACKAGE_SCOPES["push"] in scopes


@pytest.mark.parametrize("path", UNEDITED, ids=_id)
def test_facts_verify_contradicts_nothing_on_an_unedited_capture(path: Path) -> None:
    verdicts = verify(_load(path))
    assert [v.id for v in verdicts if v.verdict == CONTRADICTED] == []
    assert any(v.verdict == "confirmed" for v in verdicts)


def test_facts_verify_contradicts_exactly_the_renamed_key() -> None:
    path = CAPTURES / "edited" / f"lab-{facts.NEWEST_TESTED}-isolation-key-renamed.json"
    verdicts = verify(_load(path))
    bad = [v for v in verdicts if v.verdict == CONTRADICTED]
    assert [v.id for v in bad] == ["ghe-config-key:subdomain_isolation"]
    assert "core.subdomain-isolation-enabled" in bad[0].evidence


# ---------------------------------------------------------------------------- the real clients
# The tool's own clients, fed the recorded answers through httpx.MockTransport (no sockets):
# what they parse on a real appliance is what they parse here.


def _manage_api(doc: dict[str, Any]) -> ManageApiTransport:
    answers = {
        "/manage/v1/version": doc["identity"]["api_version"],
        "/manage/v1/config/nodes": doc["identity"]["nodes"],
        "/manage/v1/config/settings": doc["settings"],
        "/manage/v1/config/apply": doc["last_apply"]["api"]["document"],
        "/manage/v1/config/apply/events": doc["last_apply"]["events"],
    }

    def handle(request: httpx.Request) -> httpx.Response:
        body = answers.get(request.url.path)
        if body is None or request.method != "GET":
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=body)

    options = ApiOptions(host=doc["hostname"], retries=0)
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url=options.base_url)
    return ManageApiTransport(
        ManageApiSession(options, Secret("not-the-password", "test"), client=client)
    )


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_manage_api_client_parses_the_recorded_version_settings_and_run(path: Path) -> None:
    doc = _load(path)
    with _manage_api(doc) as api:
        info = api.identify()
        assert str(info.version) == doc["identity"]["version"]
        assert info.topology == doc["identity"]["topology"]
        settings = api.read_settings()
        assert settings["hostname"] == doc["hostname"]
        assert settings["subdomain_isolation"] is doc["settings"]["subdomain_isolation"]
        status = api.apply_status()
        assert status.known and status.running is doc["last_apply"]["api"]["running"]
        assert status.successful is doc["last_apply"]["api"]["successful"]


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_manage_api_client_parses_the_recorded_events(path: Path) -> None:
    doc = _load(path)
    with _manage_api(doc) as api:
        batch = api.apply_events()
    assert len(batch.events) == doc["last_apply"]["events_shape"]["events"] > 0
    assert all(e.body and e.severity for e in batch.events)
    assert batch.cursor


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_registry_ping_parses_the_recorded_challenge(path: Path) -> None:
    doc = _load(path)
    registry = doc["front_door"]["registry"]

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(registry["http_status"], headers=registry["headers"])

    request = PingRequest(
        hostname=doc["hostname"],
        http_factory=lambda _: httpx.Client(transport=httpx.MockTransport(handle)),
    )
    answer = ping(request)
    assert (answer.realm, answer.service) == (registry["realm"], registry["service"])
    assert judge(request, answer).status.value == "pass"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_rest_client_parses_the_recorded_scopes_and_version(path: Path) -> None:
    doc = _load(path)
    token = doc["front_door"]["token"]

    def handle(request: httpx.Request) -> httpx.Response:
        headers = {
            facts.OAUTH_SCOPES_HEADER: ", ".join(token["scopes"]),
            "X-GitHub-Enterprise-Version": token["enterprise_version"],
        }
        return httpx.Response(token["http_status"], json={"login": "someone"}, headers=headers)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    info = RestApi(http, doc["hostname"], Secret("not-a-token", "test")).whoami()
    assert info.scopes == frozenset(token["scopes"])
