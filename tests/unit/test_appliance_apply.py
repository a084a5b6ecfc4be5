"""Plan, apply, verify and roll back against the in-memory fake appliance."""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest
import trustme

from ghes_setup import exit_codes
from ghes_setup.appliance import checkpoint as checkpoints
from ghes_setup.appliance.apply import (
    ApplyOptions,
    Clock,
    apply_site,
    new_run_id,
    plan_site,
    rollback,
    show,
)
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.plan import describe, plan_document
from ghes_setup.appliance.transport import RUN_ID_PATTERN, SettingValue
from ghes_setup.checks import CheckResult, Report, Status
from ghes_setup.config.site import Site, TlsSettings
from ghes_setup.errors import ApplyFailed, InputError, Interrupted, RefusedTarget, Unreachable
from ghes_setup.progress import RecordingProgress
from ghes_setup.secrets import REDACTED

HOST = "ghe.example.com"


def fast_clock() -> Clock:
    t = [0.0]

    def sleep(s: float) -> None:
        t[0] += s

    return Clock(now=lambda: t[0], sleep=sleep)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, str]:
    intermediate = trustme.CA().create_child_ca()
    leaf = intermediate.issue_cert(HOST, f"*.{HOST}")
    cert = tmp_path / "chain.pem"
    key = tmp_path / "key.pem"
    cert.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    return cert, key, leaf.private_key_pem.bytes().decode()


def site_with(tls: tuple[Path, Path, str] | None = None, isolation: bool = True) -> Site:
    tls_settings = TlsSettings(cert=tls[0], key=tls[1]) if tls else TlsSettings()
    return Site(hostname=HOST, subdomain_isolation=isolation, tls=tls_settings)


def passing_gate(site: Site) -> Report:
    return Report("tls check", (CheckResult("tls-key-match", "tls", Status.PASS, "ok"),))


def failing_gate(site: Site) -> Report:
    return Report(
        "tls check",
        (CheckResult("tls-key-match", "tls", Status.FAIL, "the key does not match"),),
    )


def options(tmp_path: Path, **kw: object) -> ApplyOptions:
    return ApplyOptions(snapshot_dir=tmp_path / "snapshots", poll_s=0.5, **kw)  # type: ignore[arg-type]


def test_plan_lists_only_what_differs_and_never_shows_the_key(
    tls_files: tuple[Path, Path, str],
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False, "tls.enabled": True})
    _, plan = plan_site(fake, site_with(tls_files))
    assert plan.changed_names == ("subdomain_isolation", "tls.cert", "tls.key")
    document = json.dumps(plan_document(plan))
    assert tls_files[2].strip().splitlines()[1] not in document
    key_change = next(c for c in plan.changes if c.setting == "tls.key")
    assert key_change.sensitive and key_change.old_text == "(not set)"
    cert_change = next(c for c in plan.changes if c.setting == "tls.cert")
    assert "expires" in cert_change.new_text
    assert "sha256" in cert_change.new_text and "2 certs" in cert_change.new_text
    assert fake.writes == 0


def test_apply_pushes_applies_verifies_and_keeps_a_private_snapshot(
    tmp_path: Path, tls_files: tuple[Path, Path, str]
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False, "tls.enabled": True})
    progress = RecordingProgress()
    outcome = apply_site(
        fake,
        site_with(tls_files),
        tls_gate=passing_gate,
        options=options(tmp_path),
        progress=progress,
        clock=fast_clock(),
    )
    assert fake.value("subdomain_isolation") is True
    assert fake.value("tls.cert") == tls_files[0].read_text()
    assert outcome.status is not None and outcome.status.successful
    assert set(outcome.verified) == {"subdomain_isolation", "tls.cert", "tls.key"}
    assert len(fake.run_order) == 1 and fake.writes == 1
    assert outcome.snapshot is not None
    assert stat.S_IMODE(outcome.snapshot.stat().st_mode) == 0o600
    assert stat.S_IMODE(outcome.snapshot.parent.stat().st_mode) == 0o700
    saved = json.loads(outcome.snapshot.read_text())
    assert saved["settings"]["subdomain_isolation"] is False
    assert saved["settings"]["tls.key"] is None
    stages = [text for kind, text in progress.events if kind == "stage"]
    assert [s.split(":")[0] for s in stages] == [
        "preflight",
        "plan",
        "tls check",
        "snapshot",
        "push",
        "config apply",
        "verify",
    ]
    assert ("log", "Configuration run complete") in progress.events


