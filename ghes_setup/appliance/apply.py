"""The services behind `config show/plan/apply/rollback`: plan, then apply, with a checkpoint.

`apply_site` is certbot's installer lifecycle and Terraform's plan/apply in one function:

    check the options -> preflight -> read current -> desired from the site
    -> read what is pending (stored, not applied: `pending.py`) -> plan
      (nothing to change and nothing pending: stop; nothing is written, no run starts)
    -> refuse a hostname change of a configured appliance (exit 3, before any write)
    -> TLS material gate (a certificate change must pass `tls check` first, else exit 3)
    -> dry run: stop -> confirm -> snapshot (0600, the run record) -> push (all or nothing)
    -> start config apply -> follow its events until it succeeds, fails or times out
    -> read back and verify every changed setting

Pending settings are part of the plan: a plan with no change but settings stored and not
applied (a failed run, a run that never started) starts the configuration run that applies
them, without a new snapshot or push (the record of the write that stored them is the one to
roll back to). Every gate that can refuse runs before the first write.

Every failure after the snapshot is `ApplyFailed` (exit 6) naming the step and the snapshot
to roll back to; a failed push changed nothing (the transports guarantee it) and says so.
`rollback` runs the same pipeline with the snapshot's values, for the settings its run changed,
as the desired state.

The TLS gate is injected (`tls_gate`): the appliance area does not import the TLS area (they
are independent layers); the CLI passes `ghes_setup.tls`'s check.

`apply_site` covers `scope` (default `CORE_SCOPE`); settings the site file alone cannot give
(Packages storage secrets from the environment) come in `desired`. Two hook points let another
area join the same run, so that ONE plan, ONE push and ONE config apply cover everything
(`packages.service` uses them for `packages enable`, `registry start` and `up`):

- `before_push(plan)`: after the plan is known and has changes (and after the TLS gate),
  before the dry-run stop, the confirmation, the snapshot and the push. An exception stops the
  run with nothing written (the storage precheck).
- `after_apply(outcome)`: after a successful configuration run and verify (not with
  `--no-wait`, not when nothing changed). An exception reaches the caller; the settings stay
  applied (the blob storage check).
"""

from __future__ import annotations

import math
import secrets as _random
import shlex
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ghes_setup import facts
from ghes_setup.appliance import checkpoint as checkpoints
from ghes_setup.appliance.checkpoint import RunState
from ghes_setup.appliance.pending import PendingState, read_pending
from ghes_setup.appliance.plan import (
    CORE_SCOPE,
    TLS_MATERIAL,
    Plan,
    desired_settings,
    make_plan,
)
from ghes_setup.appliance.preflight import Need, preflight
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplianceTransport,
    ApplyRun,
    ApplyStatus,
    Settings,
    SettingValue,
    same_value,
    validate,
)
from ghes_setup.checks.model import Report, Status
from ghes_setup.config.site import Site, validate_hostname
from ghes_setup.errors import (
    ApplianceError,
    ApplyFailed,
    GhesSetupError,
    InputError,
    Interrupted,
    MaterialError,
)
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.secrets import scrub

TlsGate = Callable[[Site], Report]
Confirm = Callable[[Plan], bool]
BeforePush = Callable[[Plan], None]
AfterApply = Callable[["ApplyOutcome"], None]

