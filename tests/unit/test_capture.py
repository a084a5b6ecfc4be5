"""Capture without sockets: the ghe-config -l parsers, redaction, the SSH probes over a fake
admin shell (both listing formats, multi-line secrets), facts list/verify and --facts-from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ghes_setup import facts
from ghes_setup.appliance.transport import ApplianceInfo, ApplyStatus
from ghes_setup.capture import service
from ghes_setup.capture.parsers import parse_config_list, parse_config_list_z, parse_scopes
from ghes_setup.capture.redact import (
    is_marker,
    marker,
    redact_config_value,
    redact_document,
    scrub_known,
    secret_text,
)
from ghes_setup.capture.verify import (
    VOLATILE,
    FactContradicted,
    catalogue,
    differences,
    guard_writes,
    verify,
)
from ghes_setup.exit_codes import for_error
from ghes_setup.facts import GhesVersion
from tests.conftest import CliRunner

CAPTURES = Path(__file__).resolve().parent.parent / "contract" / "captures"
NEWEST = CAPTURES / f"lab-{facts.NEWEST_TESTED}.json"
EDITED = CAPTURES / "edited" / f"lab-{facts.NEWEST_TESTED}-isolation-key-renamed.json"

PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCSEEDEDKEYLINE1\n"
    "SEEDEDKEYLINE2abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH\n-----END PRIVATE KEY-----\n"
)
CERT = "-----BEGIN CERTIFICATE-----\nMIIBcertline1\nMIIBcertline2\n-----END CERTIFICATE-----\n"
SEEDED = {
    "core.github-hostname": "ghe.example.com",
    "core.subdomain-isolation": "true",
    "github-ssl.enabled": "true",
    "github-ssl.cert": CERT,
    "github-ssl.key": PEM_KEY,
    "app.packages.enabled": "true",
    "secrets.packages.blob-storage-type": "s3",
    "secrets.packages.s3-bucket": "ghes-packages",
    "secrets.packages.aws-access-key": "AKIASEEDEDACCESSKEY1",
    "secrets.packages.aws-secret-key": "SeededSecretKey/with+slash=",
    "secrets.admin.note": "SEEDED-MULTI-LINE-1\nkey.like=SEEDED-MULTI-LINE-2",
    "app.smtp.user-password": (
        "SEEDED-MULTI-LINE-3\nOdd_Key.x=SEEDED-MULTI-LINE-4\nSEEDED-MULTI-LINE-5"
    ),
    "app.smtp.password": "SeededSmtpPassword",
    "core.motd": "hello=world\nsecond line",
}
SECRET_BYTES = (
    "SEEDEDKEYLINE1",
    "SEEDEDKEYLINE2",
    "AKIASEEDEDACCESSKEY1",
    "SeededSecretKey",
    "SEEDED-MULTI-LINE",
    "SeededSmtpPassword",
)


def plain_listing(values: dict[str, str]) -> str:
    """`git config -l` (the lab's ghe-config -l): key=value, values printed as they are."""
    return "".join(f"{k}={v}\n" for k, v in values.items())


def z_listing(values: dict[str, str]) -> str:
    return "".join(f"{k}\n{v}\0" for k, v in values.items())


# ---------------------------------------------------------------------------- parsers


def test_plain_listing_keeps_multi_line_values_and_equals_signs() -> None:
    values = {
        **SEEDED,
        "secrets.admin.note": "line one\nline=two, no key before the =",
        "app.smtp.user-password": "x",
    }
    parsed = parse_config_list(plain_listing(values))
    assert parsed.entries == values
    assert parsed.line_format == "key=value"
    assert set(parsed.multiline) >= {"github-ssl.cert", "github-ssl.key", "secrets.admin.note"}


def test_plain_listing_alone_cannot_tell_a_key_like_value_line_from_an_entry() -> None:
    """Why capture reads every listed key back when -z is not supported."""
    parsed = parse_config_list(plain_listing(SEEDED))
    assert parsed.entries["key.like"] == "SEEDED-MULTI-LINE-2"
    assert parsed.entries["secrets.admin.note"] == "SEEDED-MULTI-LINE-1"


def test_nul_listing_is_parsed_exactly_and_plain_text_is_not_taken_for_it() -> None:
    parsed = parse_config_list_z(z_listing(SEEDED))
    assert parsed is not None and parsed.entries == SEEDED
    assert parse_config_list_z(plain_listing(SEEDED)) is None


def test_a_listing_that_is_not_key_value_is_reported_as_other() -> None:
    parsed = parse_config_list("core.github-hostname: ghe.example.com\nsomething else\n")
    assert parsed.line_format == "other" and parsed.stray == 2


def test_scopes_header_becomes_sorted_names_and_absent_header_none() -> None:
    assert parse_scopes("write:packages, read:packages,repo") == [
        "read:packages",
        "repo",
        "write:packages",
    ]
    assert parse_scopes(None) is None


# ---------------------------------------------------------------------------- redaction


def test_secret_values_become_kind_markers_without_length_or_hash() -> None:
    short = redact_config_value("secrets.packages.aws-secret-key", "a" * 8)
    long = redact_config_value("secrets.packages.aws-secret-key", "b" * 80)
    assert short == long == "<redacted:storage-key>"
    assert redact_config_value("github-ssl.key", PEM_KEY) == "<redacted:private-key>"
    assert redact_config_value("app.smtp.password", "x") == "<redacted:password>"
    assert redact_config_value("core.anything", "token ghp_" + "a" * 36) == "<redacted:token>"


def test_plain_settings_hostnames_booleans_and_storage_names_are_kept() -> None:
    for key in (
        "core.github-hostname",
        "core.subdomain-isolation",
        "secrets.packages.blob-storage-type",
        "secrets.packages.s3-bucket",
        "github-ssl.cert",
    ):
        assert redact_config_value(key, SEEDED[key]) == SEEDED[key]


def test_manage_api_document_secrets_are_redacted_and_the_rest_kept() -> None:
    doc = {
        "github_hostname": "ghe.example.com",
        "subdomain_isolation": True,
        "github_ssl": {"enabled": True, "cert": CERT, "key": PEM_KEY},
        "smtp": {"password": "SeededSmtpPassword", "port": "25"},
        "customer": {"public_key_data": "ssh-ed25519 AAAA"},
        "ldap": {"password": None},
    }
    out = redact_document(doc)
    assert out["github_ssl"]["key"] == marker("private-key")
    assert out["smtp"]["password"] == marker("password")
    assert out["github_ssl"]["cert"] == CERT
    assert out["customer"]["public_key_data"] == "ssh-ed25519 AAAA"
    assert out["subdomain_isolation"] is True and out["ldap"]["password"] is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http_proxy", "http://proxyuser:Pr0xyPassw0rd@proxy.corp.example:3128"),
        ("avatar.uri", "https://acct.blob.core.windows.net/a?sv=2022-11-02&sp=r&sig=SASsig%2Bx%3D"),
        ("mapping.tileserver", "https://tiles.example/{z}/{x}/{y}.png?access_token=MAPBOXsecret1"),
        ("x.url", "https://b.s3.amazonaws.com/o?X-Amz-Credential=AKIAEXAMPLE%2F2026&X-Amz-Date=1"),
    ],
)
def test_urls_with_credentials_are_redacted_in_settings_and_documents(key: str, value: str) -> None:
    assert redact_config_value(key, value) == marker(secret_text(value) or "?")
    section, field = key.split(".") if "." in key else ("top", key)
    assert is_marker(redact_document({section: {field: value}})[section][field])