def test_applying_the_same_state_twice_changes_nothing_and_starts_no_apply(
    tmp_path: Path, tls_files: tuple[Path, Path, str]
) -> None:
    fake = FakeAppliance(settings={"tls.enabled": True})
    site = site_with(tls_files)
    apply_site(fake, site, tls_gate=passing_gate, options=options(tmp_path), clock=fast_clock())
    second = apply_site(
        fake, site, tls_gate=failing_gate, options=options(tmp_path), clock=fast_clock()
    )
    assert second.plan.empty and not second.changed and second.run is None
    assert len(fake.run_order) == 1 and fake.writes == 1
    assert len(list((tmp_path / "snapshots").iterdir())) == 1


def test_a_certificate_failing_tls_check_is_refused_before_anything_is_written(
    tmp_path: Path, tls_files: tuple[Path, Path, str]
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    with pytest.raises(InputError, match="tls-key-match: the key does not match"):
        apply_site(fake, site_with(tls_files), tls_gate=failing_gate, options=options(tmp_path))
    assert fake.writes == 0 and not fake.run_order
    assert not (tmp_path / "snapshots").exists()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    outcome = apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path, dry_run=True))
    assert outcome.dry_run and outcome.plan.changed_names == ("subdomain_isolation",)
    assert fake.writes == 0 and not fake.run_order


def test_declining_the_prompt_changes_nothing(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    asked: list[int] = []

    def no(plan: object) -> bool:
        asked.append(1)
        return False

    with pytest.raises(Interrupted, match="nothing was changed"):
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), confirm=no)
    assert asked == [1] and fake.writes == 0


