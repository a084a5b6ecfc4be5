"""Preflight: reach the appliance, identify it, gate by version, refuse a replica.

Runs before anything is read for a plan or written: `transport.identify()` proves the
connection and the credentials (exit 4 otherwise, with the transport's hint), and the answer
decides whether the run may go on:

- a feature the appliance's version lacks -> `UnsupportedVersion` (exit 5) saying what to do
  (the Container registry needs 3.5+, `facts.CONTAINER_REGISTRY_SINCE`; the Manage API needs
  3.12+, which `selector.RoutedTransport.identify` enforces when it chooses transports);
- a feature release newer than the newest ghes-setup is tested against
  (`facts.TESTED_RELEASES`, each with its official API description) -> a warning
  ("untested release"), not a refusal: GHES keeps its documented interfaces across releases,
  but nobody has held this one to its description yet;
- a replica -> `RefusedTarget` (exit 5) for anything that writes: settings are changed on the
  primary and replicate (backup-utils' ghe-host-check refuses replicas the same way); the
  message names the primary when `GET /manage/v1/config/nodes` says which node it is;
- a Cluster topology -> `RefusedTarget` (exit 5) for a feature that does not support it,
  before anything is read for a plan or written: "GitHub Packages on GitHub Enterprise
  Server does not currently support clustering" (docs: "Getting started with GitHub
  Packages for your enterprise"), so `packages enable`, `registry start` and `up` refuse it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ghes_setup import facts
from ghes_setup.appliance.transport import ApplianceInfo, ApplianceTransport
from ghes_setup.errors import RefusedTarget, UnsupportedVersion
from ghes_setup.facts import GhesVersion
from ghes_setup.progress import NullProgress, ProgressSink


@dataclass(frozen=True, slots=True)
class Need:
    """A feature and the first GHES release that has it."""

    what: str
    since: GhesVersion
    remedy: str
    clustering: bool = True  # False: the feature does not run on a Cluster topology


CONTAINER_REGISTRY = Need(
    "the Container registry (containers.HOSTNAME)",
    facts.CONTAINER_REGISTRY_SINCE,
    "upgrade the appliance (upgrading-with-an-upgrade-package.md)",
    clustering=False,  # the Container registry is part of GitHub Packages
)
PACKAGES = Need(
    "GitHub Packages",
    facts.PACKAGES_SINCE,
    "upgrade the appliance (upgrading-with-an-upgrade-package.md)",
    clustering=False,
)
MANAGE_API = Need(
    "the Manage API (/manage/v1)",
    facts.MANAGE_API_SINCE,
    "upgrade the appliance, or use --transport ssh with an SSH key",
)


def check_version(info: ApplianceInfo, needs: Iterable[Need]) -> None:
    for need in needs:
        if not need.clustering and info.topology == facts.CLUSTER_TOPOLOGY:
            raise RefusedTarget(
                f"the appliance is a cluster; {need.what} does not support clustering "
                "(GitHub Packages on GHES does not currently support clustering); nothing was "
                "changed",
                hint="use a standalone or high-availability appliance for GitHub Packages",
            )
        if info.version < need.since:
            raise UnsupportedVersion(
                f"the appliance runs GHES {info.version}; {need.what} needs {need.since} or later",
                hint=need.remedy,
            )


def untested_note(info: ApplianceInfo) -> str | None:
    """ "untested release: ..." for a feature release newer than the newest tested one."""
    if not facts.untested_newer(info.version):
        return None
    return (
        f"untested release: GHES {info.version} is newer than {facts.NEWEST_TESTED}, the newest "
        "release ghes-setup is tested against (its official API description)"
    )


def preflight(
    transport: ApplianceTransport,
    *,
    needs: Iterable[Need] = (),
    writes: bool = True,
    prefetch: Iterable[str] = (),
    progress: ProgressSink | None = None,
) -> ApplianceInfo:
    """Identify the appliance and decide whether this run may go on. Returns what it is.

    `prefetch`: the settings the run reads next (read in the same round trip over SSH)."""
    sink = progress or NullProgress()
    sink.stage("preflight", f"connecting via {transport.name}")
    info = transport.identify(prefetch)
    check_version(info, needs)
    note = untested_note(info)
    if note is not None:
        sink.log(f"WARNING: {note}")
    if writes and info.is_replica:
        primary = f" ({info.primary})" if info.primary else ""
        raise RefusedTarget(
            f"the appliance is a replica ({info.topology}); ghes-setup does not configure replicas",
            hint=f"run it against the primary{primary}: settings replicate to the replica",
        )
    sink.finish(True, f"GHES {info.version} via {info.via}")
    return info