@pytest.mark.parametrize(
    "value",
    [
        "http://proxy.corp.example:3128",
        "https://tiles.example/{z}/{x}/{y}.png?access_token={token}",
        "https://ghe.example.com/path?page=2&per_page=100",
        "mailto:admin@example.com",
    ],
)
def test_urls_without_credentials_are_kept(value: str) -> None:
    assert redact_config_value("mapping.tileserver", value) == value


def test_known_values_are_scrubbed_wherever_they_appear() -> None:
    doc = {"a": ["x", "prefix-hunter2-suffix"], "b": {"c": "hunter2"}}
    assert scrub_known(doc, ["hunter2"]) == {
        "a": ["x", marker("secret")],
        "b": {"c": marker("secret")},
    }


# ---------------------------------------------------------------------------- SSH probes


class FakeAdminShell:
    """The admin shell the capture talks to (the methods of SshTransport it uses)."""

    def __init__(self, values: dict[str, str], *, nul: bool) -> None:
        self.values = values
        self.nul = nul
        self.commands: list[list[str]] = []

    def identify(self, prefetch: Any = ()) -> ApplianceInfo:
        return ApplianceInfo(version=GhesVersion.parse("3.19.1"), via="ssh")

    def run_utility(self, argv: list[str], stdin: bytes | None = None) -> tuple[int, str]:
        self.commands.append(list(argv))
        if argv == ["ghe-version"]:
            return 0, "GitHub Enterprise Server 3.19.1 lab 2026-01-01 abc\n"
        if argv == ["ghe-config", "-l"]:
            return 0, plain_listing(self.values)
        if argv == ["ghe-config", "-l", "-z"]:
            return (0, z_listing(self.values)) if self.nul else (2, "unknown option -z\n")
        if argv[0] == "ghe-packages-precheck":
            return 0, "Usage: ghe-packages-precheck -p S3 -cs 'SecretAccessKey=s'\n"
        return 127, "not found"

    def read_keys(self, keys: Any) -> dict[str, str | None]:
        return {k: self.values.get(k) for k in keys}

    def maintenance(self) -> bool | None:
        return False

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        return ApplyStatus(run_id=None, running=False, successful=False, known=False)


