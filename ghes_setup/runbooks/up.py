"""`ghes-setup up`: the main job, end to end (docs/reference/architecture.md §2).

    1 preflight  reach the appliance, identify its version (3.5+ for the registry), auth
    2 dns        HOSTNAME, *.HOSTNAME and every isolation subdomain resolve to the appliance
    3 tls        the site's certificate and key pass every tls-* check
    4 plan       desired settings (core + Packages) vs current; --dry-run stops here
    5 push       storage precheck, snapshot, write everything, all or nothing
    6 apply      ONE configuration run, followed to its end; blob storage check
    7 registry   containers.HOSTNAME/v2/ answers with a Bearer challenge
    8 smoke      push a generated image, pull it by tag and digest, verify, clean up
    9 report     one report; the exit code of the worst result (or of the error that stopped it)

It stops at the first step that fails, saying what to fix; run again after the fix and the
finished steps find nothing to change (`apply_site` plans nothing, starts no run), while what
a failed or interrupted run left stored but not applied is pending and applied. Every step
is recorded as check results with the stable ids of docs/reference/architecture.md §4 (the
plan/push/apply steps as `appliance-config-apply`), so `--format json` prints the ordinary v1 report
document. A step that stops the run with an error (unreachable, refused certificate, failed
apply...) becomes a result too, and the run's exit code is that error's (4, 3, 6, ...).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, NoReturn

from ghes_setup import exit_codes
from ghes_setup.appliance.apply import (
    ApplyOptions,
    ApplyOutcome,
    Confirm,
    TlsGate,
    apply_site,
    check_options,
)
from ghes_setup.appliance.check_reachable import reachable_outcome
from ghes_setup.appliance.check_version import version_outcome
from ghes_setup.appliance.plan import CORE_SCOPE, plan_document
from ghes_setup.appliance.preflight import CONTAINER_REGISTRY, preflight, untested_note
from ghes_setup.appliance.transport import ApplianceInfo
from ghes_setup.checks import CheckResult, Outcome, Report, Status, run_checks, worst
from ghes_setup.checks.catalogue import CheckId, Pipeline, checks
from ghes_setup.checks.failure import error_result
from ghes_setup.errors import ApplyFailed, GhesSetupError, InputError, UnsupportedVersion
from ghes_setup.exit_codes import ExitCode
from ghes_setup.packages.desired import (
    PACKAGES_SCOPE,
    StorageSecrets,
    desired_packages,
    read_storage_secrets,
)
from ghes_setup.packages.errors import PrecheckFailed, StorageCheckFailed
from ghes_setup.packages.service import (
    lint_secrets,
    packages_described,
    packages_hooks,
    packages_wanted,
)
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.registry.smoke import run_smoke
from ghes_setup.registry.status import wait_for_registry
from ghes_setup.runbooks.check import pipeline_checks
from ghes_setup.runbooks.context import PipelineContext
from ghes_setup.runbooks.gates import tls_gate
from ghes_setup.secrets import scrub

COMMAND: Final = "up"
STEPS: Final = ("preflight", "dns", "tls", "plan", "push", "apply", "registry", "smoke", "report")
APPLY_ID: Final = CheckId.APPLIANCE_CONFIG_APPLY.value
DEFAULT_REGISTRY_WAIT_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class UpOptions:
    dry_run: bool = False
    smoke: bool = True
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    registry_wait_s: float = DEFAULT_REGISTRY_WAIT_S
    poll_s: float = 1.0


@dataclass(frozen=True, slots=True)
class StepRecord:
    name: str
    status: Status
    summary: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class UpResult:
    """What `up` did: the report, each step, where it stopped, and the exit code."""

    report: Report
    steps: tuple[StepRecord, ...]
    exit_code: int
    stopped_at: str | None = None
    error: GhesSetupError | None = None
    apply: ApplyOutcome | None = None
    info: ApplianceInfo | None = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    def verdict(self) -> str:
        """One closing sentence for people: done, or where it stopped and what to fix."""
        if self.ok and self.dry_run:
            return "Dry run finished: nothing was changed. Run without --dry-run to apply the plan."
        # A warning about the configuration (pending state that could not be settled) makes
        # "set up" unconfirmed; one about the path taken (transport) or the release does not.
        warned = [r for r in self.report.results if r.status is Status.WARN and r.id == APPLY_ID]
        if self.ok and warned:
            return scrub(
                f"{self.report.target}: finished with warnings, not confirmed set up: "
                + "; ".join(f"{r.id}: {r.summary}" for r in warned)
            )
        if self.ok:
            return (
                f"{self.report.target} is set up: subdomain isolation, TLS, GitHub Packages and "
                "the Container registry work (smoke test included unless --no-smoke)."
            )
        reason = ""
        if self.error is not None:
            reason = f": {self.error.message}"
            if self.error.hint:
                reason += f". Hint: {self.error.hint}"
        else:
            bad = [r for r in self.report.results if r.status in (Status.FAIL, Status.ERROR)]
            if bad:
                reason = f": {bad[0].id}: {bad[0].summary}"
                if bad[0].remedy:
                    reason += f". Fix: {bad[0].remedy}"
        return scrub(
            f"Stopped at step '{self.stopped_at or 'a step'}'{reason}. After the fix, run "
            "ghes-setup up again: it applies what is stored but not applied and skips the "
            "steps already done."
        )


class _Stop(Exception):
    """A step failed: stop the pipeline (results and the error are already recorded)."""


@dataclass
class _Run:
    sink: ProgressSink
    results: list[CheckResult] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    error: GhesSetupError | None = None
    stopped_at: str | None = None

    def step(
        self,
        name: str,
        results: Sequence[CheckResult],
        *,
        started: float,
        summary: str | None = None,
    ) -> None:
        """Record a step's results; stop the pipeline if one did not pass."""
        self.results.extend(results)
        status = worst(r.status for r in results)
        bad = [r for r in results if r.status in (Status.FAIL, Status.ERROR)]
        text = summary or (
            "; ".join(f"{r.id}: {r.summary}" for r in bad) if bad else _summary(results)
        )
        self.steps.append(StepRecord(name, status, scrub(text), time.perf_counter() - started))
        self.sink.finish(not bad, text)
        if bad:
            self.stopped_at = name
            raise _Stop

    def fail(
        self, name: str, exc: GhesSetupError, check_id: str, area: str, started: float
    ) -> NoReturn:
        """A step ended in an error: record it as a result of `check_id`, then stop (`fail`,
        or `error` when the appliance could not be reached or read: checks.failure)."""
        duration = time.perf_counter() - started
        result = error_result(check_id, area, exc, step=True, duration_s=duration)
        self.error = exc
        self.step(name, [result], started=started)
        raise _Stop  # step() already raised: a failed result always stops


