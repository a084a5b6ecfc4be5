"""`SshConnection`: one SSH connection to the appliance's admin shell (port 122, user admin).

With `appliance.ssh`, the only modules that import paramiko (an import-linter contract says
so). This module dials, trusts, logs in and opens channels; `appliance.ssh` says what runs in
them (its fixed scripts) and reads their answers. Its habits come from backup-utils'
`ghe-ssh` (one entry point, batch mode) and from the lab notes
(docs/reference/lab-findings.md §4):

- ONE connection per run, on a socket we create with TCP_NODELAY (without it every exec pays
  ~45 ms of Nagle + delayed ACK), with connect/banner/auth timeouts and keepalives.
- Host keys are checked by `known_hosts.decide` (known_hosts, a pinned fingerprint, or the
  explicit accept-new opt-in); authentication is public-key only (an identity file, then the
  agent's keys).
- `connect_ahead` makes the connection and opens its first channel in a thread, running
  nothing on the appliance (docs/appliance.md).

paramiko and socket errors become `Unreachable`, `AuthenticationFailed` or `HostKeyNotTrusted`
naming host:port; a connection lost in the middle of an exec is `Dropped`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ghes_setup import facts
from ghes_setup.appliance.known_hosts import HostKey, KnownHosts, Trust, decide
from ghes_setup.errors import AuthenticationFailed, MaterialError, Unreachable
from ghes_setup.net import AddressResolver
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.secrets import scrub
from ghes_setup.trace import event

# paramiko.config imports invoke when it can, only for `Match exec` in ssh_config files, which
# this module never reads (it takes host, port, user and keys from the site file). invoke
# pulls in asyncio, unittest.mock and YAML: ~40 ms of every SSH run's start-up, for nothing.
# A None entry makes that optional import fail the way paramiko expects (ImportError).
if "invoke" not in sys.modules and "paramiko" not in sys.modules:
    sys.modules["invoke"] = None  # type: ignore[assignment]

# paramiko logs a failed handshake with its traceback (logger "paramiko.transport"); with no
# handler anywhere, Python's last-resort handler would print it on standard error, after or
# in the middle of the run's own one-line error. The failure reaches the user as that line.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    # paramiko (with invoke and PyNaCl, ~0.2 s) loads inside the functions that talk SSH:
    # `ghes-setup check` over the Manage API builds an SshTransport but never uses it.
    import paramiko


@dataclass(frozen=True, slots=True)
class SshOptions:
    """How to reach and trust the admin shell."""

    host: str  # the appliance's name (known_hosts, messages)
    port: int = facts.ADMIN_SSH_PORT
    user: str = facts.ADMIN_SSH_USER
    address: str | None = None  # dial this instead of resolving `host`
    identity: Path | None = None
    known_hosts: Path | None = None  # default ~/.ssh/known_hosts
    host_key: str | None = None  # pinned "SHA256:..." fingerprint
    accept_new_host_key: bool = False
    use_agent: bool = True
    timeout: float = 10.0  # connect, banner, auth
    command_timeout: float = 120.0  # one exec, start to finish
    keepalive_s: int = 15

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class Dropped(Exception):
    """The connection went away in the middle of an exec: the caller says what was lost."""


class SshConnection:
    """The admin shell's SSH connection: made on first use (or ahead), remade when it died.
    Thread-safe: channels of one connection run side by side."""

    def __init__(
        self,
        options: SshOptions,
        *,
        resolver: AddressResolver | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        self.options = options
        self._resolver = resolver
        self._progress = progress or NullProgress()
        self._lock = threading.Lock()
        self._transport: paramiko.Transport | None = None
        self._ahead: Future[None] | None = None  # connect_ahead's connection, under way
        self._spare: paramiko.Channel | None = None  # a session opened ahead, for one exec
        self.connections = 0  # how many SSH connections this object opened (for tests)
        self.sessions = 0  # session channels opened
        self.execs = 0

    def connect_ahead(self) -> None:
        """Start the TCP and SSH handshakes, the login and the opening of one session channel
        in a thread. Nothing runs on the appliance (no command: no lock taken, no journal
        replayed, no setting read): the next exec waits for this connection, or raises what
        connecting met, once, and runs on that channel. Not with --accept-new-host-key: the
        key it adds to known_hosts waits for a connection the run uses.

        The channel is opened ahead because OpenSSH answers the first request after the
        login only once its post-login process is ready: about 45 ms on the lab's sshd,
        where later channels open in under a millisecond (docs/appliance.md)."""
        if self.options.accept_new_host_key:
            return
        with self._lock:
            if self._transport is not None or self._ahead is not None:
                return
            future: Future[None] = Future()
            self._ahead = future
        # paramiko loads here, before the caller goes on: loading it is CPU work that
        # anything the caller does meanwhile (the Manage API's httpx and TLS set-up) would slow
        # down under the one interpreter lock, while the handshakes below are mostly waits.
        import paramiko  # noqa: F401

        threading.Thread(
            target=self._connect_into, args=(future,), name="ssh-connect-ahead", daemon=True
        ).start()

    def _connect_into(self, future: Future[None]) -> None:
        try:
            transport = self._connect()
        except BaseException as exc:  # the next exec's answer
            future.set_exception(exc)
            return
        try:
            spare = self._session(transport) if self._ahead is future else None
        except BaseException as exc:  # whatever it is, the exec waiting for us is answered
            transport.close()
            future.set_exception(exc)
            return
        with self._lock:
            keep = self._ahead is future  # close() in between leaves closing it to us
            if keep:
                self._transport = transport
                self._spare = spare
        if not keep:
            transport.close()
        future.set_result(None)

    def _session(self, transport: paramiko.Transport) -> paramiko.Channel | None:
        """A session channel, no command yet; None when the server will not open one now
        (the exec that needs it opens its own and reports what goes wrong)."""
        import paramiko

        try:
            channel = transport.open_session(timeout=self.options.timeout)
        except (paramiko.SSHException, EOFError, OSError):
            return None
        self.sessions += 1
        return channel

    def _connection(self) -> paramiko.Transport:
        ahead = self._ahead
        if ahead is not None:
            try:
                ahead.result()  # never under the lock: close() must not wait for a connect
            finally:
                with self._lock:
                    if self._ahead is ahead:
                        self._ahead = None
        with self._lock:
            if self._transport is None or not self._transport.is_active():
                self._transport = self._connect()
            return self._transport

    def _dial_address(self) -> str:
        o = self.options
        if o.address:
            return o.address
        if self._resolver is not None:
            addresses = self._resolver.addresses(o.host)
            if addresses:
                return addresses[0]
        return o.host

    def _connect(self) -> paramiko.Transport:
        import paramiko

        o = self.options
        address = self._dial_address()
        try:
            sock = socket.create_connection((address, o.port), timeout=o.timeout)
        except TimeoutError:
            raise Unreachable(
                f"cannot connect to {o.where} over SSH: timed out after {o.timeout:g} s",
                hint="check the address, the firewall (TCP 122 must be open) and --resolve",
            ) from None
        except OSError as exc:
            raise Unreachable(
                f"cannot connect to {o.where} over SSH: {exc.strerror or exc}",
                hint="check the address and that the admin SSH port (122) is open",
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = o.timeout
            transport.handshake_timeout = o.timeout
            transport.auth_timeout = o.timeout
            known = KnownHosts.load(o.known_hosts)
            aliases = (address,) if address != o.host else ()
            self._prefer_known_key_types(transport, known, aliases)
            presented = _key_exchange(transport, o.where, o.timeout)
            trust = decide(
                presented,
                host=o.host,
                port=o.port,
                aliases=aliases,
                known_hosts=known,
                pin=o.host_key,
                accept_new=o.accept_new_host_key,
            )
            if trust is Trust.ADDED:  # say so, as OpenSSH does
                self._progress.log(
                    f"Permanently added {presented.type} {presented.fingerprint} for "
                    f"{o.where} to {known.path} (--accept-new-host-key)"
                )
            self._authenticate(transport)
            transport.set_keepalive(o.keepalive_s)
        except BaseException:
            transport.close()
            raise
        self.connections += 1
        return transport

    def _prefer_known_key_types(
        self, transport: paramiko.Transport, known: KnownHosts, aliases: tuple[str, ...]
    ) -> None:
        """Ask for a host key type known_hosts already has, as OpenSSH does, so that a
        server with several keys is not mistaken for a changed one."""
        from ghes_setup.appliance.known_hosts import host_entry

        o = self.options
        if o.host_key is not None:
            return
        names = [host_entry(n, o.port) for n in (o.host, *aliases)]
        types = known.known_types(names)
        if not types:
            return
        wanted: list[str] = []
        for t in types:
            wanted += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if t == "ssh-rsa" else [t]
        options = transport.get_security_options()
        available = list(options.key_types)
        first = [t for t in wanted if t in available]
        options.key_types = [*first, *(t for t in available if t not in first)]

    def _authenticate(self, transport: paramiko.Transport) -> None:
        import paramiko

        o = self.options
        keys: list[paramiko.PKey] = []
        if o.identity is not None:
            keys.append(_load_identity(o.identity))
        agent: paramiko.Agent | None = None
        if o.use_agent and os.environ.get("SSH_AUTH_SOCK"):
            try:
                agent = paramiko.Agent()
                keys.extend(agent.get_keys())
            except paramiko.SSHException:
                agent = None
        try:
            if not keys:
                raise AuthenticationFailed(
                    f"no SSH key to log in to {o.user}@{o.where}",
                    hint="pass --identity FILE (site: [connection] ssh_identity) or load a key "
                    "into ssh-agent",
                )
            for key in keys:
                try:
                    transport.auth_publickey(o.user, key)
                except paramiko.AuthenticationException:
                    continue
                except (paramiko.SSHException, EOFError, OSError) as exc:
                    raise Unreachable(
                        f"SSH authentication with {o.where} broke off: {error_line(exc)}",
                        hint="check the network and retry",
                    ) from None
                if transport.is_authenticated():
                    return
            raise AuthenticationFailed(
                f"{o.user}@{o.where} refused the SSH key(s) "
                f"({', '.join(_key_label(k) for k in keys)})",
                hint="add the public key in the Management Console (SSH access) or with "
                "POST /manage/v1/access/ssh, or pass the right --identity FILE",
            )
        finally:
            if agent is not None:
                agent.close()

    def close(self) -> None:
        with self._lock:
            self._ahead = None  # a connect still under way closes its connection itself
            self._spare = None  # closed with its connection
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    # ------------------------------------------------------------------ execs
    def open(self, command: str, name: str) -> paramiko.Channel:
        """A session channel running `command` (`name` is what the debug trace says of it:
        never the command, whose arguments may carry values). Raises `Dropped`."""
        import paramiko

        transport = self._connection()
        with self._lock:
            spare, self._spare = self._spare, None
        try:
            if spare is not None and spare.get_transport() is transport and not spare.closed:
                channel = spare
            else:
                channel = transport.open_session(timeout=self.options.timeout)
                self.sessions += 1
            channel.settimeout(self.options.command_timeout)
            event("ssh", f"> {self.options.where}: exec script {name}")
            channel.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            event("ssh", f"! {self.options.where}: {error_line(exc)}")
            raise Dropped(error_line(exc)) from None
        self.execs += 1
        return channel

    def run(self, command: str, name: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        """One exec: send `stdin`, close it, read everything. Raises `Dropped`."""
        import paramiko

        channel = self.open(command, name)
        try:
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out = _read_all(channel, stderr=False)
            err = _read_all(channel, stderr=True)
            rc = channel.recv_exit_status()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise Dropped(error_line(exc)) from None
        finally:
            channel.close()
        if rc == -1:
            raise Dropped("the channel closed without an exit status")
        event("ssh", f"< {self.options.where}: exit {rc} ({len(out)} bytes out)")
        return rc, out, err


# ---------------------------------------------------------------------------- helpers


def presented_host_key(
    host: str,
    port: int,
    *,
    address: str | None = None,
    resolver: AddressResolver | None = None,
    timeout: float = 10.0,
) -> HostKey:
    """The host key the appliance's SSH server presents, read in the key exchange without
    authenticating or trusting it: `init --from-appliance` shows its fingerprint and asks
    before pinning it (as OpenSSH asks on first contact). Nothing is sent but the handshake."""
    import paramiko

    dial = address or next(iter(resolver.addresses(host) if resolver else ()), host)
    where = f"{host}:{port}"
    event("ssh", f"> {where}: key exchange only (host key)")
    try:
        sock = socket.create_connection((dial, port), timeout=timeout)
    except OSError as exc:
        raise Unreachable(
            f"cannot connect to {where} over SSH: {exc.strerror or exc}",
            hint="check the address and that the admin SSH port (122) is open",
        ) from None
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        return _key_exchange(transport, where, timeout)
    finally:
        transport.close()


def _key_exchange(transport: paramiko.Transport, where: str, timeout: float) -> HostKey:
    """Run the key exchange; the host key the server presented (not trusted yet)."""
    import paramiko

    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise Unreachable(
            f"SSH handshake with {where} failed: {error_line(exc)}",
            hint="is this the admin SSH port? GHES answers on 122 (port 22 is Git)",
        ) from None
    try:
        key = transport.get_remote_server_key()
    except paramiko.SSHException:
        # start_client returns when its timeout passes, finished or not: a port that accepts
        # the connection and never answers (a hung sshd, a middlebox).
        raise Unreachable(
            f"SSH handshake with {where} did not complete within {timeout:g} s",
            hint=f"is an SSH server answering on {where}? (GHES: the admin shell, port 122)",
        ) from None
    return HostKey(key.get_name(), key.asbytes())


def _read_all(channel: paramiko.Channel, *, stderr: bool) -> bytes:
    chunks: list[bytes] = []
    recv = channel.recv_stderr if stderr else channel.recv
    while True:
        data = recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _load_identity(path: Path) -> paramiko.PKey:
    import paramiko

    path = path.expanduser()
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise MaterialError(
            f"SSH identity {path} does not exist", hint="check --identity / ssh_identity"
        ) from None
    except paramiko.PasswordRequiredException:
        raise _passphrase_error(path) from None
    except TypeError as exc:
        # PKey.from_path hands the file to cryptography, which says "Key is
        # password-protected, but password was not provided" as a TypeError.
        if "password" not in str(exc).lower():
            raise
        raise _passphrase_error(path) from None
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise MaterialError(
            f"cannot read SSH identity {path}: {error_line(exc)}",
            hint="give an OpenSSH private key file (ed25519, ECDSA or RSA)",
        ) from None


def _passphrase_error(path: Path) -> MaterialError:
    return MaterialError(
        f"SSH identity {path} is protected by a passphrase",
        hint=f"load it into ssh-agent (ssh-add {path}) and run again without --identity, "
        "or give a key without a passphrase",
    )


def _key_label(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def error_line(exc: BaseException) -> str:
    """Why a paramiko or socket call failed, in one line fit for a message (scrubbed)."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return scrub(text.splitlines()[0] if text else type(exc).__name__)