def test_failed_apply_exits_6_naming_the_step_and_the_snapshot_and_rollback_restores(
    tmp_path: Path,
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake.fail_next_apply("Reloading application services")
    with pytest.raises(ApplyFailed) as info:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    err = info.value
    assert err.step == "config apply"
    assert "Reloading application services failed" in err.message
    assert err.snapshot and Path(err.snapshot).exists()
    assert f"config rollback {err.snapshot}" in (err.hint or "")
    assert fake.value("subdomain_isolation") is True  # pushed, not applied

    outcome = rollback(fake, site_with(), options=options(tmp_path), clock=fast_clock())
    assert fake.value("subdomain_isolation") is False
    assert outcome.status is not None and outcome.status.successful
    pre = [p.name for p in (tmp_path / "snapshots").iterdir() if "pre-rollback" in p.name]
    assert len(pre) == 1
    # the default snapshot is still the one taken before the apply, not the pre-rollback one
    assert checkpoints.latest(HOST, tmp_path / "snapshots") == Path(err.snapshot)


def test_a_refused_push_changes_nothing_and_says_so(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake._validator = lambda name, text: (
        "refused for the test" if name == "subdomain_isolation" else None
    )
    with pytest.raises(ApplyFailed) as info:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert info.value.step == "push" and info.value.rolled_back
    assert fake.value("subdomain_isolation") is False
    # the record says the push failed: nothing is pending afterwards
    _, plan = plan_site(fake, site_with(), state_dir=tmp_path / "snapshots")
    assert plan.pending is None


class LostAnswer(FakeAppliance):
    """An appliance that stores the write, but whose answer never comes back (a PUT read
    timeout, a 504, an SSH drop after the commit); with `mute`, it answers nothing after."""

    mute = False

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        super().write_settings(changes)
        self.unreachable = self.mute
        raise Unreachable("PUT https://ghe.example.com:8443/manage/v1/config/settings: timeout")


def test_a_write_whose_answer_is_lost_is_stored_not_applied_and_the_next_run_applies_it(
    tmp_path: Path,
) -> None:
    fake = LostAnswer(settings={"subdomain_isolation": False})
    with pytest.raises(ApplyFailed) as info:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert "subdomain_isolation stored but not applied" in info.value.message
    assert "nothing was changed" not in info.value.message and not info.value.rolled_back
    assert "ghes-setup config apply" in (info.value.hint or "")
    assert exit_codes.for_error(info.value) == 6
    # The record stays unsettled: the next plan finds the write pending and applies it.
    _, plan = plan_site(fake, site_with(), state_dir=tmp_path / "snapshots")
    assert plan.pending is not None and plan.pending.names == ("subdomain_isolation",)
    outcome = apply_site(
        fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock()
    )
    assert outcome.run is not None and fake.run_order == [outcome.run.run_id]


def test_a_write_that_fails_with_the_appliance_gone_says_it_cannot_tell(tmp_path: Path) -> None:
    fake = LostAnswer(settings={"subdomain_isolation": False})
    fake.mute = True
    with pytest.raises(ApplyFailed) as info:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert "cannot be told" in info.value.message and not info.value.rolled_back
    assert "config rollback" in (info.value.hint or "")
    (record,) = (tmp_path / "snapshots").glob("*.json")
    assert json.loads(record.read_text())["state"] not in checkpoints.SETTLED


def test_nothing_is_written_while_another_configuration_run_is_in_progress(
    tmp_path: Path,
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False}, apply_polls=10_000)
    fake.start_apply("console-run-1")  # someone else's, from the Management Console
    with pytest.raises(ApplyFailed, match=r"console-run-1.*in progress.*nothing was written") as i:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert exit_codes.for_error(i.value) == 6
    assert fake.writes == 0 and fake.value("subdomain_isolation") is False
    assert not (tmp_path / "snapshots").exists()
    # A dry run still shows the plan.
    dry_run = options(tmp_path, dry_run=True)
    dry = apply_site(fake, site_with(), tls_gate=None, options=dry_run, clock=fast_clock())
    assert dry.plan.changed_names == ("subdomain_isolation",)


def test_a_failed_run_of_someone_elses_settings_offers_no_rollback_of_an_old_good_change(
    tmp_path: Path,
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    opts = options(tmp_path)
    ours = apply_site(fake, site_with(), tls_gate=None, options=opts, clock=fast_clock())
    fake.fail_next_apply()
    fake.start_apply("console-run-7")  # the Management Console's run, which fails
    while fake.apply_status("console-run-7").running:
        pass
    _, plan = plan_site(fake, site_with(), state_dir=tmp_path / "snapshots")
    assert plan.pending is not None and plan.pending.snapshot is None  # not ours to undo
    fake.fail_next_apply()
    with pytest.raises(ApplyFailed) as info:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert str(ours.snapshot) not in (info.value.hint or "") and info.value.snapshot is None
    assert "nothing of it to roll back" in (info.value.hint or "")


@pytest.mark.parametrize("stored", ["GHE.Example.com", "ghe.example.com."])
def test_a_hostname_stored_in_another_case_or_with_a_final_dot_is_no_hostname_change(
    tmp_path: Path, stored: str
) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake.store["core.github-hostname"] = stored
    _, plan = plan_site(fake, site_with(), state_dir=tmp_path / "snapshots")
    assert plan.changed_names == ("subdomain_isolation",)


def test_a_hostname_change_is_refused_before_any_write_naming_both_names(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake.store["core.github-hostname"] = "other.example.com"
    with pytest.raises(InputError, match=r"other\.example\.com.*ghe\.example\.com") as info:
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert exit_codes.for_error(info.value) == 3
    assert fake.writes == 0 and fake.value("subdomain_isolation") is False
    assert not (tmp_path / "snapshots").exists()


def test_an_unconfigured_appliance_takes_the_site_hostname(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    fake.store.pop("core.github-hostname", None)
    apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path), clock=fast_clock())
    assert fake.value("hostname") == HOST


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_timeout_is_refused_before_connecting(tmp_path: Path, timeout: float) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    with pytest.raises(InputError, match="--timeout"):
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path, timeout_s=timeout))
    assert fake.writes == 0


