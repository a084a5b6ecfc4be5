"""Entry points for `packages enable` / `packages status`, and the hooks other runs reuse.

`packages enable` is `appliance.apply.apply_site` with `scope=PACKAGES_SCOPE`, the site's
Packages settings as `desired`, and two hooks (`PackagesHooks`):

    plan (Packages keys only) -- nothing to change: stop, no precheck, no apply
    -> before_push: ghe-packages-precheck on the appliance (over SSH); a failure stops here,
       nothing written (PrecheckFailed, exit 3)
    -> snapshot -> push (ghe-config over SSH, all or nothing) -> config apply -> verify
    -> after_apply: ghe-check-blob-connection must print "All Storage tests passed"
       (StorageCheckFailed, exit 1: the settings stay applied)

`up` and `registry start` pass the same hooks to ONE apply_site run over
`CORE_SCOPE + PACKAGES_SCOPE`, so one plan, one push and one config apply cover everything:

    from ghes_setup.packages.service import (
        PACKAGES_SCOPE, desired_packages, packages_hooks, read_storage_secrets)
    secrets = read_storage_secrets(site)        # exit 3 when a storage secret is missing
    hooks = packages_hooks(transport, site, secrets, progress=sink)
    apply_site(transport, site, scope=CORE_SCOPE + PACKAGES_SCOPE,
               desired=desired_packages(site, secrets), before_push=hooks.before_push,
               after_apply=hooks.after_apply, tls_gate=..., ...)

or, from a `Connect`: `config_apply(connect, ..., scope=..., desired=...,
hooks=hook_factory(site, secrets, progress=sink))` (the factory keeps the hooks it made, and
with them what the storage utilities said). `packages_wanted(site)` says whether a pipeline
should include Packages at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ghes_setup.appliance.apply import (
    AfterApply,
    ApplyOptions,
    ApplyOutcome,
    BeforePush,
    Clock,
    Confirm,
    apply_site,
    plan_site,
)
from ghes_setup.appliance.plan import Plan
from ghes_setup.appliance.preflight import PACKAGES
from ghes_setup.appliance.service import ApplyHooks, Connect, open_appliance
from ghes_setup.appliance.transport import ApplianceInfo, ApplianceTransport
from ghes_setup.checks import Report
from ghes_setup.config.site import Site
from ghes_setup.errors import ApplianceResponseError, InputError, UnsupportedVersion
from ghes_setup.packages.backends import refuse_bad_storage
from ghes_setup.packages.desired import (
    PACKAGES_SCOPE,
    STORAGE_SETTINGS,
    StorageSecrets,
    desired_packages,
    precheck_argv,
    read_storage_secrets,
    storage_backend,
)
from ghes_setup.packages.errors import PrecheckFailed, StorageCheckFailed
from ghes_setup.packages.lint import StorageFinding
from ghes_setup.packages.status import check_packages
from ghes_setup.packages.storage import (
    BLOB_CHECK,
    PRECHECK,
    StorageTest,
    UtilityRunner,
    check_blob_connection,
    require_runner,
    run_storage_utility,
)
from ghes_setup.progress import NullProgress, ProgressSink

__all__ = [
    "PACKAGES_SCOPE",
    "EnableOutcome",
    "PackagesHookFactory",
    "PackagesHooks",
    "blob_check_hook",
    "desired_packages",
    "enable_packages",
    "hook_factory",
    "lint_secrets",
    "packages_described",
    "packages_hooks",
    "packages_status",
    "packages_wanted",
    "plan_packages",
    "precheck_hook",
    "read_storage_secrets",
]


class PackagesHooks:
    """The storage precheck (before_push) and blob check (after_apply) of one apply run.

    Built on the run's transport (its admin SSH shell: `PackagesNeedSsh`, exit 3, when there is
    none, before anything is read or written). Keeps what each utility said, for the report.
    """

    def __init__(
        self,
        transport: ApplianceTransport,
        site: Site,
        secrets: StorageSecrets,
        *,
        progress: ProgressSink | None = None,
    ) -> None:
        self.site = site
        self.secrets = secrets
        self.runner: UtilityRunner = require_runner(transport, "GitHub Packages")
        self.sink = progress or NullProgress()
        self.precheck: StorageTest | None = None
        self.blob_check: StorageTest | None = None

    def hooks(self) -> ApplyHooks:
        return ApplyHooks(before_push=self.before_push, after_apply=self.after_apply)

    def before_push(self, plan: Plan) -> None:
        """ghe-packages-precheck when the plan enables Packages or changes its storage."""
        if not _enables_storage(plan):
            return
        argv = precheck_argv(self.site, self.secrets)
        self.sink.stage("storage precheck", f"{PRECHECK} -p {argv[2]} on the appliance")
        result = run_storage_utility(self.runner, argv)
        self.precheck = result
        if not result.runnable:
            self.sink.finish(False, "not available")
            raise UnsupportedVersion(
                f"the appliance cannot run {PRECHECK} ({result.reason}); nothing was written",
                hint="check the storage with the appliance's own tools, then enable Packages "
                "in the Management Console",
            )
        if not result.passed:
            self.sink.finish(False, result.reason)
            raise PrecheckFailed(
                f"{PRECHECK} refused the storage in the site file: {result.reason}; "
                "nothing was written",
                hint="check [packages] storage, service_url, bucket (or azure_container) and the "
                "storage credentials (GHES_SETUP_S3_ACCESS_KEY/_SECRET_KEY or "
                "GHES_SETUP_AZURE_CONNECTION_STRING)",
            )
        self.sink.finish(True, result.lines[-1] if result.lines else "passed")

    def after_apply(self, outcome: ApplyOutcome) -> None:
        """ghe-check-blob-connection after a run that enabled Packages or changed its storage."""
        if not _enables_storage(outcome.plan):
            return
        run = outcome.run.run_id if outcome.run else "?"
        self.check_storage(
            f"GitHub Packages is applied (run {run})",
            f"(or roll back: ghes-setup config rollback {outcome.snapshot})",
        )

    def check_storage(self, state: str, rollback: str = "") -> None:
        """ghe-check-blob-connection: the storage the appliance has must answer its own tests
        (`StorageCheckFailed` when it does not); `state` says what the settings are."""
        self.sink.stage("blob storage check", f"{BLOB_CHECK} on the appliance")
        result = check_blob_connection(self.runner)
        self.blob_check = result
        if result.passed:
            self.sink.finish(True, result.lines[-1] if result.lines else "passed")
            return
        self.sink.finish(False, result.reason)
        if not result.runnable:
            raise ApplianceResponseError(
                f"{state}, but {BLOB_CHECK} cannot run on the appliance: {result.reason}",
                hint="check the storage from the Management Console",
            )
        raise StorageCheckFailed(
            f"{state}, but {BLOB_CHECK} failed: {result.reason}",
            hint="read ghe-config.log on the appliance; fix the storage, then run "
            f"ghes-setup packages enable again {rollback}".rstrip(),
        )


def lint_secrets(site: Site, secrets: StorageSecrets) -> list[StorageFinding]:
    """The storage lint on the site and the secrets read for it: SiteFileError (exit 3) for
    what GHES refuses, before anything is read or written; the warnings otherwise."""
    if site.packages.enabled is False or site.packages.storage is None:
        return []
    read = storage_backend(site).lint_secret
    value = secrets.get(read.setting) if read is not None else None
    return refuse_bad_storage(site, value.reveal() if value is not None else None)


def _enables_storage(plan: Plan) -> bool:
    return plan.desired.get("packages.enabled") is True and plan.touches(STORAGE_SETTINGS)


def packages_hooks(
    transport: ApplianceTransport,
    site: Site,
    secrets: StorageSecrets,
    *,
    progress: ProgressSink | None = None,
) -> PackagesHooks:
    """Both hooks, bound to `transport` (pass `.before_push` and `.after_apply` to apply_site)."""
    return PackagesHooks(transport, site, secrets, progress=progress)


def precheck_hook(
    transport: ApplianceTransport,
    site: Site,
    secrets: StorageSecrets,
    *,
    progress: ProgressSink | None = None,
) -> BeforePush:
    """`before_push` for apply_site: ghe-packages-precheck when the plan enables Packages or
    changes its storage (PrecheckFailed, exit 3, nothing written)."""
    return PackagesHooks(transport, site, secrets, progress=progress).before_push


def blob_check_hook(
    transport: ApplianceTransport,
    site: Site,
    *,
    progress: ProgressSink | None = None,
) -> AfterApply:
    """`after_apply` for apply_site: ghe-check-blob-connection after such a plan was applied
    (StorageCheckFailed, exit 1)."""
    return PackagesHooks(transport, site, StorageSecrets(), progress=progress).after_apply


class PackagesHookFactory:
    """For `appliance.service.config_apply(..., hooks=...)`, which opens the transport and then
    asks for the hooks. `.hooks` is the last `PackagesHooks` made (what the utilities said)."""

    def __init__(
        self, site: Site, secrets: StorageSecrets, *, progress: ProgressSink | None = None
    ) -> None:
        self.site = site
        self.secrets = secrets
        self.progress = progress
        self.hooks: PackagesHooks | None = None

    def __call__(self, transport: ApplianceTransport) -> ApplyHooks:
        self.hooks = packages_hooks(transport, self.site, self.secrets, progress=self.progress)
        return self.hooks.hooks()


def hook_factory(
    site: Site, secrets: StorageSecrets, *, progress: ProgressSink | None = None
) -> PackagesHookFactory:
    """`config_apply(connect, ..., hooks=hook_factory(site, secrets))`."""
    return PackagesHookFactory(site, secrets, progress=progress)


def packages_wanted(site: Site) -> bool:
    """Whether the site file says anything about Packages (`[packages] enabled` given): a
    pipeline adds `PACKAGES_SCOPE` and the hooks only then."""
    return site.packages.enabled is not None


def packages_described(site: Site) -> bool:
    """Whether the site file describes Packages without managing it: its storage or its
    ecosystems, with `[packages] enabled` unset (left to `packages enable`). `up` then
    compares them read-only instead of writing them."""
    pk = site.packages
    return pk.enabled is None and (pk.storage is not None or bool(pk.ecosystems))


# ---------------------------------------------------------------------------- commands


_DEFAULT_OPTIONS = ApplyOptions()
_DEFAULT_CLOCK = Clock()


@dataclass(frozen=True, slots=True)
class EnableOutcome:
    """What `packages enable` did: the apply, and what the storage utilities said (`registry
    start`'s outcome is one too, with its wait)."""

    apply: ApplyOutcome
    precheck: StorageTest | None = None
    blob_check: StorageTest | None = None


def _enable_site(connect: Connect) -> Site:
    site = connect.site
    if site.packages.enabled is False:
        raise InputError(
            "the site file says [packages] enabled = false; packages enable would turn "
            "GitHub Packages off",
            hint="set [packages] enabled = true (or GHES_SETUP_PACKAGES_ENABLED=true)",
        )
    return site


def enable_packages(
    connect: Connect,
    *,
    options: ApplyOptions = _DEFAULT_OPTIONS,
    secrets: StorageSecrets | None = None,
    environ: Mapping[str, str] | None = None,
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
    clock: Clock = _DEFAULT_CLOCK,
) -> EnableOutcome:
    """Packages with its storage, as the site says: precheck, write, apply, blob check."""
    site = _enable_site(connect)
    secrets = secrets or read_storage_secrets(site, environ)
    desired = desired_packages(site, secrets)  # site/env errors before connecting
    lint_secrets(site, secrets)  # storage GHES refuses: exit 3 before connecting
    with open_appliance(connect, progress) as transport:
        hooks = packages_hooks(transport, site, secrets, progress=progress)
        outcome = apply_site(
            transport,
            site,
            tls_gate=None,  # Packages settings hold no certificate
            options=options,
            confirm=confirm,
            progress=progress,
            clock=clock,
            scope=PACKAGES_SCOPE,
            desired=desired,
            needs=(PACKAGES,),  # 3.0+, and no Cluster topology: refused before any write
            before_push=hooks.before_push,
            after_apply=hooks.after_apply,
        )
        followed = outcome.status is not None and outcome.status.successful
        settled = outcome.plan.empty or followed  # not --no-wait, nor a run still going
        if (
            hooks.blob_check is None
            and settled
            and not outcome.dry_run
            and desired.get("packages.enabled")
        ):
            # Nothing to write (a run again after the storage itself was fixed, or broke), or a
            # run that changed no storage setting: the command still ends with what the
            # storage's own tests say.
            run = outcome.run.run_id if outcome.run else None
            hooks.check_storage(
                f"GitHub Packages is applied (run {run})"
                if followed
                else "GitHub Packages is enabled as the site file says"
            )
    return EnableOutcome(outcome, hooks.precheck, hooks.blob_check)


def plan_packages(
    connect: Connect,
    *,
    secrets: StorageSecrets | None = None,
    environ: Mapping[str, str] | None = None,
    progress: ProgressSink | None = None,
) -> tuple[ApplianceInfo, Plan]:
    """The Packages plan only (read-only): what `packages enable` would change."""
    site = _enable_site(connect)
    secrets = secrets or read_storage_secrets(site, environ)
    desired = desired_packages(site, secrets)
    with open_appliance(connect, progress) as transport:
        require_runner(transport, "GitHub Packages")
        return plan_site(transport, site, progress=progress, scope=PACKAGES_SCOPE, desired=desired)


def packages_status(connect: Connect, *, progress: ProgressSink | None = None) -> Report:
    """The read-only checks `packages-enabled` and `packages-storage`."""
    with open_appliance(connect, progress) as transport:
        return check_packages(transport, connect.site, target=connect.site.hostname)
