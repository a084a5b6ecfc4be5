"""Entry points for the CLI: one function per `config` command, each owning its connection.

A `Connect` says how to reach the appliance (the site, the resolver, the admin password if
any); each function opens the transport(s) the site's `transport` mode allows
(`selector.open_transport`), does its work (`apply.py`), and closes them, whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ghes_setup.appliance import apply as _apply
from ghes_setup.appliance.plan import CORE_SCOPE, Plan
from ghes_setup.appliance.preflight import Need

# `Connect` is defined by the selector (capture and the runbooks open transports with it too)
# and is this module's to callers, as it always was.
from ghes_setup.appliance.selector import Connect as Connect
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplianceTransport,
    Settings,
    SettingValue,
)
from ghes_setup.progress import ProgressSink

ApplyOptions = _apply.ApplyOptions
ApplyOutcome = _apply.ApplyOutcome
TlsGate = _apply.TlsGate
Confirm = _apply.Confirm
BeforePush = _apply.BeforePush
AfterApply = _apply.AfterApply


@dataclass(frozen=True, slots=True)
class ApplyHooks:
    """The hooks of one apply run (see `apply.apply_site`)."""

    before_push: BeforePush | None = None
    after_apply: AfterApply | None = None


# Hooks often need the open transport (e.g. to run a utility over SSH): the service opens it,
# then asks the factory for the hooks.
HookFactory = Callable[[ApplianceTransport], ApplyHooks]


def open_appliance(connect: Connect, progress: ProgressSink | None = None) -> ApplianceTransport:
    """The transport(s) for `connect` (nothing connects until first use); close it after."""
    return connect.open(progress)


@dataclass(frozen=True, slots=True)
class ShowResult:
    """`config show`: the appliance and its current settings."""

    host: str  # the site's hostname: the name the admin asked about
    info: ApplianceInfo
    settings: Settings


@dataclass(frozen=True, slots=True)
class PlanResult:
    """`config plan`: the appliance and what an apply would change."""

    info: ApplianceInfo
    plan: Plan


def config_show(connect: Connect, *, progress: ProgressSink | None = None) -> ShowResult:
    with open_appliance(connect, progress) as transport:
        info, settings = _apply.show(transport, progress=progress)
    return ShowResult(connect.site.hostname, info, settings)


def config_plan(
    connect: Connect,
    *,
    progress: ProgressSink | None = None,
    scope: Iterable[str] = CORE_SCOPE,
    desired: Mapping[str, SettingValue] | None = None,
) -> PlanResult:
    with open_appliance(connect, progress) as transport:
        info, plan = _apply.plan_site(
            transport, connect.site, progress=progress, scope=scope, desired=desired
        )
    return PlanResult(info, plan)


def config_apply(
    connect: Connect,
    *,
    tls_gate: TlsGate | None,
    options: ApplyOptions,
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
    scope: Iterable[str] = CORE_SCOPE,
    desired: Mapping[str, SettingValue] | None = None,
    hooks: HookFactory | None = None,
    needs: tuple[Need, ...] = (),
) -> ApplyOutcome:
    """`apply.apply_site` on a transport opened for `connect` (and closed afterwards)."""
    with open_appliance(connect, progress) as transport:
        chosen = hooks(transport) if hooks is not None else ApplyHooks()
        return _apply.apply_site(
            transport,
            connect.site,
            tls_gate=tls_gate,
            options=options,
            confirm=confirm,
            progress=progress,
            needs=needs,
            scope=scope,
            desired=desired,
            before_push=chosen.before_push,
            after_apply=chosen.after_apply,
        )


def config_rollback(
    connect: Connect,
    snapshot: Path | None,
    *,
    options: ApplyOptions,
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
) -> ApplyOutcome:
    with open_appliance(connect, progress) as transport:
        return _apply.rollback(
            transport, connect.site, snapshot, options=options, confirm=confirm, progress=progress
        )
