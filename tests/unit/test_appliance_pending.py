"""Stored is not applied: pending settings are part of the plan and the next apply applies
them (issue 13 item 1), against the in-memory fake appliance."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from ghes_setup.appliance.apply import ApplyOptions, Clock, apply_site, plan_site
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.transport import ApplyRun, SettingValue
from ghes_setup.config.site import Site
from ghes_setup.errors import ApplyFailed, Unreachable

HOST = "ghe.example.com"


def fast() -> Clock:
    return Clock(sleep=lambda _s: None)


def options(tmp_path: Path, **kw: object) -> ApplyOptions:
    return ApplyOptions(snapshot_dir=tmp_path / "snapshots", poll_s=0.5, **kw)  # type: ignore[arg-type]


def site() -> Site:
    return Site(hostname=HOST, subdomain_isolation=True)


class StartFails(FakeAppliance):
    """The Manage API answering 503 at "start config apply" (once)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.start_failures = 1

    def start_apply(self, run_id: str) -> ApplyRun:
        if self.start_failures:
            self.start_failures -= 1
            raise Unreachable("POST /manage/v1/config/apply: 503 Service Unavailable")
        return super().start_apply(run_id)


class InterruptAfterPush(FakeAppliance):
    """Ctrl-C right after "push: written"."""

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        super().write_settings(changes)
        raise KeyboardInterrupt