@pytest.mark.parametrize("nul", [True, False], ids=["with -z", "key=value only"])
def test_ssh_probes_redact_every_seeded_secret_in_both_listing_formats(nul: bool) -> None:
    shell = FakeAdminShell(SEEDED, nul=nul)
    recorder = service._Recorder(service.NullProgress())
    doc: dict[str, Any] = {
        "identity": {},
        "utilities": {},
        "last_apply": {},
        "maintenance": None,
    }
    service._over_ssh(recorder, doc, shell)
    text = json.dumps(doc)
    for secret in SECRET_BYTES:
        assert secret not in text
    entries = doc["ghe_config"]["entries"]
    assert entries["core.motd"] == SEEDED["core.motd"]
    assert entries["github-ssl.cert"] == CERT
    assert is_marker(entries["secrets.admin.note"])
    assert doc["ghe_config"]["format"]["nul_separated"] is nul
    assert "key.like" not in entries  # a value's line, not an entry
    assert "Odd_Key.x" not in entries
    assert doc["ghe_config"]["format"]["continuation_lines_like_keys"] == (0 if nul else 2)
    # A value's line is no key in the format summary either (its "name" is part of a secret).
    assert set(doc["ghe_config"]["format"]["multiline_keys"]) <= set(entries)
    assert doc["ghe_config"]["format"]["multiline_keys"]
    assert doc["ghe_config"]["format"]["multiline_values"] == "continuation-lines"
    assert doc["unverified_keys"]["github-ssl.key"] == {"present": True, "kind": "redacted"}
    # Read-only: nothing but reads and usage texts ran.
    assert all(
        c[0] in ("ghe-version", "ghe-config", "ghe-packages-precheck") for c in shell.commands
    )
    assert all(c[1:] in ([], ["-l"], ["-l", "-z"], ["--help"]) for c in shell.commands)
    assert all(p["ok"] for p in recorder.probes.values())