# How long a just-started run may stay unknown to the appliance before we call it lost.
UNKNOWN_RUN_GRACE_S = 30.0


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    dry_run: bool = False
    wait: bool = True  # follow the configuration run to its end
    timeout_s: float = 1800.0  # config apply can take long on big appliances
    poll_s: float = 1.0
    snapshot_dir: Path | None = None  # default: snapshot.default_dir()


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What a `config apply` / `config rollback` did."""

    command: str
    info: ApplianceInfo
    plan: Plan
    dry_run: bool = False
    snapshot: Path | None = None
    run: ApplyRun | None = None
    status: ApplyStatus | None = None
    verified: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return not self.dry_run and not self.plan.empty


@dataclass(frozen=True, slots=True)
class Clock:
    """Time seams for tests: `now()` in seconds and `sleep()`."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def new_run_id(now: datetime | None = None) -> str:
    """`ghes-setup-20261127T104500.123Z-1a2b`: sortable by time (to the millisecond: run
    records are picked by name), unique enough, URL-safe."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = f"{when:%Y%m%dT%H%M%S}.{when.microsecond // 1000:03d}Z"
    return f"ghes-setup-{stamp}-{_random.token_hex(2)}"


def check_options(options: ApplyOptions) -> None:
    """Refuse options that would only fail later (after a write): exit 3 before connecting."""
    for value, flag in ((options.timeout_s, "--timeout"), (options.poll_s, "poll interval")):
        if not math.isfinite(value) or value <= 0:
            raise InputError(
                f"{flag} must be a positive number of seconds, got {value:g}",
                hint="for example --timeout 1800 (config apply can take long on big appliances)",
            )


# ---------------------------------------------------------------------------- read-only


def show(
    transport: ApplianceTransport, *, progress: ProgressSink | None = None
) -> tuple[ApplianceInfo, Settings]:
    """Identify the appliance and read every setting the transport(s) in use can read."""
    every = [s.name for s in facts.SETTINGS]
    info = preflight(transport, writes=False, prefetch=every, progress=progress)
    names = [n for n in every if transport.supports(n)]
    return info, transport.read_settings(names)


def plan_site(
    transport: ApplianceTransport,
    site: Site,
    *,
    progress: ProgressSink | None = None,
    scope: Iterable[str] = CORE_SCOPE,
    desired: Mapping[str, SettingValue] | None = None,
    state_dir: Path | None = None,
) -> tuple[ApplianceInfo, Plan]:
    """Desired (the site file, for `scope`, plus `desired`) vs current, and what is pending:
    the typed plan."""
    wanted = desired_scope(site, scope, desired)
    info = preflight(transport, writes=False, prefetch=wanted, progress=progress)
    current = transport.read_settings(list(wanted))
    state = pending_of(transport, site, state_dir)
    return info, make_plan(site.hostname, wanted, current, state.pending)


def pending_of(transport: ApplianceTransport, site: Site, state_dir: Path | None) -> PendingState:
    """What is stored but not applied on the site's appliance (`pending.read_pending`)."""
    return read_pending(
        transport,
        appliance=checkpoints.appliance_of(site),
        directory=state_dir or checkpoints.default_dir(),
    )


# ---------------------------------------------------------------------------- apply


def apply_site(
    transport: ApplianceTransport,
    site: Site,
    *,
    tls_gate: TlsGate | None,
    options: ApplyOptions = ApplyOptions(),
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
    clock: Clock = Clock(),
    needs: tuple[Need, ...] = (),
    scope: Iterable[str] = CORE_SCOPE,
    desired: Mapping[str, SettingValue] | None = None,
    before_push: BeforePush | None = None,
    after_apply: AfterApply | None = None,
) -> ApplyOutcome:
    """Make the appliance match the site file for the settings in `scope` (default: the core
    settings). `desired` adds values the site file alone cannot give (every name must be in
    `scope`). See the module docstring for the hooks."""
    sink = progress or NullProgress()
    check_options(options)
    wanted = desired_scope(site, scope, desired)  # local files first: fail before connecting
    info = preflight(transport, needs=needs, writes=True, prefetch=wanted, progress=sink)
    sink.stage("plan", "reading current settings")
    plan, latest_run = _write_plan(transport, site, wanted, options, sink)
    if plan.touches(TLS_MATERIAL):
        _tls_gate(site, tls_gate, sink)
    return _execute(
        "config apply",
        transport,
        info,
        plan,
        options=options,
        confirm=confirm,
        sink=sink,
        clock=clock,
        reason="apply",
        before_push=before_push,
        after_apply=after_apply,
        appliance=checkpoints.appliance_of(site),
        latest_run=latest_run,
        site=site,
    )


def _write_plan(
    transport: ApplianceTransport,
    site: Site,
    wanted: Settings,
    options: ApplyOptions,
    sink: ProgressSink,
) -> tuple[Plan, str | None]:
    """The plan of a command that writes (`apply_site`, `rollback`), shown, with a hostname
    change refused; and the latest run this tool made here (the new record points back to it)."""
    current = transport.read_settings(list(wanted))
    state = pending_of(transport, site, options.snapshot_dir)
    plan = make_plan(site.hostname, wanted, current, state.pending)
    sink.finish(True, _plan_line(plan))
    _refuse_hostname_change(plan)
    return plan, state.latest.run_id


