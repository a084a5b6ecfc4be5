"""Stored is not applied: are there settings on the appliance that no successful run applied?

GHES keeps two states of every setting: what is *stored* (`ghe-config`, the Manage API's
settings) and what is *applied* (what the services run with after `ghe-config-apply`,
"Running a configuration run" in the Manage API docs). A write with no successful
configuration run after it is **pending**: the appliance answers with the new values but
serves the old ones. A plan that only compares stored values would say "nothing to change"
then, so every plan, apply and `check` asks this module too.

What it reads:

- the appliance's latest configuration run (`GET /manage/v1/config/apply` and its events over
  the Manage API; over SSH, the run records ghes-setup keeps under ~/.ghes-setup/runs on the
  appliance, see `ssh.py`): a run that failed leaves whatever it was to apply pending, a run in
  progress is not finished;
- the tool's own run record for this appliance (`checkpoint.py`, the checkpoint taken before the
  write): a write whose run never started (an API 503 at "start config apply", Ctrl-C right
  after "push: written") or never finished, with no successful run of the appliance after it,
  is pending if the written values are still there (their digests match).

What it cannot know, and says so (`Pending.known` False, a `warn`): over SSH the admin shell
shows only the runs ghes-setup started (runs started with `ghe-config-apply` by hand, or from
the Management Console, leave no record it can read), and a run started by someone else that
is still in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ghes_setup.appliance import checkpoint as checkpoints
from ghes_setup.appliance.checkpoint import RunState
from ghes_setup.appliance.transport import ApplianceTransport, ApplyStatus
from ghes_setup.errors import GhesSetupError

OUR_RUN_PREFIX = "ghes-setup-"


@dataclass(frozen=True, slots=True)
class Pending:
    """Settings stored but not applied (or, with `known` False, state that cannot be told).

    `summary` is the sentence a plan shows: "pending: stored, not applied since run R failed
    at STEP". `names` are the settings known to be pending (empty: the failed run's, unknown).
    `snapshot` is the record of the write, the one to roll back to."""

    summary: str
    run_id: str | None = None
    step: str | None = None
    names: tuple[str, ...] = ()
    known: bool = True
    running: bool = False
    snapshot: Path | None = None

    @property
    def actionable(self) -> bool:
        """A configuration run would apply it (not merely unknown, not already running)."""
        return self.known and not self.running


@dataclass(frozen=True, slots=True)
class PendingState:
    """The appliance's latest run and what is pending (None: nothing)."""

    latest: ApplyStatus
    pending: Pending | None


def read_pending(
    transport: ApplianceTransport,
    *,
    appliance: str | None,
    directory: Path | None,
    latest: ApplyStatus | None = None,
) -> PendingState:
    """Ask the appliance (and the tool's run record of it) what is stored but not applied;
    `latest`: the latest run, when the caller has already asked for it."""
    if latest is None:
        latest = transport.apply_status(None)
    record = _record(directory, appliance)
    if latest.known and latest.running:
        ours = (latest.run_id or "").startswith(OUR_RUN_PREFIX)
        who = "" if ours else " (not started by ghes-setup)"
        return PendingState(
            latest,
            Pending(
                f"configuration run {latest.run_id or '(no id)'}{who} is in progress: the stored "
                "settings are not applied until it ends",
                run_id=latest.run_id,
                step="in progress",
                known=False,
                running=True,
                snapshot=_snapshot_of(record, latest),
            ),
        )
    if latest.failed:
        step = latest.detail or _first_error(transport)
        where = f" at: {step}" if step else ""
        return PendingState(
            latest,
            Pending(
                f"stored, not applied since run {latest.run_id or '(no id)'} failed{where}",
                run_id=latest.run_id,
                step=step,
                names=tuple(record.changed or ()) if record and _same_run(record, latest) else (),
                snapshot=_snapshot_of(record, latest),
            ),
        )
    if record is not None and record.state not in checkpoints.SETTLED:
        pending = _from_record(transport, record, latest)
        if pending is not None:
            return PendingState(latest, pending)
    if not latest.known and record is None and transport.name == "ssh":
        return PendingState(
            latest,
            Pending(
                "cannot tell whether the stored settings are applied: no configuration run of "
                "ghes-setup on record, and over SSH runs started elsewhere (ghe-config-apply by "
                "hand, the Management Console) are not visible",
                known=False,
            ),
        )
    return PendingState(latest, None)


def _record(directory: Path | None, appliance: str | None) -> checkpoints.Checkpoint | None:
    if directory is None or appliance is None:
        return None
    return checkpoints.latest_record(directory, appliance)


def _started_before(run_id: str | None, record: checkpoints.Checkpoint) -> bool:
    """True when `run_id` is a run of ghes-setup that started before `record` was written: it
    cannot have applied that write. Over SSH the latest run is the latest ghes-setup started
    there, which may be older than a write whose run went through the Manage API. Other runs
    (the Management Console's) carry no time: they are taken to be later, as before."""
    started = checkpoints.run_started(run_id)
    # The write's own run id dates it to the millisecond (`created` to the second); a run of
    # ours between the write and that run's start is not told apart: it errs towards pending.
    written = checkpoints.run_started(record.run_id) or _parse_time(record.created)
    return started is not None and written is not None and started < written


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _snapshot_of(record: checkpoints.Checkpoint | None, latest: ApplyStatus) -> Path | None:
    """The run record to roll back to for `latest`: the write of that very run, or a write of
    ours that never settled. A settled record (its run succeeded long ago) is not: rolling
    back to it would undo an old, good change for someone else's failed run."""
    if record is None:
        return None
    if _same_run(record, latest) or record.state not in checkpoints.SETTLED:
        return record.path
    return None


def _same_run(record: checkpoints.Checkpoint, status: ApplyStatus) -> bool:
    return record.run_id is not None and record.run_id == status.run_id


def _from_record(
    transport: ApplianceTransport, record: checkpoints.Checkpoint, latest: ApplyStatus
) -> Pending | None:
    """The tool's last write to this appliance did not end in a successful run: pending if
    no successful run came after it and the written values are still stored."""
    if (
        latest.known
        and latest.successful
        and latest.run_id not in (None, record.previous_run)
        and not _started_before(latest.run_id, record)
    ):
        return None  # a run after the write succeeded (ours, or someone else's)
    names = [n for n in (record.changed or ()) if transport.supports(n)]
    targets = record.targets or {}
    if not names or not targets:
        return None
    current = transport.read_settings(names)
    landed = tuple(n for n in names if checkpoints.digest(n, current[n]) == targets.get(n))
    if not landed:
        return None  # the write never happened (or was undone): nothing of ours is pending
    whys: dict[str, str] = {
        RunState.SAVED: "the run was interrupted during the push",
        RunState.WRITTEN: f"run {record.run_id} never started",
        RunState.STARTED: f"run {record.run_id} did not finish",
        RunState.FAILED: f"run {record.run_id} failed at {record.step or 'config apply'}",
    }
    why = whys.get(record.state, f"run {record.run_id} did not succeed")
    return Pending(
        f"stored, not applied: {', '.join(landed)} written, {why}",
        run_id=record.run_id,
        step=record.step or record.state,
        names=landed,
        snapshot=record.path,
    )


def _first_error(transport: ApplianceTransport) -> str | None:
    """The cause of a failed run, from its events (the Manage API's status does not say)."""
    try:
        events = transport.apply_events(None).events
    except GhesSetupError:  # the cause is a nicety; the failure is known already
        return None
    return next((e.body for e in events if e.is_error), None)
