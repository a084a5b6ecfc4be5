"""`packages enable` against the in-memory fake appliance: precheck, write, apply, blob check."""

from __future__ import annotations

from pathlib import Path

import pytest

import ghes_setup.packages.service as service
from ghes_setup import exit_codes
from ghes_setup.appliance.apply import ApplyOptions, Clock, apply_site
from ghes_setup.appliance.fake import FakeAppliance, FakeStorage
from ghes_setup.appliance.plan import CORE_SCOPE
from ghes_setup.appliance.selector import RoutedTransport
from ghes_setup.appliance.service import Connect
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.config.site import PackagesSettings, Site
from ghes_setup.errors import ApplyFailed, InputError
from ghes_setup.packages.desired import PACKAGES_SCOPE, desired_packages, read_storage_secrets
from ghes_setup.packages.errors import PackagesNeedSsh, PrecheckFailed, StorageCheckFailed
from ghes_setup.packages.service import enable_packages, packages_hooks, packages_status
from ghes_setup.progress import RecordingProgress
from ghes_setup.secrets import Secret

HOST = "ghe.example.com"
URL = "http://minio.example.com:9000"
ACCESS, SECRET = "AKIAEXAMPLE1", "s3-secret-value-42"
ENV = {"GHES_SETUP_S3_ACCESS_KEY": ACCESS, "GHES_SETUP_S3_SECRET_KEY": SECRET}
GOOD = FakeStorage("s3", URL, "pkgs", ACCESS, SECRET)


def the_site(**packages: object) -> Site:
    base: dict[str, object] = {
        "enabled": True,
        "storage": "minio",
        "service_url": URL,
        "bucket": "pkgs",
        "ecosystems": {"container": "enabled", "npm": "enabled"},
    }
    base.update(packages)
    return Site(hostname=HOST, packages=PackagesSettings(**base))  # type: ignore[arg-type]


def fast_clock() -> Clock:
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    return Clock(now=lambda: t[0], sleep=sleep)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[ApplianceTransport]:
    """The service's transport opener hands out whatever the test puts in the list."""
    box: list[ApplianceTransport] = []

    def reopen(connect: Connect, progress: object = None) -> ApplianceTransport:
        if isinstance(box[0], FakeAppliance):
            box[0].closed = False  # each command opens (and closes) its own connection
        return box[0]

    monkeypatch.setattr(service, "open_appliance", reopen)
    return box


def enable(
    fake: ApplianceTransport,
    opened: list[ApplianceTransport],
    tmp_path: Path,
    site: Site | None = None,
    env: dict[str, str] | None = None,
    progress: RecordingProgress | None = None,
    **kw: object,
) -> service.EnableOutcome:
    opened[:] = [fake]
    return enable_packages(
        Connect(site=site or the_site()),
        options=ApplyOptions(snapshot_dir=tmp_path / "snap", poll_s=0.5, **kw),  # type: ignore[arg-type]
        environ=ENV if env is None else env,
        progress=progress,
        clock=fast_clock(),
    )


