"""Routing settings between the Manage API and SSH, with fakes for both."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup import facts
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.selector import RoutedTransport, open_transport
from ghes_setup.appliance.transport import SettingsRejected
from ghes_setup.config.site import Connection, Site
from ghes_setup.errors import InputError, SecretMissing, UnsupportedVersion
from ghes_setup.secrets import Secret

API_FIELDS = [s.name for s in facts.SETTINGS if s.api_field]


def pair(version: str = "3.17.2") -> tuple[FakeAppliance, FakeAppliance, RoutedTransport]:
    """Two views of one appliance: the API fake only knows the documented fields."""
    ssh = FakeAppliance(version=version)
    api = FakeAppliance(version=version, supported=API_FIELDS)
    api.store = ssh.store  # the same settings files behind both
    return ssh, api, RoutedTransport(ssh=ssh, api=api, mode="auto")


def test_documented_fields_go_to_the_api_and_packages_keys_to_ssh() -> None:
    ssh, api, routed = pair()
    assert routed.route("subdomain_isolation") is api
    assert routed.route("tls.key") is api
    assert routed.route("packages.enabled") is ssh
    assert routed.route("packages.s3_secret_key") is ssh


def test_api_mode_refuses_what_only_ssh_can_set() -> None:
    api = FakeAppliance(supported=API_FIELDS)
    routed = RoutedTransport(ssh=None, api=api, mode="api")
    with pytest.raises(SettingsRejected, match=r"packages\.enabled") as info:
        routed.write_settings({"packages.enabled": True})
    assert "--transport ssh" in (info.value.hint or "")
    assert not routed.supports("packages.enabled")


def test_a_write_across_both_transports_is_all_or_nothing() -> None:
    ssh, api, routed = pair()
    api._validator = lambda name, text: "nope" if name == "hostname" else None
    with pytest.raises(SettingsRejected, match="nope"):
        routed.write_settings({"packages.enabled": True, "hostname": "new.example.com"})
    assert ssh.value("packages.enabled") is None  # the SSH half was written back
    assert ssh.value("hostname") == "ghe.example.com"


def test_reads_merge_both_transports_in_the_order_asked() -> None:
    ssh, _, routed = pair()
    ssh.store["app.packages.enabled"] = "true"
    got = routed.read_settings(["packages.enabled", "hostname"])
    assert list(got) == ["packages.enabled", "hostname"]
    assert got["packages.enabled"] is True and got["hostname"] == "ghe.example.com"


def test_auto_falls_back_to_ssh_before_the_manage_api_exists() -> None:
    ssh, api, routed = pair(version="3.11.4")
    info = routed.identify()
    assert info.version.feature == (3, 11)
    assert routed.api is None and api.closed
    assert routed.route("subdomain_isolation") is ssh


def test_api_mode_on_an_old_appliance_says_to_use_ssh() -> None:
    api = FakeAppliance(version="3.11.4", supported=API_FIELDS)
    routed = RoutedTransport(ssh=None, api=api, mode="api")
    with pytest.raises(UnsupportedVersion, match=r"3\.12") as info:
        routed.identify()
    assert "--transport ssh" in (info.value.hint or "")


def test_configuration_runs_go_through_the_api_when_it_is_in_use() -> None:
    _, api, routed = pair()
    run = routed.start_apply("run-1")
    assert run.via == "fake" and api.run_order == ["run-1"]


def site(**connection: object) -> Site:
    return Site(hostname="ghe.example.com", connection=Connection(**connection))  # type: ignore[arg-type]


def test_open_transport_needs_a_key_for_ssh_and_a_password_for_the_api(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs an SSH key"):
        open_transport(site(transport="ssh"), resolver=None, password=None, environ={})
    with pytest.raises(SecretMissing, match="admin password") as info:
        open_transport(site(transport="api"), resolver=None, password=None, environ={})
    assert "GHES_SETUP_ADMIN_PASSWORD" in (info.value.hint or "")
    with pytest.raises(InputError, match="neither an SSH key nor the admin password"):
        open_transport(site(), resolver=None, password=None, environ={})


def test_open_transport_auto_uses_what_is_given_and_connects_lazily(tmp_path: Path) -> None:
    only_api = open_transport(site(), resolver=None, password=Secret("pw-1234"), environ={})
    assert (only_api.name, only_api.ssh) == ("api", None)
    both = open_transport(
        site(ssh_identity=tmp_path / "id"),
        resolver=None,
        password=Secret("pw-1234"),
        environ={},
    )
    assert both.name == "ssh+api"
    only_ssh = open_transport(
        site(), resolver=None, password=None, environ={"SSH_AUTH_SOCK": "/tmp/agent"}
    )
    assert only_ssh.name == "ssh"
    for t in (only_api, both, only_ssh):
        t.close()
