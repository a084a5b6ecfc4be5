"""Routing settings between the Manage API and SSH, with fakes for both."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

from ghes_setup import facts
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.selector import RoutedTransport, open_transport
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    Settings,
    SettingsRejected,
    SettingValue,
    TlsNotTrusted,
)
from ghes_setup.config.site import Connection, Site
from ghes_setup.errors import (
    ApplianceError,
    AuthenticationFailed,
    InputError,
    SecretMissing,
    Unreachable,
    UnsupportedVersion,
)
from ghes_setup.secrets import Secret
from tests.imports import packages_loaded_by

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


def test_a_failed_undo_of_the_ssh_half_keeps_the_api_refusal_as_the_cause() -> None:
    ssh, api, routed = pair()
    api._validator = lambda name, text: "nope" if name == "hostname" else None
    original = ssh.write_settings
    calls: list[int] = []

    def write_once(changes: Mapping[str, SettingValue]) -> None:
        calls.append(1)
        if len(calls) > 1:
            raise Unreachable("SSH connection to ghe.example.com:122 lost")
        original(changes)

    ssh.write_settings = write_once  # type: ignore[method-assign]
    with pytest.raises(ApplianceError) as info:
        routed.write_settings({"packages.enabled": True, "hostname": "new.example.com"})
    assert "nope" in info.value.message  # the API's refusal, the cause
    assert "writing the fake settings back failed too" in info.value.message
    assert ssh.value("packages.enabled") is True  # left written: the caller reads it back


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


def test_auto_says_why_it_took_ssh_when_the_api_predates_3_12() -> None:
    _, _, routed = pair(version="3.11.4")
    info = routed.identify()
    assert info.transport_note is not None and "predates the Manage API" in info.transport_note


def test_auto_falls_back_to_ssh_when_the_api_port_is_closed_and_says_so() -> None:
    _, api, routed = pair()
    api.unreachable = True
    info = routed.identify()
    assert routed.api is None and info.via == "fake"
    assert info.transport_note is not None
    assert "not offered" in info.transport_note and "connection refused" in info.transport_note


def test_auto_stops_on_an_api_certificate_that_does_not_verify() -> None:
    ssh, api, routed = pair()
    api.tls_untrusted = True
    with pytest.raises(TlsNotTrusted, match="stopping instead of falling back") as info:
        routed.identify()
    assert "--ca-file" in (info.value.hint or "") and "--transport ssh" in (info.value.hint or "")
    assert ssh.reads == 0 and routed.api is api  # SSH was not used behind the user's back


def test_auto_stops_on_a_refused_admin_password() -> None:
    _, api, routed = pair()
    api.wrong_password = True
    with pytest.raises(AuthenticationFailed, match="stopping instead of falling back"):
        routed.identify()


def test_an_untrusted_certificate_is_still_exit_4() -> None:
    from ghes_setup.exit_codes import ExitCode, for_error

    assert issubclass(TlsNotTrusted, Unreachable)
    assert for_error(TlsNotTrusted("x")) == ExitCode.UNREACHABLE


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


def test_auto_without_a_password_says_it_uses_ssh_only() -> None:
    ssh = FakeAppliance()
    routed = RoutedTransport(ssh=ssh, api=None, mode="auto", note="using SSH only: no password")
    assert routed.identify().transport_note == "using SSH only: no password"
    only_ssh = open_transport(
        site(), resolver=None, password=None, environ={"SSH_AUTH_SOCK": "/tmp/agent"}
    )
    assert "no admin password" in (only_ssh._note or "")
    only_ssh.close()


def test_plain_http_api_is_refused_unless_allowed_then_noted() -> None:
    with pytest.raises(InputError, match="in clear") as info:
        open_transport(site(api_port=8080), resolver=None, password=Secret("pw-1234"), environ={})
    assert "allow_plain_http" in (info.value.hint or "")
    allowed = open_transport(
        site(api_port=8080, allow_plain_http=True),
        resolver=None,
        password=Secret("pw-1234"),
        environ={},
    )
    assert allowed.api is not None
    assert allowed.api.options.base_url.startswith("http://")  # type: ignore[attr-defined]
    assert "plain HTTP" in (allowed._note or "")
    allowed.close()
    https = site(api_port=8080, api_scheme="https")
    assert https.api_scheme == "https"


# ---------------------------------------------------------------- the SSH read-ahead
class _SshHalf(FakeAppliance):
    """The SSH half: records what identify read ahead, and may hold it until released."""

    def __init__(self, release: threading.Event | None = None) -> None:
        super().__init__()
        self.release = release
        self.asked: list[list[str]] = []
        self.log: list[str] = []

    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        self.asked.append(list(prefetch))
        if self.release is not None:
            assert self.release.wait(10), "the read-ahead was never released"
        self.log.append("identify")
        return super().identify(prefetch)

    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        self.log.append("read")
        return super().read_settings(names)

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        self.log.append("write")
        super().write_settings(changes)

    def forget_prefetch(self) -> None:
        self.log.append("forget")

    def connect_ahead(self) -> None:
        self.connecting_ahead = True

    def close(self) -> None:
        self.closed = True
        super().close()


class _ApiHalf(FakeAppliance):
    """The API half: says when a read follows its identify, and whether SSH was already
    connecting when it was asked who the appliance is."""

    def __init__(self, read: threading.Event | None = None) -> None:
        super().__init__(supported=API_FIELDS)
        self.read = read
        self.ssh: _SshHalf | None = None
        self.ssh_connecting_at_identify: bool | None = None

    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        if self.ssh is not None:
            self.ssh_connecting_at_identify = getattr(self.ssh, "connecting_ahead", False)
        return super().identify(prefetch)

    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        if self.read is not None:
            self.read.set()
        return super().read_settings(names)


PREFETCH = ["subdomain_isolation", "packages.enabled", "packages.s3_secret_key"]
SSH_ONLY = ["packages.enabled", "packages.s3_secret_key"]


def _halves(
    release: threading.Event | None = None, read: threading.Event | None = None
) -> tuple[_SshHalf, _ApiHalf, RoutedTransport]:
    ssh, api = _SshHalf(release), _ApiHalf(read)
    api.store = ssh.store
    api.ssh = ssh
    return ssh, api, RoutedTransport(ssh=ssh, api=api, mode="auto")


def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_ssh_only_settings_are_read_while_the_api_reads_what_follows_identify() -> None:
    api_read = threading.Event()
    ssh, _, routed = _halves(release=api_read, read=api_read)  # SSH waits for an API read
    ssh.store["app.packages.enabled"] = "true"
    routed.identify(PREFETCH)
    routed.read_settings(["subdomain_isolation"])  # one after the other: waits forever
    # Only what the API cannot read goes over SSH; it is the next SSH read's answer.
    assert routed.read_settings(["packages.enabled"])["packages.enabled"] is True
    assert ssh.asked == [SSH_ONLY]
    routed.close()


@pytest.mark.parametrize("refusal", ["tls_untrusted", "wrong_password"])
def test_an_api_that_stops_the_run_leaves_ssh_untouched(refusal: str) -> None:
    ssh, api, routed = _halves()
    setattr(api, refusal, True)
    with pytest.raises((TlsNotTrusted, AuthenticationFailed), match="stopping instead"):
        routed.identify(PREFETCH)
    routed.close()
    # Not even a read: the admin shell takes its lock and replays a journal left behind.
    assert ssh.asked == [] and ssh.log == []


def test_ssh_connects_while_the_api_identifies_when_only_ssh_reads_some_of_the_prefetch() -> None:
    _, api, routed = _halves()
    routed.identify(PREFETCH)
    routed.close()
    assert api.ssh_connecting_at_identify is True


def test_no_ssh_connection_ahead_when_the_api_reads_all_of_the_prefetch() -> None:
    _, api, routed = _halves()
    routed.identify(["subdomain_isolation", "hostname"])
    routed.close()
    assert api.ssh_connecting_at_identify is False


@pytest.mark.parametrize("refusal", ["tls_untrusted", "wrong_password"])
def test_an_api_that_stops_the_run_closes_the_ssh_connection_made_ahead(refusal: str) -> None:
    ssh, api, routed = _halves()
    setattr(api, refusal, True)
    with pytest.raises((TlsNotTrusted, AuthenticationFailed)):
        routed.identify(PREFETCH)
    routed.close()
    assert api.ssh_connecting_at_identify is True and getattr(ssh, "closed", False)
    assert ssh.asked == [] and ssh.log == []


def test_no_read_ahead_on_a_replica() -> None:
    ssh, api, routed = _halves()
    api.is_replica = True
    assert routed.identify(PREFETCH).is_replica
    routed.close()
    assert ssh.asked == []


def test_an_api_not_offered_means_one_ssh_identify_for_everything() -> None:
    ssh, api, routed = _halves()
    api.unreachable = True
    routed.identify(PREFETCH)
    routed.close()
    assert ssh.asked == [PREFETCH]  # every name SSH reads, in one round trip


def test_a_read_of_api_fields_does_not_wait_for_the_read_ahead() -> None:
    release = threading.Event()
    ssh, _, routed = _halves(release=release)
    routed.identify(PREFETCH)
    assert routed.read_settings(["subdomain_isolation"])["subdomain_isolation"] is None
    assert ssh.log == []  # still held: the API read did not wait for it
    release.set()
    assert routed.read_settings(SSH_ONLY)  # an SSH read does
    assert ssh.log[0] == "identify"
    routed.close()


def test_close_leaves_a_read_ahead_in_flight_to_close_ssh_itself() -> None:
    release = threading.Event()
    ssh, api, routed = _halves(release=release)
    routed.identify(PREFETCH)
    closing = threading.Thread(target=routed.close)
    closing.start()
    closing.join(2)  # Ctrl-C or SIGTERM: closing never waits out an SSH connect
    assert not closing.is_alive() and api.closed and not ssh.closed
    release.set()
    assert _eventually(lambda: ssh.closed)  # closed by the read-ahead when it ended


def test_a_write_waits_for_the_read_ahead_to_end() -> None:
    release = threading.Event()
    ssh, _, routed = _halves(release=release)
    routed.identify(PREFETCH)
    writer = threading.Thread(target=routed.write_settings, args=({"packages.enabled": True},))
    writer.start()
    writer.join(0.2)
    assert writer.is_alive() and ssh.log == []  # a late read must not refill the cache after it
    release.set()
    writer.join(10)
    assert ssh.log == ["identify", "write"]
    routed.close()


def test_a_write_across_both_transports_reads_what_it_would_put_back_afresh() -> None:
    ssh, _, routed = _halves()
    routed.identify(PREFETCH)
    routed.write_settings({"packages.enabled": True, "subdomain_isolation": True})
    assert ssh.log == ["identify", "forget", "read", "write"]
    routed.close()


def test_a_failed_read_ahead_is_the_next_ssh_reads_error_without_a_second_try() -> None:
    ssh, _, routed = _halves()
    ssh.unreachable = True
    assert routed.identify(PREFETCH).via == "fake"  # the API answered: reachable
    with pytest.raises(Unreachable, match="connection refused"):
        routed.read_settings(["packages.enabled"])
    assert len(ssh.asked) == 1 and "read" not in ssh.log  # its error, not a second wait
    with pytest.raises(Unreachable):
        routed.read_settings(["packages.enabled"])  # given once: the next read tries again
    assert ssh.log == ["identify", "read"]
    routed.close()


def test_no_read_ahead_when_the_prefetch_is_all_api_fields() -> None:
    ssh, _, routed = _halves()
    routed.identify(["subdomain_isolation", "tls.enabled"])
    routed.close()
    assert ssh.asked == []  # a run that needs no SSH setting opens no SSH connection


def test_the_transports_load_their_protocol_libraries_only_when_they_talk() -> None:
    """SSH's handshakes start the moment identify asks for them: building the transports
    must not first load httpx (the Manage API's) or paramiko (SSH's own, in its thread)."""
    code = (
        "import ghes_setup.appliance.selector, ghes_setup.appliance.ssh\n"
        "import ghes_setup.appliance.manage_api\n"
    )
    assert packages_loaded_by(code, ["httpx", "paramiko"]) == []