def test_replica_is_refused(tmp_path: Path) -> None:
    fake = FakeAppliance(is_replica=True, settings={"subdomain_isolation": False})
    with pytest.raises(RefusedTarget, match="replica"):
        apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path))
    assert fake.writes == 0


def test_a_run_that_never_ends_times_out_with_exit_6(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False}, apply_polls=10**6)
    with pytest.raises(ApplyFailed, match="still running after 5 s") as info:
        apply_site(
            fake,
            site_with(),
            tls_gate=None,
            options=options(tmp_path, timeout_s=5.0),
            clock=fast_clock(),
        )
    assert info.value.step == "config apply"


def test_no_wait_starts_the_run_and_returns(tmp_path: Path) -> None:
    fake = FakeAppliance(settings={"subdomain_isolation": False}, apply_polls=10**6)
    outcome = apply_site(fake, site_with(), tls_gate=None, options=options(tmp_path, wait=False))
    assert outcome.run is not None and outcome.status is None
    assert fake.apply_status(outcome.run.run_id).running


def test_rollback_refuses_a_snapshot_of_another_host(tmp_path: Path) -> None:
    snap = checkpoints.save(
        FakeAppliance().read_settings(["subdomain_isolation"]),
        host="other.example.com",
        via="fake",
        directory=tmp_path,
    )
    assert snap.path is not None
    with pytest.raises(InputError, match=r"not of ghe\.example\.com"):
        rollback(FakeAppliance(), site_with(), snap.path, options=options(tmp_path))


def test_show_reads_every_supported_setting_and_describes_secrets_redacted() -> None:
    fake = FakeAppliance(settings={"packages.s3_secret_key": _secret("very-secret-value")})
    info, settings = show(fake)
    assert info.version.feature == (3, 17)
    assert "packages.ecosystems.container" in settings
    assert describe("packages.s3_secret_key", settings["packages.s3_secret_key"]) == (
        f"(set, {REDACTED})"
    )


def test_run_ids_are_safe_and_sortable() -> None:
    a = new_run_id()
    assert RUN_ID_PATTERN.match(a) and a.startswith("ghes-setup-")


def _secret(value: str) -> object:
    from ghes_setup.secrets import Secret

    return Secret(value)


@pytest.mark.parametrize("env_points_there", [False, True])
def test_a_run_record_outside_the_default_folder_says_how_check_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_points_there: bool
) -> None:
    """`check` and `config plan` find a write whose run never started only through its run
    record: --snapshot-dir elsewhere than $GHES_SETUP_SNAPSHOT_DIR gets a note saying so."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    if env_points_there:
        monkeypatch.setenv("GHES_SETUP_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    else:
        monkeypatch.delenv("GHES_SETUP_SNAPSHOT_DIR", raising=False)
    fake = FakeAppliance(settings={"subdomain_isolation": False})
    progress = RecordingProgress()
    apply_site(
        fake,
        site_with(),
        tls_gate=passing_gate,
        options=options(tmp_path),
        progress=progress,
        clock=fast_clock(),
    )
    notes = [
        text
        for kind, text in progress.events
        if kind == "log" and "GHES_SETUP_SNAPSHOT_DIR" in text
    ]
    if env_points_there:
        assert notes == []
    else:
        assert len(notes) == 1 and str(tmp_path / "snapshots") in notes[0], progress.events
        assert str(tmp_path / "state" / "ghes-setup" / "snapshots") in notes[0]
