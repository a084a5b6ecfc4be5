"""The JSON documents of the commands that return a typed result (not a check report) match
their published schemas in docs/schema/: each command runs for real (CliRunner) and its output
is validated. `config show/plan/apply/rollback` need an appliance: here their presenters get
the results the service returns against the in-memory fake; tests/appliance/
test_config_json_schemas.py runs the commands themselves against the lab."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme

from ghes_setup.appliance.apply import ApplyOptions, Clock, apply_site, plan_site, rollback, show
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.service import PlanResult, ShowResult
from ghes_setup.checks import CheckResult, Report, Status
from ghes_setup.config.site import Site, TlsSettings
from ghes_setup.reporting.appliance import apply_document, plan_result_document, show_document
from tests.conftest import CliRunner
from tests.schema_helpers import SCHEMA_DIR, load, validate, validator

CAPTURES = Path(__file__).resolve().parent.parent / "contract" / "captures"
HOST = "ghe.example.com"
NEW_SCHEMAS = (
    "appliance-parts-v1",
    "config-show-v1",
    "config-plan-v1",
    "config-apply-v1",
    "tls-ca-create-v1",
    "tls-issue-v1",
    "tls-csr-v1",
    "dns-records-v1",
    "lab-status-v1",
    "facts-list-v1",
    "facts-verify-v1",
)


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_published_schema_is_a_draft_2020_12_schema_named_by_its_id(path: Path) -> None:
    schema = load(path.stem)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/docs/schema/{path.name}")
    validator(path.stem)  # checks the schema itself


def test_the_typed_result_schemas_are_published() -> None:
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} >= set(NEW_SCHEMAS)


def json_of(cli: CliRunner, *args: str, code: int = 0) -> Any:
    result = cli(*args, "--format", "json")
    assert result.exit_code == code, result
    return result.json()


# ------------------------------------------------------------------ dns records


@pytest.mark.parametrize(
    "extra",
    [
        ["--style", "bind"],
        ["--style", "bind", "--all-subdomains", "--ghes-version", "3.12"],
        ["--style", "hosts", "--ghes-version", "3.19"],
    ],
    ids=["bind", "bind-all-subdomains", "hosts"],
)
def test_dns_records_matches_its_schema(cli: CliRunner, extra: list[str]) -> None:
    args = ("dns", "records", HOST, "--address", "10.0.0.5", "--address", "2001:db8::5")
    doc = json_of(cli, *args, *extra)
    validate(doc, "dns-records-v1")
    assert doc["style"] == extra[1]


def test_the_dns_records_schema_refuses_a_record_without_ttl_and_an_unknown_field(
    cli: CliRunner,
) -> None:
    doc = json_of(cli, "dns", "records", HOST, "--address", "10.0.0.5")
    del doc["records"][0]["ttl"]
    with pytest.raises(AssertionError, match="ttl"):
        validate(doc, "dns-records-v1")
    hosts = json_of(cli, "dns", "records", HOST, "--address", "10.0.0.5", "--style", "hosts")
    with pytest.raises(AssertionError):
        validate({**hosts, "records": []}, "dns-records-v1")


# ------------------------------------------------------------------ tls ca create, issue, csr


def test_tls_ca_create_issue_and_csr_match_their_schemas(cli: CliRunner, tmp_path: Path) -> None:
    ca = json_of(cli, "tls", "ca", "create", "--out", str(tmp_path / "ca"))
    validate(ca, "tls-ca-create-v1")
    issued = json_of(
        cli, "tls", "issue", HOST, "--ca", str(tmp_path / "ca"), "--out", str(tmp_path / "certs")
    )
    validate(issued, "tls-issue-v1")
    assert {f["kind"] for f in issued["files"] if f["secret"]} == {"key"}
    csr = json_of(cli, "tls", "csr", HOST, "--out", str(tmp_path / "csr"))
    validate(csr, "tls-csr-v1")
    with pytest.raises(AssertionError, match="not_after"):
        validate({**ca, "not_after": "next year"}, "tls-ca-create-v1")


# ------------------------------------------------------------------ facts list, verify


def test_facts_list_matches_its_schema(cli: CliRunner) -> None:
    doc = json_of(cli, "facts", "list")
    validate(doc, "facts-list-v1")
    assert any(not f["verified"] for f in doc["facts"])


@pytest.mark.parametrize(
    ("capture", "code"),
    [("lab-3.19.json", 0), ("edited/lab-3.19-isolation-key-renamed.json", 1)],
)
def test_facts_verify_matches_its_schema(cli: CliRunner, capture: str, code: int) -> None:
    doc = json_of(cli, "facts", "verify", str(CAPTURES / capture), code=code)
    validate(doc, "facts-verify-v1")
    assert any(f["verdict"] == "contradicted" for f in doc["facts"]) is bool(code)


# ------------------------------------------------------------------ lab status (its shape)


def test_the_lab_status_schema_takes_the_presenters_document() -> None:
    from ghes_setup.lab.parts import PartStatus
    from ghes_setup.reporting.lab import LabStatus, document

    parts = (
        PartStatus("labd", True, 41, "127.77.0.1:8082", True),
        PartStatus("registry", False, None, "127.77.0.1:5000", False, "stopped", expected=False),
    )
    doc = document(LabStatus("ghe.lab.test", "127.77.0.1", parts))
    validate(doc, "lab-status-v1")
    assert doc["healthy"] is True
    down = document(LabStatus("ghe.lab.test", "127.77.0.1", (replace(parts[0], answering=False),)))
    validate(down, "lab-status-v1")
    assert down["healthy"] is False
    with pytest.raises(AssertionError, match="pid"):
        validate({**doc, "parts": [{**doc["parts"][0], "pid": "41"}]}, "lab-status-v1")


# ------------------------------------------------------------------ config (fake appliance)


@pytest.fixture
def tls_site(tmp_path: Path) -> Site:
    leaf = trustme.CA().create_child_ca().issue_cert(HOST, f"*.{HOST}")
    cert, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return Site(hostname=HOST, subdomain_isolation=True, tls=TlsSettings(cert=cert, key=key))


def passing_gate(site: Site) -> Report:
    return Report("tls check", (CheckResult("tls-key-match", "tls", Status.PASS, "ok"),))


def no_wait_clock() -> Clock:
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    return Clock(now=lambda: t[0], sleep=sleep)


def test_config_show_plan_apply_and_rollback_documents_match_their_schemas(
    tls_site: Site, tmp_path: Path
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False, "tls.enabled": True})
    info, settings = show(fake)
    shown = show_document(ShowResult(HOST, info, settings))
    validate(shown, "config-show-v1")
    validate(plan_result_document(PlanResult(*plan_site(fake, tls_site))), "config-plan-v1")
    options = ApplyOptions(snapshot_dir=tmp_path / "snapshots", poll_s=0.5)
    dry = apply_site(fake, tls_site, tls_gate=passing_gate, options=replace(options, dry_run=True))
    validate(apply_document(dry), "config-apply-v1")
    applied = apply_site(
        fake, tls_site, tls_gate=passing_gate, options=options, clock=no_wait_clock()
    )
    doc = apply_document(applied)
    validate(doc, "config-apply-v1")
    assert doc["changed"] and doc["run_successful"] and doc["snapshot"]
    assert applied.snapshot is not None
    undone = rollback(fake, tls_site, applied.snapshot, options=options, clock=no_wait_clock())
    validate(apply_document(undone), "config-apply-v1")
    # The key never reaches a document; a document with a key's value in a secret's place
    # breaks the schema.
    assert tls_site.tls.key is not None
    assert "PRIVATE KEY" not in json.dumps([shown, doc])
    broken = {**shown, "settings": {**shown["settings"], "tls.key": {"value": "x"}}}
    with pytest.raises(AssertionError, match=r"tls\.key"):
        validate(broken, "config-show-v1")
    with pytest.raises(AssertionError):
        validate({**doc, "command": "config show"}, "config-apply-v1")


def test_a_dated_document_is_validated_as_a_date_time() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC).isoformat()
    files: list[dict[str, Any]] = []
    validate({"subject": "CN=x", "not_after": when, "files": files}, "tls-ca-create-v1")