def test_a_failing_probe_is_recorded_and_the_others_go_on() -> None:
    class Broken(FakeAdminShell):
        def read_keys(self, keys: Any) -> dict[str, str | None]:
            raise OSError("connection reset")

    recorder = service._Recorder(service.NullProgress())
    doc: dict[str, Any] = {"identity": {}, "utilities": {}, "last_apply": {}, "maintenance": None}
    service._over_ssh(recorder, doc, Broken(SEEDED, nul=True))
    assert recorder.probes["ssh.unverified-keys"]["ok"] is False
    assert "connection reset" in recorder.probes["ssh.unverified-keys"]["error"]
    assert doc["ghe_config"] is not None and recorder.probes["ssh.last-apply"]["ok"] is True


# ---------------------------------------------------------------------------- verdicts


def _newest() -> dict[str, Any]:
    return dict(json.loads(NEWEST.read_text(encoding="utf-8")))


def test_every_unverified_fact_of_facts_py_gets_a_verdict() -> None:
    unverified = {r.id for r in catalogue() if not r.verified}
    assert {v.id for v in verify(_newest())} == unverified
    assert len(unverified) >= 12


def test_a_capture_without_ssh_leaves_the_key_facts_unknown() -> None:
    doc = _newest()
    doc["ghe_config"] = None
    doc["unverified_keys"] = None
    verdicts = {v.id: v.verdict for v in verify(doc)}
    assert verdicts["ghe-config-key:packages.ecosystems.npm"] == "unknown"
    assert verdicts["ghe-config-list-format"] == "unknown"
    # The Manage API says isolation is on, but without a listing nothing can be said.
    assert verdicts["ghe-config-key:subdomain_isolation"] == "unknown"


def test_isolation_on_in_the_api_but_no_key_contradicts_the_key() -> None:
    doc = _newest()
    del doc["ghe_config"]["entries"]["core.subdomain-isolation"]
    doc["unverified_keys"]["core.subdomain-isolation"]["present"] = False
    bad = [v for v in verify(doc) if v.verdict == "contradicted"]
    assert [v.id for v in bad] == ["ghe-config-key:subdomain_isolation"]
    assert "subdomain_isolation" in bad[0].evidence


def test_another_realm_contradicts_the_realm_guess() -> None:
    doc = _newest()
    doc["front_door"]["registry"]["realm"] = "https://ghe.lab.test/registry/token"
    verdicts = {v.id: v for v in verify(doc)}
    assert verdicts["registry-realm-guess"].verdict == "contradicted"
    assert "registry/token" in verdicts["registry-realm-guess"].evidence


def test_guard_refuses_only_a_contradicted_key_going_over_ssh() -> None:
    doc = json.loads(EDITED.read_text(encoding="utf-8"))
    with pytest.raises(FactContradicted) as caught:
        guard_writes(doc, ["subdomain_isolation"], over_ssh=["subdomain_isolation"])
    assert "ghe-config-key:subdomain_isolation" in str(caught.value)
    assert for_error(caught.value) == 3
    guard_writes(doc, ["subdomain_isolation"], over_ssh=[])  # the Manage API field: allowed
    guard_writes(_newest(), ["subdomain_isolation"], over_ssh=["subdomain_isolation"])


def test_differences_skip_volatile_fields_and_markers_only() -> None:
    a = _newest()
    b = json.loads(json.dumps(a))
    b["captured_at"] = "2000-01-01T00:00:00Z"
    b["dns"]["hostname"]["addresses"] = ["127.0.0.9"]
    b["ghe_config"]["entries"]["secrets.packages.aws-access-key"] = "plain-now"
    assert differences(a, b) == []
    b["ghe_config"]["entries"]["core.subdomain-isolation"] = "false"
    assert differences(a, b) == ["ghe_config.entries.core.subdomain-isolation: 'true' != 'false'"]
    assert "captured_at" in VOLATILE


# ---------------------------------------------------------------------------- CLI


