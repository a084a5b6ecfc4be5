"""SshTransport against a port that accepts TCP and never speaks SSH (a hung sshd, a
middlebox): one clear `Unreachable`, never an internal error or paramiko's traceback."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ghes_setup.appliance.ssh import SshTransport
from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions, presented_host_key
from ghes_setup.errors import Unreachable
from tests.imports import packages_loaded_by
from tests.ports import silent_port


def silent_transport(port: int, tmp_path: Path, *, timeout: float) -> SshTransport:
    """An SshTransport to a loopback port that accepts TCP and never speaks SSH."""
    options = SshOptions(
        host="ghe.example.com",
        port=port,
        address="127.0.0.1",
        known_hosts=tmp_path / "known_hosts",
        timeout=timeout,
    )
    return SshTransport(SshConnection(options))


def test_a_port_that_never_answers_is_unreachable_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with silent_port() as port:
        transport = silent_transport(port, tmp_path, timeout=1.0)
        started = time.monotonic()
        with pytest.raises(Unreachable) as info:
            transport.identify(["packages.enabled"])
        assert time.monotonic() - started < 5
        transport.close()
        time.sleep(1.5)  # paramiko's own thread gives up on the banner by now
    # Whichever gives up first, the handshake's wait or paramiko's banner read: one line.
    assert str(info.value).startswith(f"SSH handshake with ghe.example.com:{port} ")
    assert ("did not complete within 1 s" in str(info.value)) or (
        "Error reading SSH protocol banner" in str(info.value)
    )
    assert capfd.readouterr().err == ""  # no traceback from paramiko's thread


def test_inits_host_key_read_says_the_same_of_a_silent_port() -> None:
    with silent_port() as port, pytest.raises(Unreachable) as info:
        presented_host_key("ghe.example.com", port, address="127.0.0.1", timeout=1.0)
    assert str(info.value).startswith(f"SSH handshake with ghe.example.com:{port} ")
    assert "No existing session" not in str(info.value)


def test_a_connection_made_ahead_hands_its_error_to_the_first_exec_once(tmp_path: Path) -> None:
    with silent_port() as port:
        transport = silent_transport(port, tmp_path, timeout=1.0)
        transport.connect_ahead()
        started = time.monotonic()
        with pytest.raises(Unreachable, match=r"SSH handshake with ghe\.example\.com"):
            transport.identify(["packages.enabled"])
        # Waited for the connect under way, not for a second one after it.
        assert time.monotonic() - started < 1.9
        started = time.monotonic()
        with pytest.raises(Unreachable):  # the next call tries anew, not the old error
            transport.identify(["packages.enabled"])
        assert time.monotonic() - started > 0.9
        transport.close()
        time.sleep(1.5)


def test_close_does_not_wait_for_a_connection_made_ahead(tmp_path: Path) -> None:
    with silent_port() as port:
        transport = silent_transport(port, tmp_path, timeout=3.0)
        transport.connect_ahead()
        time.sleep(0.2)  # the handshake is waiting for a banner that never comes
        started = time.monotonic()
        transport.close()
        assert time.monotonic() - started < 0.5
        time.sleep(3.5)  # the connecting thread gives up; nothing is left behind
        assert transport.connection.connections == 0


def test_connect_ahead_loads_paramiko_before_it_returns() -> None:
    # The connecting thread never starts here: only connect_ahead's own import can load it.
    code = (
        "import threading\n"
        "from ghes_setup.appliance.ssh import SshTransport\n"
        "from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions\n"
        "threading.Thread.start = lambda self: None\n"
        "t = SshTransport(SshConnection(SshOptions(host='ghe.example.com', address='127.0.0.1')))\n"
        "assert 'paramiko' not in __import__('sys').modules\n"
        "t.connect_ahead()\n"
    )
    assert packages_loaded_by(code, ["paramiko"]) == ["paramiko"]


class _ChannelBug(SshConnection):
    """Connects at once; opening the spare channel meets an error nobody expected."""

    class _Connected:
        closed = False

        def is_active(self) -> bool:
            return not self.closed

        def close(self) -> None:
            self.closed = True

    def _connect(self) -> Any:
        self.made = self._Connected()
        return self.made

    def _session(self, transport: Any) -> Any:
        raise RuntimeError("unexpected")


def test_a_connection_made_ahead_that_fails_after_the_login_is_the_first_execs_error(
    tmp_path: Path,
) -> None:
    """Whatever ends the connecting thread, the exec waiting for it gets an answer: never a
    wait without end (the thread's connection is closed, not left open)."""
    connection = _ChannelBug(SshOptions(host="ghe.example.com", known_hosts=tmp_path / "kh"))
    connection.connect_ahead()
    answer: list[BaseException] = []

    def first_exec() -> None:
        try:
            connection._connection()
        except BaseException as exc:
            answer.append(exc)

    waiting = threading.Thread(target=first_exec, daemon=True)
    waiting.start()
    waiting.join(5)
    assert not waiting.is_alive(), "the first exec waits for ever"
    assert [type(e) for e in answer] == [RuntimeError] and connection.made.closed