def _summary(results: Sequence[CheckResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing to check"


def run_up(
    ctx: PipelineContext,
    options: UpOptions = UpOptions(),
    *,
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
    gate: TlsGate = tls_gate,
    on_result: Callable[[CheckResult], None] | None = None,
) -> UpResult:
    """Take the appliance to the site file's state and prove it.

    Raises only for invalid input found before anything starts (a missing secret: exit 3);
    an error that stops a step is in the result instead, and decides its exit code."""
    check_up_options(options)
    secrets = _require_inputs(ctx, options)
    run = _Run(progress or NullProgress())
    outcome: ApplyOutcome | None = None
    info: ApplianceInfo | None = None
    try:
        try:
            info = _preflight(ctx, run, options)
            _dns(ctx, run)
            _tls(ctx, run, gate)
            outcome = _configure(ctx, run, options, confirm, gate, secrets)
            _registry(ctx, run, options, outcome)
            if options.smoke and not outcome.dry_run:
                _smoke(ctx, run)
        except _Stop:
            pass
    finally:
        ctx.close()
    if on_result is not None:
        for result in run.results:
            on_result(result)
    report = Report(COMMAND, tuple(run.results), target=ctx.site.hostname)
    if run.error is not None:
        code = int(exit_codes.for_error(run.error))
    else:
        code = int(exit_codes.for_status(report.status))
    return UpResult(
        report=report,
        steps=tuple(run.steps),
        exit_code=code,
        stopped_at=run.stopped_at,
        error=run.error,
        apply=outcome,
        info=info,
        dry_run=options.dry_run,
    )


# ---------------------------------------------------------------------------- the steps


def check_up_options(options: UpOptions) -> None:
    """Options that would only fail after a write are refused first (exit 3)."""
    check_options(options.apply)
    wait = options.registry_wait_s
    if not math.isfinite(wait) or wait < 0:
        raise InputError(
            f"--registry-timeout must be zero or a positive number of seconds, got {wait:g}",
            hint="for example --registry-timeout 600",
        )


def _require_inputs(ctx: PipelineContext, options: UpOptions) -> StorageSecrets | None:
    """Every secret a later step needs, read now: a missing one is exit 3 before anything
    is touched (not a failure half-way through the pipeline). The storage secrets, if any."""
    if options.smoke and not options.dry_run:
        ctx.smoke()
    if not packages_wanted(ctx.site):
        return None
    secrets = read_storage_secrets(ctx.site)
    lint_secrets(ctx.site, secrets)  # storage GHES refuses (a SAS...): exit 3, nothing touched
    return secrets


def _preflight(ctx: PipelineContext, run: _Run, options: UpOptions) -> ApplianceInfo:
    started = time.perf_counter()
    run.sink.stage("preflight", f"connecting to {ctx.site.connect_host}")
    try:
        transport = ctx.transport()
        info = preflight(
            transport, needs=(CONTAINER_REGISTRY,), writes=not options.dry_run, progress=None
        )
    except GhesSetupError as exc:
        check_id = (
            CheckId.APPLIANCE_VERSION
            if isinstance(exc, UnsupportedVersion)
            else CheckId.APPLIANCE_REACHABLE
        )
        run.fail("preflight", exc, check_id.value, "appliance", started)
    # Pass, or warn naming the path taken when it is not the Manage API (issue: no silent
    # fallback to the riskier path).
    reachable = CheckResult.from_outcome(
        CheckId.APPLIANCE_REACHABLE.value, "appliance", reachable_outcome(info)
    )
    version_details = {"version": str(info.version), "platform": info.platform}
    version = CheckResult.from_outcome(
        CheckId.APPLIANCE_VERSION.value,
        "appliance",
        (
            version_outcome(info, version_details)  # warns on an untested newer release
            if untested_note(info)
            else Outcome.passed(
                f"GHES {info.version} has the Container registry "
                f"(needs {CONTAINER_REGISTRY.since}+)",
                details=version_details,
            )
        ),
    )
    run.step(
        "preflight",
        [reachable, version],
        started=started,
        summary=f"GHES {info.version} via {info.via}",
    )
    return info


def _dns(ctx: PipelineContext, run: _Run) -> None:
    started = time.perf_counter()
    run.sink.stage("dns", f"{ctx.site.hostname}, *.{ctx.site.hostname} and every subdomain")
    results = run_checks(pipeline_checks(Pipeline.UP, area="dns"), ctx)
    run.step("dns", results, started=started)


def _tls(ctx: PipelineContext, run: _Run, gate: TlsGate) -> None:
    started = time.perf_counter()
    if ctx.site.tls.cert is None:
        run.sink.stage("tls", "no [tls] cert in the site file: the appliance keeps its own")
        skipped = CheckResult.from_outcome(
            CheckId.TLS_PEM.value,
            "tls",
            Outcome.skipped(
                "no [tls] cert/key in the site file: the appliance keeps its certificate "
                "(tls-served in `ghes-setup check` watches what it serves)"
            ),
        )
        run.step("tls", [skipped], started=started)
        return
    run.sink.stage("tls", f"validating {ctx.site.tls.cert.name} for {ctx.site.hostname}")
    try:
        report = gate(ctx.site)
    except GhesSetupError as exc:  # an unreadable file: exit 3
        run.fail("tls", exc, CheckId.TLS_PEM.value, "tls", started)
    run.step("tls", report.results, started=started)


def _configure(
    ctx: PipelineContext,
    run: _Run,
    options: UpOptions,
    confirm: Confirm | None,
    gate: TlsGate,
    secrets: StorageSecrets | None,
) -> ApplyOutcome:
    """Steps plan, push and apply: ONE apply_site over core + Packages settings."""
    started = time.perf_counter()
    site = ctx.site
    scope: tuple[str, ...] = CORE_SCOPE
    desired = None
    hooks = None
    try:
        transport = ctx.transport()
        if secrets is not None:  # the site file says what Packages should be
            scope += PACKAGES_SCOPE
            desired = desired_packages(site, secrets)
            hooks = packages_hooks(transport, site, secrets, progress=run.sink)
        outcome = apply_site(
            transport,
            site,
            tls_gate=gate,
            options=options.apply if not options.dry_run else _dry(options.apply),
            confirm=confirm,
            progress=run.sink,
            needs=(CONTAINER_REGISTRY,),
            scope=scope,
            desired=desired,
            before_push=hooks.before_push if hooks else None,
            after_apply=hooks.after_apply if hooks else None,
        )
    except GhesSetupError as exc:
        run.fail(_step_of(exc), exc, APPLY_ID, "appliance", started)
    details: dict[str, Any] = {
        "plan": plan_document(outcome.plan),
        "dry_run": outcome.dry_run,
        "snapshot": str(outcome.snapshot) if outcome.snapshot else None,
        "run_id": outcome.run.run_id if outcome.run else None,
        "verified": list(outcome.verified),
    }
    if hooks is not None:
        for name, test in (("precheck", hooks.precheck), ("blob_check", hooks.blob_check)):
            if test is not None:
                details[name] = {
                    "command": test.command,
                    "passed": test.passed,
                    "output": list(test.lines[-3:]),
                }
    n = len(outcome.plan.changes)
    pending = outcome.plan.pending
    verdict: Callable[..., Outcome] = Outcome.passed
    if outcome.plan.empty:
        summary = "nothing to change: the appliance already matches the site file"
    elif outcome.dry_run:
        summary = f"dry run: {n} change(s) planned, nothing written"
        if pending is not None:
            summary += f"; pending: {pending.summary}"
    elif not outcome.plan.needs_run and pending is not None:
        summary = f"no change to write, but {pending.summary}"
        verdict = _warned
    elif outcome.run and outcome.status is None:
        summary = f"{n} change(s) written; configuration run {outcome.run.run_id} started"
    elif n == 0 and pending is not None:
        run_id = outcome.run.run_id if outcome.run else "?"
        summary = f"pending settings applied in configuration run {run_id} ({pending.summary})"
    else:
        run_id = outcome.run.run_id if outcome.run else "?"
        summary = f"{n} change(s) applied in configuration run {run_id}, verified"
    result = CheckResult.from_outcome(
        APPLY_ID,
        "appliance",
        verdict(summary, details=details),
        time.perf_counter() - started,
    )
    packages: tuple[CheckResult, ...] = ()
    if secrets is not None:
        # The storage lint (packages-storage-config): its errors stopped the run before it began.
        packages = run_checks(
            checks(Pipeline.UP, only=CheckId.PACKAGES_STORAGE_CONFIG), ctx.packages()
        )
    elif packages_described(site):
        # Packages is left as it is ([packages] enabled unset), but the site file names its
        # storage or ecosystems: compared read-only, "matches the site file" stays true.
        packages = run_checks(checks(Pipeline.UP, only=CheckId.PACKAGES_ENABLED), ctx.packages())
        differs = next((r for r in packages if not r.status.ok), None)
        if differs is not None:
            summary = f"{summary}; but {differs.id}: {differs.summary}"
    run.step(
        "apply" if not outcome.dry_run else "plan",
        [*packages, result],
        started=started,
        summary=summary,
    )
    return outcome


def _warned(summary: str, *, details: dict[str, Any]) -> Outcome:
    return Outcome.warned(
        summary,
        "wait for the run to finish, or give the Manage API password so that the appliance's "
        "latest configuration run can be read",
        details=details,
    )


def _dry(options: ApplyOptions) -> ApplyOptions:
    return replace(options, dry_run=True)


def _step_of(exc: GhesSetupError) -> str:
    """Which of STEPS an error of apply_site stopped: ApplyFailed names its own step; the
    storage precheck runs just before the push, the blob check just after the apply."""
    if isinstance(exc, ApplyFailed) and exc.step:
        return "push" if exc.step in ("push", "snapshot") else "apply"
    if isinstance(exc, PrecheckFailed):
        return "push"
    if isinstance(exc, StorageCheckFailed):
        return "apply"
    return "plan"


def _registry(ctx: PipelineContext, run: _Run, options: UpOptions, outcome: ApplyOutcome) -> None:
    started = time.perf_counter()
    request = ctx.registry_ping()
    if outcome.dry_run:  # read-only: what /v2/ answers now, no waiting
        run.sink.stage("registry", f"{request.url} (dry run: not waiting)")
        ping = pipeline_checks(Pipeline.UP, only=CheckId.REGISTRY_PING)
        result = run_checks(ping, ctx)[0]
        if not result.status.ok and not outcome.plan.empty:
            # Expected before the planned changes are applied: say so, do not fail the dry run.
            result = replace(
                result,
                status=Status.WARN,
                summary=f"before the planned changes: {result.summary}",
            )
        run.step("registry", [result], started=started)
        return
    # Waiting only makes sense while a configuration run brings the registry up; when nothing
    # ran, what /v2/ answers now is the answer (a front door that refuses connections will not
    # start by itself): one probe, not the full timeout.
    wait_s = options.registry_wait_s if outcome.run is not None else 0.0
    run.sink.stage("registry", f"waiting for {request.url} to answer as a registry")
    waited = wait_for_registry(request, timeout_s=wait_s, poll_s=options.poll_s, progress=run.sink)
    result = waited.result
    if not waited.ok:
        result = replace(
            result,
            summary=f"{result.summary} (after waiting {waited.waited_s:.0f} s)",
            duration_s=time.perf_counter() - started,
        )
    run.step("registry", [result], started=started)


def _smoke(ctx: PipelineContext, run: _Run) -> None:
    started = time.perf_counter()
    run.sink.stage("smoke", f"push and pull a test image at containers.{ctx.site.hostname}")
    try:
        result = run_smoke(ctx.smoke(), run.sink)
    except GhesSetupError as exc:
        run.fail("smoke", exc, CheckId.REGISTRY_SMOKE.value, "registry", started)
    run.step("smoke", [result], started=started)