def test_facts_list_json_names_every_fact_with_its_source(cli: CliRunner) -> None:
    result = cli("facts", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = result.json()["facts"]
    ids = {r["id"] for r in rows}
    assert "ghe-config-key:subdomain_isolation" in ids and "ghe-config-list-format" in ids
    assert all(r["source"] for r in rows)
    assert any(not r["verified"] for r in rows) and any(r["verified"] for r in rows)


def test_facts_verify_exits_0_on_the_lab_capture_and_1_on_the_edited_one(
    cli: CliRunner,
) -> None:
    good = cli("facts", "verify", str(NEWEST), "--format", "json")
    assert good.exit_code == 0, good.output
    doc = good.json()
    assert doc["schema_version"] == 1
    assert {f["verdict"] for f in doc["facts"]} <= {"confirmed", "unknown"}
    assert all(set(f) == {"id", "verdict", "evidence"} for f in doc["facts"])
    bad = cli("facts", "verify", str(EDITED))
    assert bad.exit_code == 1, bad.output
    assert "contradicted ghe-config-key:subdomain_isolation" in " ".join(bad.stdout.split())
    tail = bad.stdout.strip().splitlines()[-3:]
    assert "ghes_setup/facts.py:" in bad.stdout
    assert any("report" in line for line in tail)


def test_facts_verify_on_a_file_that_is_not_a_capture_exits_3(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"schema_version": 1}')
    result = cli("facts", "verify", str(path))
    assert result.exit_code == 3
    assert "not a ghes-setup capture" in result.stderr
    assert "Traceback" not in result.output


def test_config_apply_with_facts_from_refuses_a_contradicted_key_over_ssh(
    cli: CliRunner, tmp_path: Path
) -> None:
    key = tmp_path / "id"
    key.write_text("not used: the guard stops the run before it connects\n")
    site = tmp_path / "site.toml"
    site.write_text(
        'hostname = "ghe.lab.test"\nsubdomain_isolation = true\n'
        f'[connection]\ntransport = "ssh"\nssh_identity = "{key}"\naddress = "127.0.0.1"\n'
        "ssh_port = 1\n"
    )
    for command in (["config", "apply"], ["up", "--no-smoke"]):
        result = cli(*command, "--site", str(site), "--yes", "--facts-from", str(EDITED))
        assert result.exit_code == 3, result.output
        assert "ghe-config-key:subdomain_isolation" in result.stderr
        assert "Traceback" not in result.output


def test_redaction_is_idempotent_on_markers() -> None:
    doc = {"github_ssl": {"key": PEM_KEY}, "smtp": {"password": "x"}}
    once = redact_document(doc)
    assert redact_document(once) == once
    for key, value in SEEDED.items():
        first = redact_config_value(key, value)
        assert redact_config_value(key, first) == first


def test_capture_to_a_missing_folder_exits_3_before_probing(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("capture", "--out", str(tmp_path / "missing" / "cap.json"))
    assert result.exit_code == 3, result.output
    assert "does not exist" in result.stderr and "Traceback" not in result.output
    assert cli("capture", "--out", str(tmp_path)).exit_code == 3


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"identity": None}, "'identity' is not an object"),
        ({"front_door": "x"}, "'front_door' is not an object"),
        ({"settings": "x"}, "'settings' is not an object or null"),
        ({"probes": []}, "'probes' is not an object"),
        ({"unverified_keys": ["a"]}, "'unverified_keys'"),
        ({"ghe_config": {"entries": [], "format": "x"}}, "'entries' and 'format'"),
    ],
)
def test_facts_verify_on_a_capture_of_the_wrong_shape_exits_3_not_70(
    cli: CliRunner, tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    doc = json.loads(NEWEST.read_text(encoding="utf-8"))
    doc.update(change)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = cli("facts", "verify", str(path))
    assert result.exit_code == 3, result.output
    assert words in result.stderr
    assert "Traceback" not in result.output
