"""The storage backend table (packages/backends.py) and the facts.SETTINGS rows that drive the
desired state, the upgrade snapshot and the lab's key map.

The last tests register a throwaway fourth backend through the table's API (GHES supports only
S3, MinIO and Azure Blob for Packages, so no real one can be added) and show that the desired
state, the secrets, the precheck, the storage lint, both Packages checks and `init`'s reading
of a stored backend handle it with no code of theirs changed: docs/architecture.md, "Adding a
storage backend".
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import get_args

import pytest

from ghes_setup import facts
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.config.site import STORAGE_NEEDS, PackagesSettings, Site, StorageType
from ghes_setup.errors import SecretMissing, SiteFileError
from ghes_setup.facts import SettingKind
from ghes_setup.lab import settings as lab_settings
from ghes_setup.packages import backends
from ghes_setup.packages.backends import StorageBackend, StorageSecret
from ghes_setup.packages.check_enabled import packages_enabled
from ghes_setup.packages.check_storage_config import packages_storage_config
from ghes_setup.packages.context import PackagesContext
from ghes_setup.packages.desired import desired_packages, precheck_argv, read_storage_secrets
from ghes_setup.packages.lint import StorageFinding
from ghes_setup.runbooks import upgrade
from ghes_setup.secrets import Secret

HOST = "ghe.example.com"
BACKEND_BRANCH = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](s3|minio|azure)["']""")


# ---------------------------------------------------------------------------- the table


def test_the_table_the_site_literal_and_its_keys_name_the_same_backends() -> None:
    assert backends.names() == get_args(StorageType) == tuple(STORAGE_NEEDS)
    for backend in backends.backends():
        needs = {f"packages.{key}" for key in STORAGE_NEEDS[backend.name]}
        assert set(backend.site_settings) == needs, backend.name


def test_each_row_names_real_settings_of_the_right_kind() -> None:
    for backend in backends.backends():
        for name in backend.site_settings:
            assert facts.SETTINGS_BY_NAME[name].site_key == name, name
        for secret in backend.secrets:
            assert facts.SETTINGS_BY_NAME[secret.setting].kind is SettingKind.SECRET
            assert secret.env.startswith("GHES_SETUP_")
        assert backend.location in backend.site_settings
        assert "packages.storage_type" in backend.settings


def test_precheck_providers_are_the_documented_spellings() -> None:
    # command-line-utilities.md: ghe-packages-precheck -p {S3,MinIO,Azure}
    assert [b.precheck_provider for b in backends.backends()] == ["S3", "MinIO", "Azure"]
    assert {b.name: b.storage_type for b in backends.backends()} == {
        "s3": "s3",
        "minio": "s3",  # MinIO goes in the S3 fields
        "azure": "azure",
    }


@pytest.mark.parametrize(
    ("stored", "url", "name"),
    [
        ("s3", "https://s3.eu-west-1.amazonaws.com", "s3"),
        ("s3", "https://minio.corp:9000", "minio"),
        ("s3", None, "minio"),
        ("azure", None, "azure"),
    ],
)
def test_a_stored_type_and_url_name_one_backend(stored: str, url: str | None, name: str) -> None:
    found = backends.stored(stored, url)
    assert found is not None and found.name == name
    assert backends.stored("gcs") is None


@pytest.mark.parametrize("stored", ["AZURE", " azure", "S3", ""])
def test_a_stored_type_is_matched_as_stored_not_guessed(stored: str) -> None:
    """GHES stores `s3` or `azure`; anything else is an unknown type, not a near match."""
    assert backends.stored(stored) is None


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        backends.register(backends.backend("s3"))


def test_no_backend_branches_left_in_the_areas_the_table_serves() -> None:
    """`kind == "azure"` and the like: only the table itself (and the site literal) name a
    backend. The lab (its servers are per protocol: lab/parts.py `STORAGE_SERVERS`) and the
    fake appliance (its storage utilities' protocols) keep tables, not branches."""
    root = Path(backends.__file__).parents[1]
    served = [
        *sorted((root / "packages").glob("*.py")),
        *sorted((root / "lab").glob("*.py")),
        root / "appliance" / "plan.py",
        root / "appliance" / "fake.py",
        root / "config" / "site.py",
        root / "config" / "template.py",
        root / "runbooks" / "upgrade.py",
        root / "cli" / "init_cmd.py",
    ]
    found = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in served
        if path.name != "backends.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BACKEND_BRANCH.search(line)
    ]
    assert found == []


# ---------------------------------------------------------------------------- facts.SETTINGS


def _resolves(model: object, path: str) -> bool:
    """`path` names a field of the site model (a table's entry for the last part)."""
    hints: Mapping[str, object] = typing.get_type_hints(type(model))
    head, _, rest = path.partition(".")
    if head not in hints:
        return False
    if not rest:
        return True
    value = getattr(model, head)
    if isinstance(value, Mapping) or dataclasses.is_dataclass(value) is False:
        return "." not in rest  # an entry of a table (ecosystems)
    return _resolves(value, rest)