def test_a_failed_run_leaves_pending_settings_that_the_next_apply_applies(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake.fail_next_apply("Reloading application services")
    with pytest.raises(ApplyFailed, match="stored but not applied"):
        apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    _, plan = plan_site(fake, site(), state_dir=tmp_path / "snapshots")
    assert not plan.changes and not plan.empty and plan.pending is not None
    assert "failed" in plan.pending.summary and fake.run_order[-1] in plan.pending.summary
    assert "Reloading application services" in (plan.pending.step or "")

    dry = apply_site(
        fake, site(), tls_gate=None, options=options(tmp_path, dry_run=True), clock=fast()
    )
    assert dry.dry_run and dry.plan.pending is not None
    runs = len(fake.run_order)
    again = apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    assert len(fake.run_order) == runs + 1, "the pending settings were not applied"
    assert again.status is not None and again.status.successful
    assert fake.writes == 1, "a pending-only apply wrote again"
    _, after = plan_site(fake, site(), state_dir=tmp_path / "snapshots")
    assert after.empty


def test_a_run_that_never_started_is_pending_and_applied_next_time(tmp_path: Path) -> None:
    fake = StartFails(settings={"subdomain_isolation": False})
    with pytest.raises(ApplyFailed, match="written but not applied") as info:
        apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    assert info.value.step == "start config apply"
    _, plan = plan_site(fake, site(), state_dir=tmp_path / "snapshots")
    assert plan.pending is not None and "never started" in plan.pending.summary
    assert plan.pending.names == ("subdomain_isolation",)
    outcome = apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    assert outcome.run is not None and outcome.status is not None and outcome.status.successful
    assert plan_site(fake, site(), state_dir=tmp_path / "snapshots")[1].empty


def test_an_interrupt_right_after_the_push_leaves_a_pending_plan(tmp_path: Path) -> None:
    fake = InterruptAfterPush(settings={"subdomain_isolation": False})
    with pytest.raises(KeyboardInterrupt):
        apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    assert fake.value("subdomain_isolation") is True and not fake.run_order
    _, plan = plan_site(fake, site(), state_dir=tmp_path / "snapshots")
    assert plan.pending is not None and plan.pending.names == ("subdomain_isolation",)


def test_a_successful_run_by_someone_else_after_the_write_clears_it(tmp_path: Path) -> None:
    fake = StartFails(settings={"subdomain_isolation": False})
    with pytest.raises(ApplyFailed):
        apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    fake.start_apply("console-run-1")  # the Management Console's "Save settings"
    while fake.apply_status("console-run-1").running:
        pass
    assert plan_site(fake, site(), state_dir=tmp_path / "snapshots")[1].empty


def test_without_a_record_or_a_failed_run_nothing_is_pending(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": True})
    assert plan_site(fake, site(), state_dir=tmp_path / "snapshots")[1].empty


def test_the_check_fails_naming_run_and_step_then_passes_after_the_next_apply(
    tmp_path: Path,
) -> None:
    from ghes_setup.appliance.status import check_appliance

    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake.fail_next_apply("Reloading application services")
    with pytest.raises(ApplyFailed):
        apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    key = HOST
    report = check_appliance(fake, appliance=key, state_dir=tmp_path / "snapshots")
    result = report.by_id("appliance-pending")
    assert result.status.value == "fail", result
    assert (
        fake.run_order[-1] in result.summary and "Reloading application services" in result.summary
    )
    apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    again = check_appliance(fake, appliance=key, state_dir=tmp_path / "snapshots")
    assert again.by_id("appliance-pending").status.value == "pass"


def test_the_check_warns_over_ssh_without_any_record(tmp_path: Path) -> None:
    from ghes_setup.appliance.status import check_appliance

    class SshOnly(FakeAppliance):
        @property
        def name(self) -> str:
            return "ssh"

    fake = SshOnly(settings={"subdomain_isolation": True})
    result = check_appliance(fake, appliance=HOST, state_dir=tmp_path).by_id("appliance-pending")
    assert result.status.value == "warn", result
    assert "over SSH" in result.summary


def test_the_two_checks_that_read_the_latest_run_report_one_answer(tmp_path: Path) -> None:
    """`appliance-config-apply` and `appliance-pending` ask for the latest run once a run: a
    run starting in between cannot make one say "succeeded" and the other "in progress"."""
    from ghes_setup.appliance.status import check_appliance
    from ghes_setup.appliance.transport import ApplyStatus

    class Counting(FakeAppliance):
        asked = 0

        def apply_status(self, run_id: str | None = None) -> ApplyStatus:
            self.asked += 1
            return super().apply_status(run_id)

    fake = Counting(settings={"subdomain_isolation": True})
    apply_site(fake, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    fake.asked = 0
    report = check_appliance(fake, appliance=HOST, state_dir=tmp_path / "snapshots")
    assert report.by_id("appliance-config-apply").status.value == "pass"
    assert report.by_id("appliance-pending").status.value == "pass"
    assert fake.asked == 1


def test_a_run_older_than_the_failed_write_does_not_clear_it(tmp_path: Path) -> None:
    """Cron `check` with an SSH key only sees the runs ghes-setup started over SSH. The last
    one succeeded before a later `config apply` through the Manage API failed: that old run
    must not read as "a run after the write succeeded"."""
    from ghes_setup.appliance.status import check_appliance

    ssh_view = FakeAppliance(settings={"subdomain_isolation": False})
    api_view = FakeAppliance()
    api_view.store = ssh_view.store  # one appliance: the same stored settings
    apply_site(ssh_view, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    # Turned off and applied from the Management Console: a run only the API lists.
    ssh_view.store["core.subdomain-isolation"] = "false"
    api_view.start_apply("console-run")
    while api_view.apply_status("console-run").running:
        pass
    api_view.fail_next_apply("Reloading application services")
    with pytest.raises(ApplyFailed):
        apply_site(api_view, site(), tls_gate=None, options=options(tmp_path), clock=fast())
    assert ssh_view.value("subdomain_isolation") is True  # stored; the run that applies it failed
    report = check_appliance(ssh_view, appliance=HOST, state_dir=tmp_path / "snapshots")
    pending = report.by_id("appliance-pending")
    assert pending.status.value == "fail", pending
    assert api_view.run_order[-1] in pending.summary


def test_a_run_id_of_ghes_setup_tells_when_the_run_started() -> None:
    from datetime import UTC, datetime

    from ghes_setup.appliance.apply import new_run_id
    from ghes_setup.appliance.checkpoint import run_started

    at = datetime(2026, 11, 27, 10, 45, 0, 123456, tzinfo=UTC)
    assert run_started(new_run_id(at)) == at.replace(microsecond=123000)
    assert run_started("console-run") is None and run_started(None) is None