def _plan_line(plan: Plan) -> str:
    text = f"{len(plan.changes)} change(s)"
    if plan.pending is not None:
        text += f"; pending: {plan.pending.summary}"
    return text


def _refuse_hostname_change(plan: Plan) -> None:
    """GHES does not support changing the hostname of a configured instance
    (configuring-the-hostname-for-your-instance.md): refuse before anything is written."""
    change = plan.hostname_change
    if change is None:
        return
    raise InputError(
        f"the appliance's hostname is {change.old}, the site file says {change.new}: GitHub "
        "does not support changing the hostname of a configured instance; nothing was written",
        hint=f'point the site file at {change.old} (hostname = "{change.old}"), or restore a '
        "backup to a new instance with the new name",
    )


def desired_scope(
    site: Site, scope: Iterable[str], desired: Mapping[str, SettingValue] | None = None
) -> Settings:
    """The site's desired values for `scope`, plus `desired` (validated; names in `scope`)."""
    names = tuple(scope)
    extra = dict(desired or {})
    outside = sorted(set(extra) - set(names))
    if outside:
        raise ValueError(f"desired values outside the scope: {outside}")  # a wiring bug
    # The site model gives the core settings here; the Packages ones are `desired` (built by
    # packages.desired_packages with the storage backend, or nothing when Packages is off).
    base = desired_settings(site, scope=[n for n in names if n in CORE_SCOPE])
    return base.merged({n: validate(n, v) for n, v in extra.items()})


def rollback(
    transport: ApplianceTransport,
    site: Site,
    snapshot_path: Path | None = None,
    *,
    options: ApplyOptions = ApplyOptions(),
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
    clock: Clock = Clock(),
) -> ApplyOutcome:
    """Restore a snapshot (default: the one of the last run this tool made against this
    appliance, rollbacks excluded) and apply it. Only the settings that run changed are
    restored (an old snapshot without that record: every setting it holds), and the plan shows
    exactly those before the confirmation."""
    sink = progress or NullProgress()
    check_options(options)
    folder = options.snapshot_dir or checkpoints.default_dir()
    appliance = checkpoints.appliance_of(site)
    path = snapshot_path or checkpoints.latest(site.hostname, folder, appliance)
    if path is None:
        raise MaterialError(
            f"no snapshot of {appliance} in {folder}",
            hint="name one: ghes-setup config rollback PATH",
        )
    snap = checkpoints.load(path)
    if snap.host != site.hostname:
        raise InputError(
            f"snapshot {path} is of {snap.host}, not of {site.hostname}",
            hint="pick a snapshot of this appliance, or the site file that matches it",
        )
    restore = _validated(snap.restorable, path)
    info = preflight(transport, writes=True, prefetch=restore, progress=sink)
    sink.stage("plan", f"restoring {path.name}")
    plan, latest_run = _write_plan(transport, site, restore, options, sink)
    return _execute(
        "config rollback",
        transport,
        info,
        plan,
        options=options,
        confirm=confirm,
        sink=sink,
        clock=clock,
        reason=checkpoints.PRE_ROLLBACK,
        appliance=appliance,
        latest_run=latest_run,
        site=site,
    )


