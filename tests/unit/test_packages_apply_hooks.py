"""The apply_site extension Packages builds on: a scope, extra desired values, two hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup.appliance.apply import ApplyOptions, ApplyOutcome, Clock, apply_site, plan_site
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.plan import CORE_SCOPE, Plan
from ghes_setup.appliance.service import ApplyHooks, Connect, config_apply
from ghes_setup.config.site import Site
from ghes_setup.errors import InputError

HOST = "ghe.example.com"
SCOPE = ("subdomain_isolation", "packages.enabled", "packages.bucket")


class Stop(InputError):
    """The hook's refusal."""


def fast_clock() -> Clock:
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    return Clock(now=lambda: t[0], sleep=sleep)


def options(tmp_path: Path, **kw: object) -> ApplyOptions:
    return ApplyOptions(snapshot_dir=tmp_path / "snap", poll_s=0.5, **kw)  # type: ignore[arg-type]


class Hooks:
    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.plans: list[Plan] = []
        self.outcomes: list[ApplyOutcome] = []
        self.writes_seen_by_before: list[int] = []

    def bind(self, fake: FakeAppliance) -> tuple[object, object]:
        def before(plan: Plan) -> None:
            self.plans.append(plan)
            self.writes_seen_by_before.append(fake.writes)
            if self.refuse:
                raise Stop("storage precheck failed")

        def after(outcome: ApplyOutcome) -> None:
            self.outcomes.append(outcome)

        return before, after


def run(fake: FakeAppliance, hooks: Hooks, tmp_path: Path, **kw: object) -> ApplyOutcome:
    before, after = hooks.bind(fake)
    return apply_site(
        fake,
        Site(hostname=HOST),
        tls_gate=None,
        options=options(tmp_path, **kw),
        clock=fast_clock(),
        scope=SCOPE,
        desired={"packages.enabled": True, "packages.bucket": "pkgs"},
        before_push=before,  # type: ignore[arg-type]
        after_apply=after,  # type: ignore[arg-type]
    )


def test_one_run_covers_core_and_extra_settings_with_hooks_around_the_push(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    hooks = Hooks()
    outcome = run(fake, hooks, tmp_path)
    assert set(outcome.plan.changed_names) == set(SCOPE)
    assert fake.value("packages.bucket") == "pkgs" and fake.value("subdomain_isolation") is True
    assert len(fake.run_order) == 1 and fake.writes == 1  # one push, one config apply
    assert hooks.writes_seen_by_before == [0]  # before_push ran before anything was written
    assert hooks.outcomes == [outcome] and outcome.status is not None


def test_same_state_twice_plans_nothing_and_calls_no_hook(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    run(fake, Hooks(), tmp_path)
    hooks = Hooks()
    second = run(fake, hooks, tmp_path)
    assert second.plan.empty and not second.changed
    assert hooks.plans == [] and hooks.outcomes == []
    assert len(fake.run_order) == 1


def test_a_refusing_before_push_stops_with_nothing_written_and_no_snapshot(
    tmp_path: Path,
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    with pytest.raises(Stop):
        run(fake, Hooks(refuse=True), tmp_path)
    assert fake.writes == 0 and fake.run_order == []
    assert not (tmp_path / "snap").exists()


def test_dry_run_runs_before_push_but_writes_nothing_and_skips_after_apply(
    tmp_path: Path,
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    hooks = Hooks()
    outcome = run(fake, hooks, tmp_path, dry_run=True)
    assert outcome.dry_run and len(hooks.plans) == 1 and hooks.outcomes == []
    assert fake.writes == 0


def test_no_wait_skips_after_apply(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    hooks = Hooks()
    outcome = run(fake, hooks, tmp_path, wait=False)
    assert outcome.run is not None and hooks.outcomes == []


def test_desired_values_outside_the_scope_are_a_wiring_error() -> None:
    fake = FakeAppliance()
    with pytest.raises(ValueError, match="outside the scope"):
        plan_site(fake, Site(hostname=HOST), scope=CORE_SCOPE, desired={"packages.enabled": True})


def test_config_apply_service_builds_hooks_on_the_open_transport(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ghes_setup.appliance.service as service

    fake = FakeAppliance(settings={"subdomain_isolation": False})
    seen: list[object] = []

    def factory(transport: object) -> ApplyHooks:
        seen.append(transport)
        return ApplyHooks(before_push=lambda plan: seen.append(plan.changed_names))

    # The edge: the service's transport opener hands out the fake instead of connecting.
    monkeypatch.setattr(service, "open_appliance", lambda connect, progress: fake)
    outcome = config_apply(
        Connect(site=Site(hostname=HOST)),
        tls_gate=None,
        options=options(tmp_path),
        scope=("subdomain_isolation",),
        hooks=factory,
    )
    assert seen[0] is fake and seen[1] == ("subdomain_isolation",)
    assert outcome.changed and fake.value("subdomain_isolation") is True
    assert fake.closed  # the service closed what it opened
