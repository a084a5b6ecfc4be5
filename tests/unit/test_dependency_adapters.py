"""Private pieces of dependencies are used only through adapters that fail loudly.

typer's vendored click (`typer._click`) and httpx's connection pool (`HTTPTransport._pool`) are
private: a release outside pyproject's range may move them. Then the tool must say which
versions it needs (exit 3, an environment to fix), not crash or quietly degrade.
"""

from __future__ import annotations

import sys

import httpcore
import pytest

from ghes_setup.cli.app import _click_short_help
from ghes_setup.errors import InputError
from ghes_setup.exit_codes import ExitCode, for_error
from ghes_setup.httpclient import PinnedTransport, ssl_context
from ghes_setup.registry import transport as registry_transport


def test_click_short_help_adapter_works_on_the_installed_typer() -> None:
    shorten = _click_short_help()
    assert shorten("First sentence. Second one.", 45) == "First sentence."


def test_click_short_help_adapter_names_the_needed_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "typer._click.utils", None)  # as if typer had moved it
    with pytest.raises(InputError, match=r"typer .* is not supported.*typer>=0\.28,<0\.29") as e:
        _click_short_help()
    assert for_error(e.value) is ExitCode.INPUT
    assert "reinstall" in (e.value.hint or "")


def test_registry_client_reads_through_the_greedy_pool() -> None:
    client = registry_transport.make_registry_http()
    try:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool, httpcore.ConnectionPool)
        assert isinstance(pool._network_backend, registry_transport.GreedyBackend)
    finally:
        client.close()


def test_pool_adapter_names_the_needed_httpx_when_the_pool_is_gone() -> None:
    transport = PinnedTransport(None, verify=ssl_context(None), retries=0)
    del transport._pool  # what an httpx without the private attribute looks like
    with pytest.raises(InputError, match=r"httpx .* is not supported.*httpx>=0\.27,<0\.29"):
        registry_transport._swap_pool(transport, ssl_context(None))


def test_transport_error_names_its_host_through_httpx_public_request_property() -> None:
    """`HTTPError.request` (public) instead of the private `_request` attribute."""
    import httpx

    from ghes_setup.httpclient import describe

    request = httpx.Request("GET", "https://ghe.example.com:8443/manage/v1/version")
    assert describe(httpx.ConnectError("refused", request=request)) == (
        "https://ghe.example.com:8443: refused"
    )
    assert describe(httpx.ConnectError("refused")) == "refused"  # no request attached