def _validated(values: Settings, path: Path) -> Settings:
    """A snapshot's values checked like a site file's (it may have been edited, or be
    damaged): a host name, PEM that parses, known enum values. `InputError` (exit 3) before
    anything is written."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    out: dict[str, SettingValue] = {}
    for name, value in values.items():
        where = f"snapshot {path}: {name}"
        try:
            checked = validate(name, value)
            if name == "hostname" and isinstance(checked, str):
                checked = validate_hostname(checked, where=where)
            elif name == "tls.cert" and isinstance(checked, str):
                x509.load_pem_x509_certificates(checked.encode())
            elif name == "tls.key" and checked is not None:
                assert not isinstance(checked, bool | str)  # validate: a Secret
                load_pem_private_key(checked.reveal().encode(), password=None)
        except (InputError, MaterialError) as exc:
            raise InputError(
                f"{where}: {exc.message}", hint="pick another snapshot (was it edited?)"
            ) from None
        except (ValueError, TypeError):
            raise InputError(
                f"{where}: not a valid PEM {'certificate' if name == 'tls.cert' else 'key'}",
                hint="pick another snapshot (was it edited?)",
            ) from None
        out[name] = checked
    return Settings(out)


def _tls_gate(site: Site, gate: TlsGate | None, sink: ProgressSink) -> None:
    """A certificate is pushed only if `tls check` passes on it (before anything is written)."""
    if gate is None:
        raise ValueError("a certificate change needs a tls_gate")  # a wiring bug
    sink.stage("tls check", "validating the certificate and key before pushing them")
    report = gate(site)
    bad = [r for r in report.results if r.status in (Status.FAIL, Status.ERROR)]
    if bad:
        sink.finish(False, "refused")
        reasons = "; ".join(f"{r.id}: {scrub(r.summary)}" for r in bad)
        raise InputError(
            f"refusing to push the certificate: tls check did not pass ({reasons}); "
            "nothing was written",
            hint="fix the files named in [tls] cert/key (ghes-setup tls check shows details)",
        )
    sink.finish(True, "certificate and key pass tls check")


def _execute(
    command: str,
    transport: ApplianceTransport,
    info: ApplianceInfo,
    plan: Plan,
    *,
    options: ApplyOptions,
    confirm: Confirm | None,
    sink: ProgressSink,
    clock: Clock,
    reason: str,
    before_push: BeforePush | None = None,
    after_apply: AfterApply | None = None,
    appliance: str | None = None,
    latest_run: str | None = None,
    site: Site | None = None,
) -> ApplyOutcome:
    if plan.empty:
        return ApplyOutcome(command, info, plan, dry_run=options.dry_run)
    if not plan.needs_run:
        # Only unknowable state (a run in progress, SSH without records): nothing to start,
        # but never "nothing to change": the outcome carries the plan's pending note.
        return ApplyOutcome(command, info, plan, dry_run=options.dry_run)
    running = plan.pending is not None and plan.pending.running
    if plan.changes and running and not options.dry_run:
        # Written now, the values would land while that run applies what it read at its start,
        # and our own run could not start until it ends: every gate comes before the first write.
        # Exit 6, as when the appliance refuses to start our run for the same reason.
        assert plan.pending is not None
        raise ApplyFailed(
            f"{command} did not start: {plan.pending.summary}; nothing was written",
            hint="wait for it to finish (ghes-setup config show), then run the command again",
            step="push",
        )
    if before_push is not None and plan.changes:
        before_push(plan)  # its exception stops the run: nothing is written
    if options.dry_run:
        return ApplyOutcome(command, info, plan, dry_run=True)
    if confirm is not None and not confirm(plan):
        raise Interrupted(f"{command} cancelled at the prompt; nothing was changed")

    run_id = new_run_id()
    record: checkpoints.Checkpoint | None = None
    if plan.changes:
        sink.stage("snapshot", "saving the current settings")
        _note_other_folder(sink, options.snapshot_dir)
        record = checkpoints.save(
            plan.current,
            host=plan.host,
            via=transport.name,
            directory=options.snapshot_dir or checkpoints.default_dir(),
            reason=reason,
            ghes_version=str(info.version),
            appliance=appliance,
            run_id=run_id,
            changed=plan.target(),
            previous_run=latest_run,
        )
        assert record.path is not None
        path: Path | None = record.path
        sink.finish(True, str(path))
    else:
        path = plan.pending.snapshot if plan.pending is not None else None
        if path is not None:
            try:
                record = checkpoints.load(path)
            except MaterialError:
                record = None
    rollback_hint = _rollback_hint(path, site)

    if plan.changes:
        sink.stage("push", f"writing {len(plan.changes)} setting(s) via {transport.name}")
        try:
            transport.write_settings(plan.target())
        except GhesSetupError as exc:
            landed = _landed(transport, plan)
            if not landed and landed is not None:
                sink.finish(False, "nothing was changed")
                _mark(record, RunState.PUSH_FAILED, "push")
                raise ApplyFailed(
                    f"{command} failed at step 'push': {exc.message}",
                    hint=exc.hint or "fix the cause and run the command again",
                    step="push",
                    snapshot=str(path),
                    rolled_back=True,
                ) from None
            # The write landed, or may have: its answer was lost (a timeout, a 504, an SSH
            # drop after the commit). The record stays unsettled, so `pending` finds what is
            # stored and the next plan applies it; never "nothing was changed".
            _mark(record, RunState.SAVED, "push")
            if landed is None:
                what = "whether the settings were written cannot be told (no answer to a read)"
                then = "run the command again once the appliance answers (it applies what landed)"
            else:
                what = f"{', '.join(landed)} stored but not applied"
                then = "ghes-setup config apply applies them"
            sink.finish(False, what)
            raise ApplyFailed(
                f"{command} failed at step 'push': {exc.message}; {what}",
                hint=f"{then}, or {rollback_hint}",
                step="push",
                snapshot=str(path),
                rolled_back=False,
            ) from None
        record = _mark(record, RunState.WRITTEN, "push")
        sink.finish(True, "written")

    what = "starting" if plan.changes else "applying the pending settings in"
    sink.stage("config apply", f"{what} run {run_id}")
    try:
        run = transport.start_apply(run_id)
    except ApplianceError as exc:
        sink.finish(False, exc.message)
        _mark(record, RunState.WRITTEN if plan.changes else record_state(record), "start")
        raise ApplyFailed(
            f"{command} failed at step 'start config apply': {exc.message}; the settings are "
            "written but not applied (pending: the next ghes-setup config apply or up applies "
            "them)",
            hint=f"run the command again once the appliance answers; {rollback_hint}",
            step="start config apply",
            snapshot=str(path) if path else None,
        ) from None
    if plan.changes:
        record = _mark(record, RunState.STARTED, "config apply")
    if not options.wait:
        sink.finish(True, f"run {run.run_id} started (not waiting)")
        verified = _verify(transport, plan, path, sink)
        return ApplyOutcome(command, info, plan, snapshot=path, run=run, verified=verified)

    status = _follow(transport, run, options, sink, clock, rollback_hint, path)
    if not status.successful:
        detail = status.detail or "no reason given"
        sink.finish(False, detail)
        if plan.changes:
            _mark(record, RunState.FAILED, scrub(detail))
        raise ApplyFailed(
            f"{command} failed at step 'config apply': configuration run {run.run_id} "
            f"failed: {scrub(detail)}; the settings are stored but not applied",
            hint=f"see ghe-config.log on the appliance; {rollback_hint}",
            step="config apply",
            snapshot=str(path) if path else None,
        )
    sink.finish(True, f"run {run.run_id} succeeded")
    _mark(record, RunState.SUCCEEDED, None)
    verified = _verify(transport, plan, path, sink)
    outcome = ApplyOutcome(
        command,
        info,
        plan,
        snapshot=path,
        run=run,
        status=status,
        verified=verified,
    )
    if after_apply is not None:
        after_apply(outcome)
    return outcome


def record_state(record: checkpoints.Checkpoint | None) -> str:
    return record.state if record is not None else RunState.WRITTEN


def _landed(transport: ApplianceTransport, plan: Plan) -> tuple[str, ...] | None:
    """After a failed write: the planned settings whose new value is stored (none: the write
    did not happen), or None when the appliance does not answer the read."""
    target = plan.target()
    try:
        current = transport.read_settings(list(target))
    except GhesSetupError:
        return None
    return tuple(n for n, value in target.items() if same_value(n, current[n], value))


def _mark(
    record: checkpoints.Checkpoint | None, state: str, step: str | None
) -> checkpoints.Checkpoint | None:
    return checkpoints.mark(record, state, step) if record is not None else None


def _rollback_hint(path: Path | None, site: Site | None) -> str:
    """The rollback command, complete enough to work as printed (the site file named)."""
    if path is None:
        # Nothing of this run's to undo (it applied settings stored earlier, maybe by someone
        # else): `config rollback` would pick an older change of ghes-setup's.
        return "this run wrote no settings, so there is nothing of it to roll back"
    where = f" --site {shlex.quote(str(site.source))}" if site and site.source else ""
    return f"roll back with: ghes-setup config rollback {shlex.quote(str(path))}{where}"


def _follow(
    transport: ApplianceTransport,
    run: ApplyRun,
    options: ApplyOptions,
    sink: ProgressSink,
    clock: Clock,
    rollback_hint: str,
    path: Path | None,
) -> ApplyStatus:
    """Poll events and status until the run ends; `ApplyFailed` on timeout or a lost run."""
    start = clock.now()
    cursor: str | None = None
    lines: list[str] = []
    errors: list[str] = []

    def drain() -> None:
        nonlocal cursor
        batch = transport.apply_events(cursor)
        cursor = batch.cursor
        for event in batch.events:
            sink.log(event.body)
            lines.append(event.body)
            if event.is_error:
                errors.append(event.body)

    while True:
        try:
            drain()
            status = transport.apply_status(run.run_id)
            if status.known and not status.running:
                drain()  # what happened between the last events and the end
        except ApplianceError as exc:
            raise ApplyFailed(
                f"lost track of configuration run {run.run_id}: {exc.message}",
                hint=f"check it on the appliance (ghe-config.log); {rollback_hint}",
                step="config apply",
                snapshot=str(path) if path else None,
            ) from None
        elapsed = clock.now() - start
        if status.known and not status.running:
            if not status.successful and status.detail is None and (errors or lines):
                # The first error is the cause; later ones are its consequences.
                cause = errors[0] if errors else lines[-1]
                status = ApplyStatus(status.run_id, False, False, detail=cause)
            return status
        if not status.known and elapsed > UNKNOWN_RUN_GRACE_S:
            raise ApplyFailed(
                f"the appliance does not know configuration run {run.run_id}",
                hint=f"check ghe-config.log on the appliance; {rollback_hint}",
                step="config apply",
                snapshot=str(path) if path else None,
            )
        if elapsed > options.timeout_s:
            raise ApplyFailed(
                f"configuration run {run.run_id} still running after {options.timeout_s:g} s",
                hint="it may still finish: follow it with ghe-config.log on the appliance, then "
                f"run the command again (nothing to change = done); {rollback_hint}",
                step="config apply",
                snapshot=str(path) if path else None,
            )
        sink.advance(elapsed, options.timeout_s, "waiting for config apply")
        clock.sleep(options.poll_s)


def _verify(
    transport: ApplianceTransport, plan: Plan, path: Path | None, sink: ProgressSink
) -> tuple[str, ...]:
    if not plan.changes:
        return ()
    sink.stage("verify", "reading the settings back")
    try:
        back = transport.read_settings(plan.changed_names)
    except ApplianceError as exc:
        sink.finish(False, exc.message)
        raise ApplyFailed(
            f"could not read the settings back to verify them: {exc.message}",
            hint=f"run ghes-setup config plan to compare; or {_rollback_hint(path, None)}",
            step="verify",
            snapshot=str(path) if path else None,
        ) from None
    target: dict[str, SettingValue] = plan.target()
    wrong = [n for n in plan.changed_names if not same_value(n, back[n], target[n])]
    if wrong:
        sink.finish(False, ", ".join(wrong))
        raise ApplyFailed(
            f"the appliance does not hold the new value of {', '.join(wrong)} after the apply",
            hint=f"something else changed it; {_rollback_hint(path, None)}",
            step="verify",
            snapshot=str(path) if path else None,
        )
    sink.finish(True, f"{len(plan.changed_names)} setting(s) verified")
    return plan.changed_names


def _note_other_folder(sink: ProgressSink, folder: Path | None) -> None:
    """A run record outside the default folder is one `check` and `config plan` do not read:
    say how to make them read it (a write whose run never started is found only there)."""
    default = checkpoints.default_dir()
    if folder is None or folder.absolute() == default.absolute():
        return
    sink.log(
        f"note: the run record goes to {folder}; `check` and `config plan` read {default}: "
        f"set {checkpoints.SNAPSHOT_DIR_ENV}={folder} for every command instead of --snapshot-dir"
    )