def test_every_site_key_is_a_field_of_the_site_model() -> None:
    model = Site(hostname=HOST)
    for row in facts.SETTINGS:
        if row.site_key is not None:
            assert _resolves(model, row.site_key), row.name


def test_the_upgrade_snapshot_records_the_recorded_rows_and_no_secret() -> None:
    recorded = [s.name for s in facts.SETTINGS if s.recorded]
    assert list(upgrade.RECORDED) == recorded
    assert set(upgrade.TLS_SETTINGS) | set(upgrade.PACKAGES_SETTINGS) == set(recorded)
    assert all(facts.SETTINGS_BY_NAME[n].kind is not SettingKind.SECRET for n in recorded)
    assert upgrade.TLS_SETTINGS == ("subdomain_isolation", "tls.enabled", "tls.cert")


def test_the_lab_key_map_is_the_settings_table() -> None:
    mapped = {key: path for path, key, _ in lab_settings.MAPPED_FIELDS}
    rows = {s.ghe_config_key: tuple(s.api_field.split(".")) for s in facts.SETTINGS if s.api_field}
    assert mapped == rows
    assert (
        facts.SETTINGS_BY_NAME["packages.storage_type"].ghe_config_key == lab_settings.STORAGE_TYPE
    )
    assert lab_settings.SSL_KEY == "github-ssl.key"  # the UNVERIFIED key, from its row


# ---------------------------------------------------------------------------- a fourth backend


def _lint_tb(pk: PackagesSettings, secret: str | None) -> list[StorageFinding]:
    found = []
    if (pk.bucket or "").startswith("tmp-"):
        found.append(StorageFinding("warning", "tb-tmp", "a tmp- bucket", "use another"))
    if secret is not None and "bad" in secret:
        found.append(StorageFinding("error", "tb-token", "the token is bad", "get a new one"))
    return found


def _precheck_tb(backend: StorageBackend, values: Mapping[str, str | Secret]) -> list[str | Secret]:
    token = values["packages.s3_secret_key"]
    assert isinstance(token, Secret)
    return ["-cs", token, "-cn", str(values[backend.location])]


TOKEN = StorageSecret("packages.s3_secret_key", "GHES_SETUP_TB_TOKEN", "the token")
TESTBLOB = StorageBackend(
    name="testblob",
    label="TestBlob",
    product="TestBlob",
    storage_type="testblob",
    site_settings=("packages.bucket",),
    location="packages.bucket",
    secrets=(TOKEN,),
    precheck_provider="TestBlob",
    precheck=_precheck_tb,
    lint=_lint_tb,
    lint_secret=TOKEN,
)
ENV = {"GHES_SETUP_TB_TOKEN": "tok-123"}


@pytest.fixture
def testblob() -> Iterator[StorageBackend]:
    backends.register(TESTBLOB)
    try:
        yield TESTBLOB
    finally:
        backends.unregister(TESTBLOB.name)


def tb_site(**packages: object) -> Site:
    base: dict[str, object] = {"enabled": True, "storage": "testblob", "bucket": "pkgs"}
    base.update(packages)
    return Site(hostname=HOST, packages=PackagesSettings(**base))  # type: ignore[arg-type]


@pytest.mark.usefixtures("testblob")
def test_a_fourth_backend_gets_its_desired_state_secrets_and_precheck() -> None:
    # another backend's key in the file (service_url) is not this backend's: left alone
    site = tb_site(service_url="https://elsewhere", ecosystems={"npm": "disabled"})
    secrets = read_storage_secrets(site, ENV)
    desired = desired_packages(site, secrets)
    assert set(desired) == {
        "packages.enabled",
        "packages.storage_type",
        "packages.bucket",
        "packages.s3_secret_key",
        "packages.ecosystems.npm",
    }
    assert desired["packages.storage_type"] == "testblob"
    token = desired["packages.s3_secret_key"]
    assert isinstance(token, Secret) and token.reveal() == "tok-123"
    argv = precheck_argv(site, secrets)
    assert [str(a) for a in argv[:3]] == ["ghe-packages-precheck", "-p", "TestBlob"]
    assert argv[-2:] == ["-cn", "pkgs"] and "tok-123" not in repr(argv)


@pytest.mark.usefixtures("testblob")
def test_a_fourth_backend_is_validated_by_its_row() -> None:
    with pytest.raises(SiteFileError, match="storage 'testblob' needs bucket"):
        desired_packages(tb_site(bucket=None), read_storage_secrets(tb_site(), ENV))
    with pytest.raises(SecretMissing, match="TestBlob storage \\(the token\\)") as info:
        read_storage_secrets(tb_site(), {})
    assert "GHES_SETUP_TB_TOKEN" in (info.value.hint or "")


