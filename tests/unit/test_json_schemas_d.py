"""The JSON documents of `packages enable`, `registry start`, `up`, `snapshot` and `verify`
match their published schemas (docs/schema/), from the real commands.

The commands run in-process (the `cli` fixture) against the in-memory fake appliance: the
services' transport opener hands it out (as tests/unit/test_packages_enable.py does), and the
registry's /v2/ is an httpx.MockTransport that answers like the appliance. The lab runs
the same commands end to end (tests/e2e/test_json_schemas_d_lab.py).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import ghes_setup.packages.service as packages_service
import ghes_setup.registry.check_ping as check_ping
import ghes_setup.runbooks.registry_start as registry_start
from ghes_setup.appliance.fake import FakeAppliance, FakeStorage
from ghes_setup.appliance.service import Connect
from ghes_setup.appliance.transport import ApplianceTransport
from tests.conftest import CliResult, CliRunner, assert_no_traceback
from tests.schema_helpers import validate

HOST = "ghe.example.com"
URL = "http://minio.example.com:9000"
ACCESS, SECRET = "AKIAEXAMPLE1", "s3-secret-value-42"
ENV = {"GHES_SETUP_S3_ACCESS_KEY": ACCESS, "GHES_SETUP_S3_SECRET_KEY": SECRET}
BEARER = f'Bearer realm="https://containers.{HOST}/token",service="containers.{HOST}"'
SITE = f"""\
hostname = "{HOST}"
[connection]
address = "127.0.0.1"
[packages]
enabled = true
storage = "minio"
service_url = "{URL}"
bucket = "pkgs"
"""


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAppliance:
    """An appliance without Packages; every command that opens one gets it, and its /v2/
    answers with a Bearer challenge once a configuration run applied Packages."""
    appliance = FakeAppliance(
        storage=FakeStorage("s3", URL, "pkgs", ACCESS, SECRET),
        settings={"subdomain_isolation": False},
        apply_polls=0,
    )

    def reopen(connect: Connect, progress: object = None) -> ApplianceTransport:
        appliance.closed = False  # each command opens (and closes) its own connection
        return appliance

    def handle(request: httpx.Request) -> httpx.Response:
        if any(r.successful for r in appliance.runs.values()):
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        return httpx.Response(404, json={"errors": [{"code": "UNAVAILABLE"}]})

    monkeypatch.setattr(packages_service, "open_appliance", reopen)
    monkeypatch.setattr(registry_start, "open_appliance", reopen)
    monkeypatch.setattr(
        check_ping, "default_http", lambda _: httpx.Client(transport=httpx.MockTransport(handle))
    )
    return appliance


@pytest.fixture
def run(cli: CliRunner, tmp_path: Path) -> RunCommand:
    site = tmp_path / "site.toml"
    site.write_text(SITE)
    return RunCommand(cli, site, tmp_path / "snapshots")


class RunCommand:
    def __init__(self, cli: CliRunner, site: Path, snapshots: Path) -> None:
        self.cli, self.site, self.snapshots = cli, site, snapshots

    def __call__(self, *args: str) -> CliResult:
        result = self.cli(
            *args, "--site", str(self.site), "--transport", "ssh", "--yes",
            "--snapshot-dir", str(self.snapshots), env=ENV,
        )  # fmt: skip
        assert_no_traceback(result)
        assert SECRET not in result.output and ACCESS not in result.output
        return result


def test_packages_enable_json_matches_its_schema_changed_and_not(
    fake: FakeAppliance, run: RunCommand
) -> None:
    first = run("packages", "enable", "--format", "json")
    assert first.exit_code == 0, first
    document = first.json()
    validate(document, "packages-enable-v1")
    assert document["changes"] and document["run_successful"] is True
    assert document["precheck"]["passed"] and document["blob_check"]["passed"]
    for broken in (
        {**document, "password": "x"},  # nothing beyond the schema, a secret least of all
        {k: v for k, v in document.items() if k != "run_id"},  # an apply part is required
        {**document, "precheck": {**document["precheck"], "passed": "yes"}},
    ):
        with pytest.raises(AssertionError):
            validate(broken, "packages-enable-v1")
    again = run("packages", "enable", "--format", "json")
    assert again.exit_code == 0, again
    validate(again.json(), "packages-enable-v1")
    assert again.json()["changes"] == [] and again.json()["precheck"] is None


def test_packages_enable_for_humans_says_what_the_storage_utilities_said(
    fake: FakeAppliance, run: RunCommand
) -> None:
    result = run("packages", "enable")
    assert result.exit_code == 0, result
    assert "Plan for ghe.example.com" in result.stdout
    assert "Storage precheck (ghe-packages-precheck): passed" in result.stdout
    assert "Blob storage check (ghe-check-blob-connection): passed" in result.stdout


def test_registry_start_json_matches_its_schema(fake: FakeAppliance, run: RunCommand) -> None:
    dry = run("registry", "start", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry
    validate(dry.json(), "registry-start-v1")
    assert dry.json()["dry_run"] is True and dry.json()["registry"] is None
    assert dry.json()["changes"] and not fake.runs
    result = run("registry", "start", "--format", "json")
    assert result.exit_code == 0, result
    document = result.json()
    validate(document, "registry-start-v1")
    assert document["command"] == "registry start" and document["run_successful"] is True
    assert document["registry"]["status"] == "pass"


def test_registry_start_for_humans_ends_with_the_registry_answer(
    fake: FakeAppliance, run: RunCommand
) -> None:
    result = run("registry", "start")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1].startswith("Container registry: ")


def test_a_broken_document_is_refused_by_the_schema() -> None:
    with pytest.raises(AssertionError, match="registry"):
        validate({"schema_version": 1, "command": "registry start"}, "registry-start-v1")