def test_enable_prechecks_then_writes_applies_and_checks_the_blob_storage(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    progress = RecordingProgress()
    outcome = enable(fake, opened, tmp_path, progress=progress)
    assert fake.value("packages.enabled") is True
    assert fake.value("packages.storage_type") == "s3"
    assert fake.value("packages.ecosystems.container") == "enabled"
    secret = fake.value("packages.s3_secret_key")
    assert isinstance(secret, Secret) and secret.reveal() == SECRET
    assert [c[0] for c in fake.utility_calls] == [
        "ghe-packages-precheck",
        "ghe-check-blob-connection",
    ]
    assert fake.utility_calls[0][1:3] == ("-p", "MinIO")
    assert len(fake.run_order) == 1 and fake.writes == 1
    assert outcome.precheck is not None and outcome.precheck.passed
    assert outcome.blob_check is not None and outcome.blob_check.passed
    stages = [text.split(":")[0] for kind, text in progress.events if kind == "stage"]
    assert stages.index("storage precheck") < stages.index("snapshot") < stages.index("push")
    assert stages[-1] == "blob storage check"
    assert not any(SECRET in text or ACCESS in text for _, text in progress.events)


def test_second_enable_changes_nothing_runs_no_precheck_and_no_apply_but_tests_the_storage(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    enable(fake, opened, tmp_path)
    calls, runs, writes = len(fake.utility_calls), len(fake.run_order), fake.writes
    second = enable(fake, opened, tmp_path)
    assert second.apply.plan.empty and second.precheck is None
    assert second.blob_check is not None and second.blob_check.passed
    assert [c[0] for c in fake.utility_calls[calls:]] == ["ghe-check-blob-connection"]
    assert len(fake.run_order) == runs and fake.writes == writes


def test_enable_again_after_the_storage_broke_fails_though_nothing_is_to_change(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    enable(fake, opened, tmp_path)
    fake.storage = FakeStorage("s3", URL, "pkgs", ACCESS, "rotated-secret")  # keys revoked
    with pytest.raises(StorageCheckFailed, match="enabled as the site file says, but") as info:
        enable(fake, opened, tmp_path)
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.CHECK_FAILED


def test_no_wait_or_a_run_in_progress_runs_no_blob_check_before_the_run_ends(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD, apply_polls=10_000)
    started = enable(fake, opened, tmp_path, wait=False)
    assert started.apply.run is not None and started.blob_check is None
    assert [c[0] for c in fake.utility_calls] == ["ghe-packages-precheck"]
    # Nothing left to write while that run goes on: still no blob check.
    again = enable(fake, opened, tmp_path)
    assert again.blob_check is None
    assert [c[0] for c in fake.utility_calls] == ["ghe-packages-precheck"]


def test_wrong_secret_fails_at_the_precheck_with_nothing_written(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    before = dict(fake.store)
    with pytest.raises(PrecheckFailed) as info:
        enable(fake, opened, tmp_path, env={**ENV, "GHES_SETUP_S3_SECRET_KEY": "wrong-secret"})
    assert "Access Denied" in info.value.message and "nothing was written" in info.value.message
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.INPUT
    assert fake.store == before and fake.writes == 0 and fake.run_order == []
    assert not (tmp_path / "snap").exists()
    assert "wrong-secret" not in info.value.message


def test_dry_run_prechecks_but_writes_nothing(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    outcome = enable(fake, opened, tmp_path, dry_run=True)
    assert outcome.apply.dry_run and outcome.precheck is not None and outcome.precheck.passed
    assert fake.writes == 0 and fake.run_order == []


class BrokenAfterApply(FakeAppliance):
    """Storage that passes the precheck, then breaks (credentials revoked meanwhile)."""

    def _blob_check(self) -> tuple[int, str]:
        return 1, "Testing connection...\nError: Access Denied (Service: S3, Status Code: 403)\n"


def test_failing_blob_check_after_the_apply_is_exit_1_and_keeps_the_settings(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = BrokenAfterApply(storage=GOOD)
    with pytest.raises(StorageCheckFailed) as info:
        enable(fake, opened, tmp_path)
    assert "Access Denied" in info.value.message
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.CHECK_FAILED
    assert fake.value("packages.enabled") is True and len(fake.run_order) == 1


def test_api_only_run_says_packages_needs_ssh(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    api = FakeAppliance(storage=GOOD, supported=CORE_SCOPE)
    routed = RoutedTransport(ssh=None, api=api, mode="api")
    with pytest.raises(PackagesNeedSsh) as info:
        enable(routed, opened, tmp_path)
    assert "SSH" in info.value.message and "Manage API has no Packages fields" in (
        info.value.hint or ""
    )
    assert api.writes == 0


def test_site_that_turns_packages_off_is_refused_by_enable(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="enabled = false"):
        enable(FakeAppliance(storage=GOOD), opened, tmp_path, site=the_site(enabled=False))


def test_one_run_over_core_and_packages_scope_prechecks_and_applies_once(tmp_path: Path) -> None:
    """What `up` does: one plan, one push, one config apply for everything."""
    fake = FakeAppliance(storage=GOOD, settings={"subdomain_isolation": False})
    site = the_site()
    secrets = read_storage_secrets(site, ENV)
    hooks = packages_hooks(fake, site, secrets)
    outcome = apply_site(
        fake,
        site,
        tls_gate=None,
        options=ApplyOptions(snapshot_dir=tmp_path / "snap", poll_s=0.5),
        clock=fast_clock(),
        scope=CORE_SCOPE + PACKAGES_SCOPE,
        desired=desired_packages(site, secrets),
        before_push=hooks.before_push,
        after_apply=hooks.after_apply,
    )
    assert "subdomain_isolation" in outcome.plan.changed_names
    assert "packages.enabled" in outcome.plan.changed_names
    assert fake.writes == 1 and len(fake.run_order) == 1
    assert hooks.precheck is not None and hooks.blob_check is not None


def test_only_an_ecosystem_change_applies_without_a_storage_precheck(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    enable(fake, opened, tmp_path)
    calls = len(fake.utility_calls)
    outcome = enable(fake, opened, tmp_path, site=the_site(ecosystems={"npm": "read-only"}))
    assert outcome.apply.plan.changed_names == ("packages.ecosystems.npm",)
    assert outcome.precheck is None  # the storage is not changed: only its own test, after
    assert [c[0] for c in fake.utility_calls[calls:]] == ["ghe-check-blob-connection"]
    assert fake.value("packages.ecosystems.npm") == "read-only"


def test_status_passes_after_enable_and_fails_before(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    opened[:] = [fake]
    before = packages_status(Connect(site=the_site()))
    assert before.by_id("packages-enabled").status.value == "fail"
    assert before.by_id("packages-storage").status.value == "skip"
    enable(fake, opened, tmp_path)
    after = packages_status(Connect(site=the_site()))
    statuses = {r.id: r.status.value for r in after.results}
    assert statuses == {
        "packages-storage-config": "warn",  # the site's MinIO URL is plain http
        "packages-enabled": "pass",
        "packages-storage": "pass",
        "appliance-pending": "pass",
    }, after
    details = after.by_id("packages-enabled").details
    assert details["ecosystems"]["container"] == "enabled"
    assert details["credentials_set"] is True
    assert SECRET not in repr(after)


def test_status_cannot_pass_an_ecosystem_the_appliance_has_no_setting_for(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    opened[:] = [fake]
    enable(fake, opened, tmp_path)
    site = the_site(ecosystems={"container": "enabled", "npmjs": "disabled"})
    enabled = packages_status(Connect(site=site)).by_id("packages-enabled")
    # What `up` and `packages enable` refuse (exit 3) is never silently dropped here.
    assert enabled.status.value == "error", enabled
    assert "unknown ecosystem 'npmjs'" in enabled.summary and "npm" in (enabled.remedy or "")


def test_status_fails_packages_on_while_the_site_file_turns_it_off(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    fake = FakeAppliance(storage=GOOD)
    opened[:] = [fake]
    off = the_site(enabled=False)
    assert packages_status(Connect(site=off)).by_id("packages-enabled").status.value == "skip"
    enable(fake, opened, tmp_path)
    status = packages_status(Connect(site=off))
    enabled = status.by_id("packages-enabled")
    assert enabled.status.value == "fail" and "turns it off" in enabled.summary, status
    assert status.by_id("packages-storage").status.value == "skip"


def test_status_fails_while_the_packages_settings_are_stored_but_not_applied(
    opened: list[ApplianceTransport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    fake = FakeAppliance(storage=GOOD)
    opened[:] = [fake]
    fake.fail_next_apply("Reloading application services")
    with pytest.raises(ApplyFailed):
        enable(fake, opened, tmp_path)
    status = packages_status(Connect(site=the_site()))
    pending = status.by_id("appliance-pending")
    assert pending.status.value == "fail", status
    assert "Reloading application services" in pending.summary
    assert fake.run_order[-1] in pending.summary


def test_hook_factory_for_the_config_apply_service_keeps_what_the_utilities_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ghes_setup.appliance.service as appliance_service
    from ghes_setup.appliance.service import config_apply
    from ghes_setup.packages.service import hook_factory

    fake = FakeAppliance(storage=GOOD, settings={"subdomain_isolation": False})
    monkeypatch.setattr(appliance_service, "open_appliance", lambda connect, progress: fake)
    site = the_site()
    secrets = read_storage_secrets(site, ENV)
    factory = hook_factory(site, secrets)
    outcome = config_apply(
        Connect(site=site),
        tls_gate=None,
        options=ApplyOptions(snapshot_dir=tmp_path / "snap", poll_s=0.5),
        scope=CORE_SCOPE + PACKAGES_SCOPE,
        desired=desired_packages(site, secrets),
        hooks=factory,
    )
    assert outcome.changed and len(fake.run_order) == 1
    assert factory.hooks is not None
    assert factory.hooks.precheck is not None and factory.hooks.precheck.passed
    assert factory.hooks.blob_check is not None and factory.hooks.blob_check.passed


def test_enable_refuses_a_cluster_with_exit_5_before_anything_is_written(
    opened: list[ApplianceTransport], tmp_path: Path
) -> None:
    from ghes_setup.errors import RefusedTarget

    fake = FakeAppliance(storage=GOOD, topology="Cluster")
    before = dict(fake.store)
    with pytest.raises(RefusedTarget, match="does not support clustering") as info:
        enable(fake, opened, tmp_path)
    assert exit_codes.for_error(info.value) == exit_codes.ExitCode.UNSUPPORTED
    assert fake.store == before and fake.writes == 0 and fake.run_order == []
    assert fake.utility_calls == []  # not even the storage precheck
    assert not (tmp_path / "snap").exists()