@pytest.mark.usefixtures("testblob")
def test_a_fourth_backend_is_linted_by_its_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHES_SETUP_TB_TOKEN", "tok-123")
    ctx = PackagesContext(FakeAppliance(), tb_site(bucket="tmp-pkgs"))
    warned = packages_storage_config.run(ctx)
    assert warned.status.value == "warn" and warned.details["findings"][0]["code"] == "tb-tmp"
    ok = packages_storage_config.run(PackagesContext(FakeAppliance(), tb_site()))
    assert ok.status.value == "pass" and "TestBlob storage settings" in ok.summary
    monkeypatch.setenv("GHES_SETUP_TB_TOKEN", "bad-token")
    failed = packages_storage_config.run(PackagesContext(FakeAppliance(), tb_site()))
    assert failed.status.value == "fail" and "bad-token" not in repr(failed)
    with pytest.raises(SiteFileError, match="the token is bad"):
        backends.refuse_bad_storage(tb_site(), "bad-token")


@pytest.mark.usefixtures("testblob")
def test_a_fourth_backend_is_read_back_from_the_appliance() -> None:
    stored = {
        "packages.enabled": True,
        "packages.storage_type": "testblob",
        "packages.bucket": "pkgs",
        "packages.s3_secret_key": Secret("tok-123", "test"),
        "packages.ecosystems.container": "enabled",
    }
    ctx = PackagesContext(FakeAppliance(settings=stored), tb_site())
    result = packages_enabled.run(ctx)
    assert result.status.value == "pass", result.summary
    assert result.details["bucket"] == "pkgs" and result.details["credentials_set"] is True
    assert "(pkgs)" in result.summary
    found = backends.stored("testblob")
    assert found is not None and found.name == "testblob"


def test_packages_enabled_shows_no_storage_keys_for_an_empty_stored_type() -> None:
    """An empty `packages.storage_type` names no backend: no backend's keys are shown."""
    stored = {"packages.enabled": True, "packages.storage_type": ""}
    site = Site(hostname=HOST, packages=PackagesSettings(enabled=True))
    result = packages_enabled.run(PackagesContext(FakeAppliance(settings=stored), site))
    assert result.status.value == "fail", result.summary
    assert "without blob storage" in result.summary
    assert not {"service_url", "bucket", "credentials_set"} & set(result.details)


# ---------------------------------------------------------------------------- the lab and the fake


@pytest.mark.parametrize(
    ("storage", "keys"),
    [
        ("minio", ["storage", "service_url", "bucket"]),
        ("s3", ["storage", "service_url", "bucket"]),
        ("azure", ["storage", "azure_container"]),
    ],
)
def test_the_labs_site_file_has_the_keys_its_backends_row_needs(
    tmp_path: Path, storage: str, keys: list[str]
) -> None:
    from ghes_setup.lab.service import UpOptions, _site_storage, new_config

    config = new_config(UpOptions(dir=tmp_path, storage=storage))
    lines = _site_storage(config).splitlines()
    assert [line.split(" = ")[0] for line in lines] == keys
    assert lines[0] == f'storage = "{storage}"'
    assert "connection" not in "".join(lines)  # the Azure secret comes from `lab env`


@pytest.mark.parametrize(
    ("stored", "lab"),
    [("azure", "azure"), ("s3", None), ("AZURE", None), ("gcs", None), (None, None), (3, None)],
)
def test_a_captured_storage_type_picks_the_labs_server(stored: object, lab: str | None) -> None:
    from ghes_setup.lab.from_capture import captured_storage

    entries = {} if stored is None else {lab_settings.STORAGE_TYPE: stored}
    assert captured_storage({"ghe_config": {"entries": entries}}) == lab


def test_the_fake_precheck_tests_each_provider_with_its_protocol() -> None:
    from ghes_setup.appliance.fake import FakeStorage

    url = "https://minio.corp:9000"
    s3 = FakeAppliance(storage=FakeStorage("s3", url, "pkgs", "AK", "SK"))
    cs = f"BucketName=pkgs;AccessKeyId=AK;SecretAccessKey=SK;ServiceUrl={url}"
    for provider in ("S3", "MinIO", "Unknown"):
        code, out = s3.run_utility(["ghe-packages-precheck", "-p", provider, "-cs", cs])
        assert code == 0 and out.startswith(f"Testing connection to {url}"), provider
    code, out = s3.run_utility(["ghe-packages-precheck", "-p", "Azure", "-cs", cs, "-cn", "c"])
    assert (code, out) == (1, "Error: Could not connect to the azure storage\n")
    azure = FakeAppliance(storage=FakeStorage("azure", azure_connection_string="AC=1"))
    argv = ["ghe-packages-precheck", "-p", "Azure", "-cs", "AC=1", "-cn", ""]
    code, out = azure.run_utility(argv)
    assert code == 0 and out.startswith("Testing connection to Azure Blob Storage...")
