"""`ghes-setup check`: the read-only checks, safe from cron every minute.

One `run_checks` call over every area (the catalogue's `check` rows, checks.catalogue): the DNS
records, the certificate served for every SNI host, /status, the appliance's last configuration
run and subdomain isolation, Packages, the registry's /v2/ and, with `smoke`, a real push and
pull. Checks run concurrently; a check whose area cannot be reached is `error` ("could not
check": Nagios UNKNOWN), never a prompt, never a change to the appliance.
"""

from __future__ import annotations

from typing import Any, Final

from ghes_setup.checks import Report, run_checks
from ghes_setup.checks.catalogue import CheckId, Pipeline, rows
from ghes_setup.checks.catalogue import load as load_check
from ghes_setup.checks.protocol import AdaptedCheck, adapt
from ghes_setup.checks.runner import ResultCallback
from ghes_setup.runbooks.context import PipelineContext

COMMAND: Final = "check"
# How long the check modules wait for the appliance's first answer before they load anyway
# (run_check). On the lab it comes after 0.1-0.2 s; across a WAN a few round trips more.
FIRST_ANSWER_WAIT_S: Final = 0.5

Adapted = tuple[AdaptedCheck[PipelineContext, Any], ...]


def pipeline_checks(
    pipeline: Pipeline, *, area: str | None = None, only: CheckId | None = None
) -> Adapted:
    """The catalogue's checks of `pipeline` (of one `area`, or the one check `only`), each
    against the pipeline's context through its row's `PipelineContext` accessor, in report
    order (`check`, and the steps of `up` and `verify` that run checks)."""
    adapted = []
    for row in rows(pipeline, area=area, only=only):
        if row.via is None:
            raise ValueError(
                f"catalogue row {row.id} ({row.check}) has no PipelineContext accessor"
            )
        get = getattr(PipelineContext, row.via)
        requires = tuple(str(r) for r in row.also_requires)  # plain ids, as the checks give
        adapted.append(adapt(load_check(row), get, requires=requires))
    return tuple(adapted)


def check_table(*, smoke: bool = False) -> Adapted:
    """The checks `check` runs (with `smoke`, the smoke test after them), in report order.
    Built per run, not at import: loading the check modules imports dnspython, pyOpenSSL and
    cryptography, which `run_check` puts after the appliance's first round trips."""
    table = pipeline_checks(Pipeline.CHECK)
    return table + pipeline_checks(Pipeline.CHECK_SMOKE) if smoke else table


def run_check(
    ctx: PipelineContext, *, smoke: bool = False, on_result: ResultCallback | None = None
) -> Report:
    """Run every read-only check (and the smoke test with `smoke`) against the site."""
    try:
        # The appliance's chain (Manage API, SSH, then the storage test) is the longest of the
        # run, and its first steps are CPU work: loading httpx and the system CA roots, the
        # TLS and SSH handshakes. Loading the check modules at the same time slows them down
        # (one interpreter lock), so they load once the Manage API has answered (or after
        # FIRST_ANSWER_WAIT_S), while the chain waits on the appliance's SSH commands: about
        # 50-80 ms less a run on the lab (docs/performance.md).
        ctx.start_appliance(then=lambda: _storage_test_ahead(ctx))
        ctx.await_appliance(FIRST_ANSWER_WAIT_S)
        results = run_checks(check_table(smoke=smoke), ctx, on_result=on_result)
    except BaseException:
        # Ctrl-C or SIGTERM (or a bug): the run ends now, without waiting out a read the
        # early appliance threads may be blocked in.
        ctx.close(wait=False)
        raise
    ctx.close()
    return Report(COMMAND, results, target=ctx.site.hostname)


def _storage_test_ahead(ctx: PipelineContext) -> None:
    """Run the appliance's blob storage test as soon as the run knows that packages-storage
    will run it: when every check it requires passes on the appliance's first answers (the
    settings read ahead). It is the last and longest step of the appliance's chain; waiting
    until the check modules have loaded and the runner reaches packages-storage cost 40-200 ms
    a run on the lab (docs/performance.md). packages-storage takes the memoised answer
    (`PackagesContext.storage_test`)."""
    if _requirements_pass(ctx, CheckId.PACKAGES_STORAGE):
        ctx.packages().storage_test()


def _requirements_pass(ctx: PipelineContext, check_id: CheckId, *, run: bool = False) -> bool:
    """Whether the runner would run `check_id` now: each check it requires, and each of
    theirs, passes (`Status.ok`); with `run`, `check_id` itself too. Loads only those checks'
    modules."""
    (chk,) = pipeline_checks(Pipeline.CHECK, only=check_id)
    if not all(_requirements_pass(ctx, CheckId(r), run=True) for r in chk.requires):
        return False
    return not run or chk.run(ctx).status.ok
