"""`registry start`: get the Container registry answering at containers.HOSTNAME.

The Container registry needs GitHub Packages with blob storage, the container ecosystem not
disabled, and subdomain isolation on (container-registry-ghes-beta.md;
docs/reference/ghes-facts.md §5.1), on GHES 3.5+ (`preflight.CONTAINER_REGISTRY`, exit 5 otherwise).
This runbook is ONE `apply_site` run over exactly that scope:

    subdomain_isolation (+ tls.enabled/cert/key when the site gives a certificate: isolation
    needs one covering *.HOSTNAME) + PACKAGES_SCOPE (container ecosystem: the site's state,
    "enabled" when the site does not say)

with the Packages hooks (storage precheck before the push, blob storage check after the
apply), then it waits until `https://containers.HOSTNAME/v2/` answers with a Bearer challenge
(or 200), showing progress, up to the timeout. Timing out is `RegistryNotAnswering` (exit 1),
naming what /v2/ last answered. Nothing to change is fine: no apply starts, it only waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ghes_setup.appliance.apply import ApplyOptions, Clock, Confirm, TlsGate
from ghes_setup.appliance.apply import apply_site as _apply_site
from ghes_setup.appliance.plan import TLS_MATERIAL
from ghes_setup.appliance.preflight import CONTAINER_REGISTRY
from ghes_setup.appliance.service import Connect, open_appliance
from ghes_setup.appliance.transport import Settings
from ghes_setup.config.site import Site
from ghes_setup.errors import InputError
from ghes_setup.packages.desired import (
    CONTAINER,
    CONTAINER_SETTING,
    PACKAGES_SCOPE,
    StorageSecrets,
    desired_packages,
    read_storage_secrets,
)
from ghes_setup.packages.service import EnableOutcome, packages_hooks
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.registry.check_ping import HttpFactory, PingRequest
from ghes_setup.registry.errors import RegistryError
from ghes_setup.registry.status import WaitResult, wait_for_registry

# The core settings the registry depends on (never the hostname: that is not ours to change).
REGISTRY_CORE_SCOPE: Final = ("subdomain_isolation", "tls.enabled", *sorted(TLS_MATERIAL))
REGISTRY_SCOPE: Final = REGISTRY_CORE_SCOPE + PACKAGES_SCOPE
DEFAULT_WAIT_S: Final = 600.0


class RegistryNotAnswering(RegistryError):
    """/v2/ did not answer as a registry within the timeout (exit 1)."""


@dataclass(frozen=True, slots=True)
class StartOptions:
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    wait_s: float = DEFAULT_WAIT_S
    poll_s: float = 1.0


_DEFAULT_START = StartOptions()
_DEFAULT_CLOCK = Clock()


@dataclass(frozen=True, slots=True)
class StartOutcome(EnableOutcome):
    """What `registry start` did: an apply with the Packages hooks, as `packages enable` (the
    apply, maybe nothing, and the storage tests), then the wait."""

    wait: WaitResult | None = None  # None on --dry-run


def registry_site_check(site: Site) -> None:
    """Refuse a site file that asks for something the registry cannot work with (exit 3)."""
    if not site.subdomain_isolation:
        raise InputError(
            "the site file turns subdomain isolation off; the Container registry "
            "(containers.HOSTNAME) exists only with isolation on",
            hint="set subdomain_isolation = true in the site file",
        )
    if site.packages.enabled is False:
        raise InputError(
            "the site file turns GitHub Packages off ([packages] enabled = false); the "
            "Container registry is part of GitHub Packages",
            hint="set [packages] enabled = true with its storage",
        )
    if site.packages.ecosystems.get(CONTAINER) == "disabled":
        raise InputError(
            "the site file disables the container ecosystem ([packages] ecosystems)",
            hint='set ecosystems = { container = "enabled" } (or "read-only")',
        )


def registry_desired(site: Site, secrets: StorageSecrets) -> Settings:
    """The Packages settings for the registry: the site's, container enabled unless it says."""
    desired = desired_packages(site, secrets)
    if CONTAINER_SETTING in desired:
        return desired
    return desired.merged({CONTAINER_SETTING: "enabled"})


def ping_request(site: Site, connect: Connect, http_factory: HttpFactory | None) -> PingRequest:
    return PingRequest.for_site(site, connect.resolver, site.connection.timeout, http_factory)


def start_registry(
    connect: Connect,
    *,
    tls_gate: TlsGate | None,
    options: StartOptions = _DEFAULT_START,
    secrets: StorageSecrets | None = None,
    environ: Mapping[str, str] | None = None,
    confirm: Confirm | None = None,
    progress: ProgressSink | None = None,
    clock: Clock = _DEFAULT_CLOCK,
    http_factory: HttpFactory | None = None,
) -> StartOutcome:
    """Packages + container ecosystem + isolation (+ certificate) applied, then /v2/ answers."""
    site = connect.site
    sink = progress or NullProgress()
    registry_site_check(site)
    secrets = secrets or read_storage_secrets(site, environ)
    desired = registry_desired(site, secrets)  # site and env errors before connecting
    with open_appliance(connect, progress) as transport:
        hooks = packages_hooks(transport, site, secrets, progress=progress)
        outcome = _apply_site(
            transport,
            site,
            tls_gate=tls_gate,
            options=options.apply,
            confirm=confirm,
            progress=progress,
            clock=clock,
            needs=(CONTAINER_REGISTRY,),
            scope=REGISTRY_SCOPE,
            desired=desired,
            before_push=hooks.before_push,
            after_apply=hooks.after_apply,
        )
    if outcome.dry_run:
        return StartOutcome(outcome, hooks.precheck, hooks.blob_check)
    request = ping_request(site, connect, http_factory)
    sink.stage("registry", f"waiting for {request.url} to answer with a Bearer challenge")
    # Nothing ran: what /v2/ answers now is the answer (one probe, not the full timeout).
    waited = wait_for_registry(
        request,
        timeout_s=options.wait_s if outcome.run is not None else 0.0,
        poll_s=options.poll_s,
        progress=sink,
        now=clock.now,
        sleep=clock.sleep,
    )
    if not waited.ok:
        sink.finish(False, waited.answer.short())
        hint = waited.result.remedy or "see ghes-setup registry status"
        if outcome.run is None:
            hint += (
                "; nothing needed changing and nothing was pending by the records ghes-setup "
                "can read, so no configuration run started: if settings were written elsewhere "
                "and never applied, run ghe-config-apply on the appliance"
            )
        raise RegistryNotAnswering(
            f"{request.url} did not answer as a registry"
            + (f" within {options.wait_s:g} s" if outcome.run is not None else "")
            + "; "
            f"it last answered: {waited.result.summary}",
            hint=hint,
        )
    sink.finish(True, f"{waited.result.summary} after {waited.waited_s:.1f} s")
    return StartOutcome(outcome, hooks.precheck, hooks.blob_check, waited)
