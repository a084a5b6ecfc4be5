"""`up` against the lab as the oldest and the newest supported release, with every Manage API
and REST exchange of the run held to that release's official description.

The in-process run's HTTP clients all come from two factories (`httpclient.make_client` for the
Manage API and the status/ping probes, `registry.transport.make_registry_http` for the registry
and the REST cleanup of the smoke test); the fixture wraps both so that each client they build
carries the validating event hooks of tests/contract/validate.py. A request the client sends or
an answer it accepts that breaks the description fails the run's test (the hook raises inside
the client, so the tool reports an internal error and the assertions below fail).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliRunner
from tests.contract.validate import install_validation, vendored_versions

pytestmark = pytest.mark.lab

OLDEST, NEWEST = vendored_versions()[0], vendored_versions()[-1]


class Recorder:
    """The exchanges checked by every validated client of one run."""

    def __init__(self) -> None:
        self.per_client: list[list[tuple[str, str, int]]] = []

    def exchanges(self) -> set[tuple[str, str]]:
        return {(method, path) for one in self.per_client for method, path, _status in one}


@pytest.fixture
def validated_clients(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Recorder]:
    """`validated_clients(release)`: from now on every client the tool builds is validated
    against `release`; the recorder lists what was checked."""
    import ghes_setup.appliance.manage_api as manage_api
    import ghes_setup.httpclient as httpclient
    import ghes_setup.registry.check_ping as check_ping
    import ghes_setup.registry.smoke as smoke
    import ghes_setup.registry.transport as registry_transport

    def activate(release: str) -> Recorder:
        recorder = Recorder()

        def wrap(factory: Callable[..., httpx.Client]) -> Callable[..., httpx.Client]:
            def build(*args: Any, **kwargs: Any) -> httpx.Client:
                client = factory(*args, **kwargs)
                recorder.per_client.append(install_validation(client, release))
                return client

            return build

        make_client = wrap(httpclient.make_client)
        make_registry_http = wrap(registry_transport.make_registry_http)
        # The factories where they are defined (a lazy `from ... import` at call time reads
        # these) and every module that imported them by name at load time. The assertions on
        # the recorded exchanges below fail if a client escapes the wrapping.
        for name, factory in (
            ("make_client", make_client),
            ("make_registry_http", make_registry_http),
        ):
            for module in (httpclient, registry_transport, manage_api, check_ping, smoke):
                if hasattr(module, name):
                    monkeypatch.setattr(module, name, factory)
        return recorder

    return activate


@pytest.mark.parametrize("release", [OLDEST, NEWEST])
def test_up_converges_on_the_oldest_and_newest_release_within_the_description(
    release: str,
    lab_as: Callable[[str], LabHandle],
    cli: CliRunner,
    validated_clients: Callable[[str], Recorder],
    tmp_path: Path,
) -> None:
    lab = lab_as(release)
    lab.reset()  # schemathesis may have used this lab; reset is a fresh SingleNode appliance
    recorder = validated_clients(release)
    env = {**lab.env, "XDG_STATE_HOME": str(tmp_path / "state")}

    first = cli("up", "--yes", "--format", "json", env=env)
    assert first.exit_code == 0, first
    statuses = {r["id"]: r["status"] for r in first.json()["results"]}
    assert statuses["registry-smoke"] == "pass", first
    assert statuses["appliance-version"] in ("pass", "warn"), first
    assert lab.settings()["core.subdomain-isolation"] == "true"

    exchanges = recorder.exchanges()
    # The run really went through the documented endpoints it is held to.
    assert ("GET", "/manage/v1/version") in exchanges, sorted(exchanges)
    assert ("GET", "/manage/v1/config/settings") in exchanges, sorted(exchanges)
    assert ("PUT", "/manage/v1/config/settings") in exchanges, sorted(exchanges)
    assert ("POST", "/manage/v1/config/apply") in exchanges, sorted(exchanges)
    assert ("GET", "/manage/v1/config/apply") in exchanges, sorted(exchanges)
    assert any(path == "/api/v3/user" for _m, path in exchanges), sorted(exchanges)
    assert any(
        # the smoke image's cleanup (the lab's smoke namespace is an organisation)
        method == "DELETE" and "/packages/container/" in path and path.startswith("/api/v3/")
        for method, path in exchanges
    ), sorted(exchanges)

    runs = lab.apply_runs()
    second = cli("up", "--yes", "--format", "json", "--no-smoke", env=env)
    assert second.exit_code == 0, second
    assert lab.apply_runs() == runs, "a second up started a configuration run"
