"""`ghes-setup capture`, `facts verify` and `lab up --from-capture` against the lab's real
servers: read-only, redacted, failures recorded, and a lab built from a capture captures the
same (every non-volatile field)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.capture.verify import differences
from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult, CliRunner
from tests.fixtures.lab import free_lab_address, lab_command, make_lab_dir

pytestmark = pytest.mark.lab

MULTI_LINE_SECRET = "RECOGNISABLE-NOTE-ONE\nkey.like=RECOGNISABLE-NOTE-TWO\n"
SMTP_PASSWORD = "RECOGNISABLE-SMTP-PASSWORD-42"


def _capture(cli: CliRunner, lab: LabHandle, out: Path, *extra: str, **env: str) -> CliResult:
    return cli("capture", "--out", str(out), "--verbose", *extra, env={**lab.env, **env})


def _secrets_of(lab: LabHandle) -> list[str]:
    key_lines = [
        line
        for line in lab.site_key.read_text(encoding="utf-8").splitlines()
        if len(line) >= 20 and "-----" not in line
    ]
    return [
        lab.admin_password,
        lab.write_token,
        lab.read_token,
        lab.fine_grained_token,
        lab.s3_access_key,
        lab.s3_secret_key,
        "RECOGNISABLE-NOTE",
        SMTP_PASSWORD,
        *key_lines,
    ]


@pytest.fixture
def seeded_lab(registry_lab: LabHandle) -> Iterator[LabHandle]:
    """The prepared lab plus a multi-line secret and a password under non-storage keys."""
    registry_lab.set_settings(
        {"secrets.lab.note": MULTI_LINE_SECRET, "app.smtp.password": SMTP_PASSWORD}
    )
    yield registry_lab
    registry_lab.set_settings({"secrets.lab.note": None, "app.smtp.password": None})


def test_capture_is_read_only(cli: CliRunner, registry_lab: LabHandle, tmp_path: Path) -> None:
    settings, applied = registry_lab.settings(), registry_lab.applied_settings()
    runs = registry_lab.apply_runs()
    registry_lab.fault("ssh-drop")  # fires on the first ghe-config WRITE of a session
    try:
        result = _capture(cli, registry_lab, tmp_path / "cap.json")
        assert result.exit_code == 0, result.output
        assert registry_lab.settings() == settings
        assert registry_lab.applied_settings() == applied
        assert registry_lab.apply_runs() == runs
        assert "ssh-drop" in registry_lab.active_faults()  # never fired: nothing was written
        assert not any("ssh-drop" in line for line in registry_lab.fired_faults())
    finally:
        registry_lab.clear_faults()


@pytest.mark.parametrize("listing", ["", "no-z"], ids=["ghe-config -l -z", "key=value only"])
def test_capture_redacts_every_seeded_secret_in_file_output_and_log(
    cli: CliRunner, seeded_lab: LabHandle, tmp_path: Path, listing: str
) -> None:
    """Both listing formats: with -z, and plain key=value where multi-line values (the PEM
    key, the note) run over several lines."""
    out = tmp_path / "cap.json"
    style = seeded_lab.layout.state / "ghe-config-list"
    if listing:
        style.write_text(listing + "\n", encoding="ascii")
        style.chmod(0o644)
    try:
        result = _capture(cli, seeded_lab, out)
    finally:
        style.unlink(missing_ok=True)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text(encoding="utf-8")
    for secret in _secrets_of(seeded_lab):
        assert secret not in text
        assert secret not in result.output
    doc = json.loads(text)
    entries = doc["ghe_config"]["entries"]
    assert entries["github-ssl.key"] == "<redacted:private-key>"
    assert entries["secrets.packages.aws-secret-key"] == "<redacted:storage-key>"
    assert entries["secrets.lab.note"].startswith("<redacted:")
    assert entries["app.smtp.password"] == "<redacted:password>"
    assert entries["secrets.packages.s3-bucket"] == seeded_lab.bucket  # not a secret: kept
    assert doc["ghe_config"]["format"]["multiline_values"] == "continuation-lines"
    assert doc["ghe_config"]["format"]["nul_separated"] is (listing != "no-z")
    assert doc["settings"]["github_ssl"]["key"].startswith("<redacted:")
    assert doc["front_door"]["token"]["scopes"] == sorted(
        ["read:packages", "write:packages", "delete:packages"]
    )
    assert f"to {out}" in " ".join(result.stdout.split())


def test_facts_verify_on_the_lab_capture_contradicts_nothing(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path
) -> None:
    out = tmp_path / "cap.json"
    assert _capture(cli, registry_lab, out).exit_code == 0
    result = cli("facts", "verify", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    verdicts = {f["id"]: f["verdict"] for f in result.json()["facts"]}
    assert "contradicted" not in verdicts.values()
    assert verdicts["ghe-config-key:subdomain_isolation"] == "confirmed"
    assert verdicts["registry-realm-guess"] == "confirmed"


def test_capture_under_faults_records_the_failed_probes_and_writes_the_file(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path
) -> None:
    out = tmp_path / "cap.json"
    registry_lab.fault("ssh-drop")
    registry_lab.fault("api-503", count=5)  # the first call's every attempt
    registry_lab.fault("dns-no-wildcard")
    try:
        result = _capture(cli, registry_lab, out)
    finally:
        registry_lab.clear_faults()
    assert result.exit_code == 0, result.output
    probes = json.loads(out.read_text(encoding="utf-8"))["probes"]
    failed = {name for name, p in probes.items() if p["ok"] is False}
    assert "api.version" in failed
    assert "dns.wildcard" in failed and "dns.isolation.containers" in failed
    assert probes["dns.hostname"]["ok"] and probes["api.settings"]["ok"]
    assert probes["ssh.ghe-config-list"]["ok"]
    assert "FAILED api.version" in result.stdout

    # The admin shell unreachable: its probes fail, the rest is still recorded.
    again = _capture(cli, registry_lab, out, GHES_SETUP_CONNECTION_SSH_PORT="1")
    assert again.exit_code == 0, again.output
    probes = json.loads(out.read_text(encoding="utf-8"))["probes"]
    assert probes["ssh.ghe-config-list"]["ok"] is False
    assert probes["api.settings"]["ok"] and probes["front-door.registry"]["ok"]
    # Offered but never answering: not named as a transport the capture went through.
    assert json.loads(out.read_text(encoding="utf-8"))["transports"] == ["api"]
    assert "via api)" in again.stdout, again.stdout


@pytest.fixture
def second_lab_dir() -> Iterator[Path]:
    directory = make_lab_dir()
    directory.rmdir()  # `lab up --from-capture` creates it
    yield directory
    lab_command("down", "--dir", str(directory))


def _env_of(directory: Path) -> dict[str, str]:
    return LabHandle.open(directory).env


def test_lab_from_capture_captures_the_same_and_rehearses_up(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path, second_lab_dir: Path
) -> None:
    first = tmp_path / "first.json"
    assert _capture(cli, registry_lab, first).exit_code == 0
    address = free_lab_address()
    up = lab_command(
        "up", "--from-capture", str(first), "--dir", str(second_lab_dir), "--address", address
    )
    assert up.returncode == 0, up.stdout + up.stderr
    twin = LabHandle.open(second_lab_dir)
    assert twin.hostname == registry_lab.hostname
    assert twin.ghes_version == registry_lab.ghes_version
    # Fresh lab secrets, printed by `lab env`.
    env_text = lab_command("env", "--dir", str(second_lab_dir)).stdout
    assert twin.admin_password in env_text and twin.admin_password != registry_lab.admin_password
    assert twin.s3_secret_key != registry_lab.s3_secret_key

    second = tmp_path / "second.json"
    result = cli("capture", "--out", str(second), env=twin.env)
    assert result.exit_code == 0, result.output
    a: dict[str, Any] = json.loads(first.read_text(encoding="utf-8"))
    b: dict[str, Any] = json.loads(second.read_text(encoding="utf-8"))
    assert differences(a, b) == []
    assert b["ghe_config"]["entries"]["core.subdomain-isolation"] == "true"

    rehearsal = cli("up", "--dry-run", "--format", "json", env=twin.env)
    assert rehearsal.exit_code == 0, rehearsal.output


def test_lab_from_capture_takes_the_captured_topology_and_maintenance(
    cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path, second_lab_dir: Path
) -> None:
    fresh_lab.set_topology("Ha", replica=False)
    fresh_lab.set_maintenance(True)
    try:
        cap = tmp_path / "ha.json"
        assert _capture(cli, fresh_lab, cap).exit_code == 0
    finally:
        fresh_lab.reset()
    up = lab_command(
        "up",
        "--from-capture",
        str(cap),
        "--dir",
        str(second_lab_dir),
        "--address",
        free_lab_address(),
    )
    assert up.returncode == 0, up.stdout + up.stderr
    twin = LabHandle.open(second_lab_dir)
    assert twin.topology().name == "Ha"
    assert twin.maintenance_on()


def test_lab_from_capture_imitates_the_observed_listing_format(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path, second_lab_dir: Path
) -> None:
    """A capture of an appliance whose ghe-config -l has no -z and hides secrets.* keys."""
    first = tmp_path / "first.json"
    assert _capture(cli, registry_lab, first).exit_code == 0
    doc = json.loads(first.read_text(encoding="utf-8"))
    doc["ghe_config"]["format"].update(nul_separated=False, secrets_listed=False)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    up = lab_command(
        "up",
        "--from-capture",
        str(edited),
        "--dir",
        str(second_lab_dir),
        "--address",
        free_lab_address(),
    )
    assert up.returncode == 0, up.stdout + up.stderr
    assert "no-z, no-secrets" in up.stdout
    twin = LabHandle.open(second_lab_dir)
    second = tmp_path / "second.json"
    assert cli("capture", "--out", str(second), env=twin.env).exit_code == 0
    got = json.loads(second.read_text(encoding="utf-8"))["ghe_config"]
    assert got["format"]["nul_separated"] is False
    assert got["format"]["secrets_listed"] is False
    assert not any(k.startswith("secrets.") for k in got["entries"])
    assert twin.settings()["secrets.packages.blob-storage-type"] == "s3"  # set, not listed


def test_an_api_only_capture_round_trips_through_a_lab(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path, second_lab_dir: Path
) -> None:
    first = tmp_path / "first.json"
    result = _capture(cli, registry_lab, first, "--transport", "api")
    assert result.exit_code == 0, result.output
    a: dict[str, Any] = json.loads(first.read_text(encoding="utf-8"))
    assert a["transports"] == ["api"] and a["ghe_config"] is None
    assert a["probes"]["ssh"]["ok"] is None  # skipped, with the reason
    up = lab_command(
        "up",
        "--from-capture",
        str(first),
        "--dir",
        str(second_lab_dir),
        "--address",
        free_lab_address(),
    )
    assert up.returncode == 0, up.stdout + up.stderr
    twin = LabHandle.open(second_lab_dir)
    second = tmp_path / "second.json"
    again = cli("capture", "--out", str(second), "--transport", "api", env=twin.env)
    assert again.exit_code == 0, again.output
    diff = differences(a, json.loads(second.read_text(encoding="utf-8")))
    assert diff == [], "\n".join(diff)
    assert twin.applied_settings()["core.subdomain-isolation"] == "true"


def test_lab_from_capture_with_a_key_no_appliance_holds_starts_nothing(
    cli: CliRunner, registry_lab: LabHandle, tmp_path: Path, second_lab_dir: Path
) -> None:
    first = tmp_path / "first.json"
    assert _capture(cli, registry_lab, first).exit_code == 0
    doc = json.loads(first.read_text(encoding="utf-8"))
    doc["ghe_config"]["entries"]["nodot"] = "x"  # git config refuses a key without a section
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    up = lab_command(
        "up", "--from-capture", str(edited), "--dir", str(second_lab_dir),
        "--address", free_lab_address(),
    )  # fmt: skip
    assert up.returncode == 3, up.stdout + up.stderr
    assert "'nodot'" in up.stderr and "Traceback" not in up.stderr
    assert not second_lab_dir.exists() or not any(second_lab_dir.iterdir())
