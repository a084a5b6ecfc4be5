"""Preflight decides from the topology: writes only to the primary, no Packages on a cluster.

Through the Manage API fake that answers `GET /manage/v1/config/nodes` as the description
says (topology SingleNode | Ha | Cluster, `replica` per node). No sockets.
"""

from __future__ import annotations

import pytest

from ghes_setup.appliance.manage_api import ManageApiTransport
from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession
from ghes_setup.appliance.preflight import CONTAINER_REGISTRY, MANAGE_API, PACKAGES, preflight
from ghes_setup.errors import RefusedTarget
from ghes_setup.exit_codes import ExitCode, for_error
from ghes_setup.secrets import Secret
from tests.appliance.manage_fake import PASSWORD, FakeManageApi, client_for


def api(server: FakeManageApi, host: str) -> ManageApiTransport:
    options = ApiOptions(host=host, retries=0)
    return ManageApiTransport(
        ManageApiSession(options, Secret(PASSWORD), client=client_for(server, options.base_url))
    )


def test_a_write_to_a_replica_is_refused_naming_the_primary() -> None:
    server = FakeManageApi(nodes=("ghe-a", "ghe-b"), replicas=("ghe-b",), topology="Ha")
    with pytest.raises(RefusedTarget, match="replica") as info:
        preflight(api(server, "ghe-b"), writes=True)
    assert "ghe-a" in (info.value.hint or "")
    assert for_error(info.value) == ExitCode.UNSUPPORTED
    assert not any(r.startswith(("PUT", "POST")) for r in server.requests)


def test_reading_a_replica_is_allowed_and_the_primary_takes_writes() -> None:
    server = FakeManageApi(nodes=("ghe-a", "ghe-b"), replicas=("ghe-b",), topology="Ha")
    assert preflight(api(server, "ghe-b"), writes=False).is_replica
    info = preflight(api(server, "ghe-a"), writes=True, needs=(PACKAGES, CONTAINER_REGISTRY))
    assert (info.topology, info.is_replica) == ("Ha", False)


@pytest.mark.parametrize("need", [PACKAGES, CONTAINER_REGISTRY])
def test_packages_and_the_registry_refuse_a_cluster(need: object) -> None:
    server = FakeManageApi(nodes=("data1", "data2"), topology="Cluster")
    with pytest.raises(RefusedTarget, match="does not support clustering") as info:
        preflight(api(server, "data1"), needs=(need,), writes=True)  # type: ignore[arg-type]
    assert for_error(info.value) == ExitCode.UNSUPPORTED
    assert not any(r.startswith(("PUT", "POST")) for r in server.requests)


def test_settings_without_packages_may_go_to_a_cluster() -> None:
    server = FakeManageApi(nodes=("data1", "data2"), topology="Cluster")
    assert preflight(api(server, "data1"), needs=(MANAGE_API,)).topology == "Cluster"


def test_up_refuses_a_cluster_at_preflight_with_exit_5_and_writes_nothing() -> None:
    from ghes_setup.appliance.fake import FakeAppliance
    from ghes_setup.appliance.selector import RoutedTransport
    from ghes_setup.config.site import Site
    from ghes_setup.net import ResolveOverrides, SystemResolver
    from ghes_setup.runbooks.context import PipelineContext
    from ghes_setup.runbooks.up import UpOptions, run_up

    fake = FakeAppliance(topology="Cluster", settings={"subdomain_isolation": False})
    before = dict(fake.store)

    class ClusterContext(PipelineContext):
        def transport(self) -> RoutedTransport:
            return RoutedTransport(ssh=fake, api=None, mode="ssh")

    ctx = ClusterContext(
        site=Site(hostname="ghe.example.com"), resolver=SystemResolver(ResolveOverrides.parse([]))
    )
    result = run_up(ctx, UpOptions(smoke=False))
    assert result.exit_code == 5 and result.stopped_at == "preflight"
    assert result.error is not None and "clustering" in result.error.message
    assert fake.writes == 0 and fake.run_order == [] and fake.store == before
