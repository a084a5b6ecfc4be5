"""Choosing the transport per setting: `transport = auto | ssh | api`.

The Manage API covers the documented settings fields (hostname, subdomain isolation,
`github_ssl`); `ghe-config` over SSH covers everything, including what the API lacks
(Packages keys, storage secrets). Which fields exist where is `facts.SETTINGS` (`api_field`),
read through each transport's `supports()`; nothing is repeated here.

- `ssh`: everything over the admin shell (needs an SSH key: --identity or ssh-agent).
- `api`: everything over the Manage API (needs the admin password and GHES 3.12+); settings
  without an API field are refused with a hint.
- `auto`: the API for its fields when the admin password is given and the appliance is 3.12+
  (`facts.MANAGE_API_SINCE`), SSH for the rest. Configuration runs go through the API when it
  is in use (it reports events).

No silent fallback to the riskier path. Over SSH, isolation and TLS go through `ghe-config`
keys no official document confirms, so `auto` falls back to SSH only when the API is NOT
OFFERED: no admin password given, an appliance before 3.12, or nothing listening on the API
port. Then `ApplianceInfo.transport_note` says which path was taken and why (`check` and `up`
show it as a `warn`, `details.transport`). An API that IS offered but presents a certificate
that does not verify (`TlsNotTrusted`) or refuses the password (`AuthenticationFailed`) stops
the run (exit 4) with the fix: a wrong CA or password is a mistake to correct, not a reason to
quietly do everything another way.

The Manage API on 8080 is plain HTTP (docs "Network ports"): the admin password would travel
in clear, so it is refused unless `[connection] allow_plain_http = true`, and then warned.

`RoutedTransport` is itself an `ApplianceTransport`, so plan/apply code never knows how many
connections are behind it. A write that spans both transports stays all-or-nothing: SSH first
(atomic on its own), then the API; if the API refuses, the SSH keys are written back.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Literal

from ghes_setup import facts
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplianceTransport,
    ApplyRun,
    ApplyStatus,
    EventBatch,
    Settings,
    SettingsRejected,
    SettingValue,
    TlsNotTrusted,
    TransportBase,
)
from ghes_setup.config.site import Site
from ghes_setup.errors import (
    ApplianceError,
    AuthenticationFailed,
    GhesSetupError,
    InputError,
    SecretMissing,
    Unreachable,
    UnsupportedVersion,
)
from ghes_setup.net import AddressResolver
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.secrets import Secret

Mode = Literal["auto", "ssh", "api"]


class RoutedTransport(TransportBase):
    """Routes each setting to the API or SSH; one appliance, at most one connection each."""

    def __init__(
        self,
        *,
        ssh: ApplianceTransport | None,
        api: ApplianceTransport | None,
        mode: Mode = "auto",
        progress: ProgressSink | None = None,
        note: str | None = None,
    ) -> None:
        if ssh is None and api is None:
            raise ValueError("RoutedTransport needs at least one transport")
        self.ssh = ssh
        self.api = api
        self.mode = mode
        self._progress = progress or NullProgress()
        self._info: ApplianceInfo | None = None
        # Set by open_transport: why the safe default path is not taken (no password, HTTP).
        self._note: str | None = note
        # Pipelines run checks in threads that share one transport: identify() may drop the
        # API half, and a multi-transport write reads then writes; one call at a time.
        self._lock = threading.RLock()
        # The SSH half of identify's prefetch, read while the Manage API carries on
        # (`_read_ahead`); `_ahead_lock` hands closing SSH to it when close() comes first.
        self._ahead: Future[None] | None = None
        self._ahead_lock = threading.Lock()
        self._closed = False

    @property
    def name(self) -> str:
        return "+".join(t.name for t in (self.ssh, self.api) if t is not None)

    # ------------------------------------------------------------------ routing
    def route(self, setting: str) -> ApplianceTransport:
        if self.api is not None and self.api.supports(setting):
            return self.api
        if self.ssh is not None and self.ssh.supports(setting):
            return self.ssh
        if self.mode == "api":
            hint = "use --transport ssh, or auto with an SSH key (--identity or ssh-agent)"
        else:
            hint = "give an SSH key (--identity or ssh-agent): ghe-config over SSH sets it"
        raise SettingsRejected(f"no transport in use can set {setting}", hint=hint)

    def supports(self, setting: str) -> bool:
        try:
            self.route(setting)
        except SettingsRejected:
            return False
        return True

    def _groups(self, names: Iterable[str]) -> dict[int, tuple[ApplianceTransport, list[str]]]:
        groups: dict[int, tuple[ApplianceTransport, list[str]]] = {}
        for name in names:
            transport = self.route(name)
            groups.setdefault(id(transport), (transport, []))[1].append(name)
        return groups

    def _ssh_only(self, setting: str) -> bool:
        return (
            self.ssh is not None
            and self.ssh.supports(setting)
            and not (self.api is not None and self.api.supports(setting))
        )

    @property
    def _apply_via(self) -> ApplianceTransport:
        transport = self.api or self.ssh
        assert transport is not None
        return transport

    # ------------------------------------------------------------------ protocol
    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        with self._lock:
            return self._identify(prefetch)

    def _identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        if self._info is not None:
            return self._info
        prefetch = list(prefetch)
        info: ApplianceInfo | None = None
        note: str | None = self._note
        if self.api is not None:
            if self.ssh is not None and any(self._ssh_only(n) for n in prefetch):
                # SSH will be needed whatever the API answers (only SSH reads these): its
                # handshakes overlap the API's. Nothing runs over it before the API answers.
                self.ssh.connect_ahead()
            try:
                info = self.api.identify(prefetch)
            except (TlsNotTrusted, AuthenticationFailed) as exc:
                if self.mode == "auto" and self.ssh is not None:
                    # Offered but not trusted: stop, do not quietly switch to SSH.
                    raise type(exc)(
                        f"{exc.message}; stopping instead of falling back to SSH",
                        hint=f"{exc.hint or 'fix the Manage API connection'}; or choose the "
                        "admin shell on purpose with --transport ssh",
                    ) from None
                raise
            except (UnsupportedVersion, Unreachable) as exc:
                if self.mode == "api" or self.ssh is None:
                    raise
                note = f"using SSH only: the Manage API is not offered ({exc.message})"
                self._progress.log(f"WARNING: {note}")
                self._drop_api()
        if info is not None and info.version < facts.MANAGE_API_SINCE:
            if self.mode == "api" or self.ssh is None:
                raise UnsupportedVersion(
                    f"the appliance runs GHES {info.version}; the Manage API needs "
                    f"{facts.MANAGE_API_SINCE} or later",
                    hint="upgrade the appliance, or use --transport ssh with an SSH key",
                )
            note = f"using SSH only: GHES {info.version} predates the Manage API"
            self._progress.log(f"WARNING: {note}")
            self._drop_api()
            info = None
        if info is None:
            assert self.ssh is not None
            info = self.ssh.identify([n for n in prefetch if self.ssh.supports(n)])
        elif self.api is not None and not info.is_replica:
            # The API answered, trusted and authenticated, on a 3.12+ node that is not a
            # replica: only now may SSH be used, for what only SSH reads.
            self._read_ahead([n for n in prefetch if self._ssh_only(n)])
        if note is not None:
            info = dataclasses.replace(info, transport_note=note)
        self._info = info
        return info

    def _read_ahead(self, names: list[str]) -> None:
        """Read the SSH-only prefetch settings (Packages keys, storage secrets) in a thread,
        once the Manage API has identified the appliance: the TCP and SSH handshakes and the
        read overlap the API reads that follow instead of waiting for them. The answer waits
        in the SSH transport's prefetch cache for the next SSH `read_settings`; an error is
        that read's answer (`_settle`): it would have met the same one."""
        ssh = self.ssh
        if ssh is None or self._ahead is not None:
            return
        if not names:
            return
        future: Future[None] = Future()

        def read() -> None:
            error: BaseException | None = None
            try:
                ssh.identify(names)
            except BaseException as exc:  # handed to the next SSH read
                error = exc
            with self._ahead_lock:
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
                closed = self._closed
            if closed:  # close() came first and left the SSH transport to this thread
                ssh.close()

        threading.Thread(target=read, name="ssh-read-ahead", daemon=True).start()
        self._ahead = future

    def _settle(self) -> BaseException | None:
        """Wait for the read-ahead, if any, before anything else uses the SSH transport (a
        write must not race a read that would refill the prefetch cache); its error, once.
        An SSH read raises it rather than try again at once, which would meet it again after
        waiting out the same connect timeout twice. An interrupted wait (Ctrl-C) leaves the
        read-ahead to close()."""
        ahead = self._ahead
        if ahead is None:
            return None
        error = ahead.exception()
        self._ahead = None
        return error

    def _drop_api(self) -> None:
        if self.api is not None:
            self.api.close()
        self.api = None

    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        with self._lock:
            return self._read_settings(names)

    def _read_settings(self, names: Iterable[str] | None = None) -> Settings:
        wanted = list(names) if names is not None else [s.name for s in facts.SETTINGS]
        if names is None:
            wanted = [n for n in wanted if self.supports(n)]
        groups = self._groups(wanted).values()
        if any(transport is self.ssh for transport, _ in groups):
            error = self._settle()  # an API-only read need not wait for it
            if error is not None:
                raise error
        merged: dict[str, SettingValue] = {}
        for transport, group in groups:
            merged.update(transport.read_settings(group))
        return Settings({n: merged[n] for n in wanted})

    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        with self._lock:
            self._write_settings(changes)

    def _write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        self._settle()
        groups = list(self._groups(changes).values())
        if len(groups) <= 1:
            for transport, names in groups:
                transport.write_settings({n: changes[n] for n in names})
            return
        # SSH first: its write is atomic by itself and can be undone; then the API. What
        # it writes back if the API refuses is read now, not taken from a prefetch.
        groups.sort(key=lambda g: g[0] is not self.ssh)
        (first, first_names), (second, second_names) = groups
        first.forget_prefetch()
        before = first.read_settings(first_names)
        first.write_settings({n: changes[n] for n in first_names})
        try:
            second.write_settings({n: changes[n] for n in second_names})
        except GhesSetupError as exc:
            try:
                first.write_settings(dict(before))
            except GhesSetupError as undo:
                # The cause is the second write's refusal; the failed undo leaves the first
                # half written, which the caller finds by reading the values back.
                raise ApplianceError(
                    f"{exc.message}; writing the {first.name} settings back failed too: "
                    f"{undo.message}",
                    hint=exc.hint,
                ) from None
            raise

    def start_apply(self, run_id: str) -> ApplyRun:
        with self._lock:
            return self._start_apply(run_id)

    def _start_apply(self, run_id: str) -> ApplyRun:
        self._settle()
        return self._apply_via.start_apply(run_id)

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        with self._lock:
            return self._apply_status(run_id)

    def _apply_status(self, run_id: str | None = None) -> ApplyStatus:
        return self._apply_via.apply_status(run_id)

    def apply_events(self, since: str | None = None) -> EventBatch:
        with self._lock:
            return self._apply_events(since)

    def _apply_events(self, since: str | None = None) -> EventBatch:
        return self._apply_via.apply_events(since)

    def close(self) -> None:
        with self._lock:
            with self._ahead_lock:
                self._closed = True
                reading = self._ahead is not None and not self._ahead.done()
            # A read-ahead still connecting closes SSH itself when it ends: closing (after
            # Ctrl-C or SIGTERM too) never waits out its connect timeout.
            if self.ssh is not None and not reading:
                self.ssh.close()
            if self.api is not None:
                self.api.close()


def has_ssh_key(site: Site, environ: Mapping[str, str] | None = None) -> bool:
    """An identity file was given, or an agent is there to ask."""
    env = os.environ if environ is None else environ
    return site.connection.ssh_identity is not None or bool(env.get("SSH_AUTH_SOCK"))


@dataclasses.dataclass(frozen=True, slots=True)
class Connect:
    """How to reach the appliance: what `open_transport` needs, in one value."""

    site: Site
    resolver: AddressResolver | None = None
    password: Secret | None = None
    mode: Mode | None = None  # default: the site's [connection] transport
    environ: Mapping[str, str] | None = None  # for SSH_AUTH_SOCK (tests pass their own)

    def open(self, progress: ProgressSink | None = None) -> RoutedTransport:
        """`open_transport` for this connection (nothing connects until first use)."""
        return open_transport(
            self.site,
            resolver=self.resolver,
            password=self.password,
            mode=self.mode,
            environ=self.environ,
            progress=progress,
        )


def open_transport(
    site: Site,
    *,
    resolver: AddressResolver | None,
    password: Secret | None,
    mode: Mode | None = None,
    environ: Mapping[str, str] | None = None,
    progress: ProgressSink | None = None,
) -> RoutedTransport:
    """The transport(s) a run may use, per `mode` (default: the site's `transport`).

    Nothing connects yet: connections open on first use, so a command that only needs the
    API never touches SSH and the other way round.
    """
    mode = mode or site.connection.transport
    ssh_ok = has_ssh_key(site, environ)
    if mode == "ssh" and not ssh_ok:
        raise InputError(
            "--transport ssh needs an SSH key",
            hint="pass --identity FILE (site: [connection] ssh_identity) or start ssh-agent",
        )
    if mode == "api" and password is None:
        raise SecretMissing(
            "--transport api needs the admin password",
            hint="set GHES_SETUP_ADMIN_PASSWORD, or pass --password-file FILE or --password-stdin",
        )
    if mode == "auto" and not ssh_ok and password is None:
        raise InputError(
            f"no way to reach {site.hostname}: neither an SSH key nor the admin password",
            hint="give an SSH key (--identity FILE or ssh-agent) for the admin shell, and/or "
            "the admin password (GHES_SETUP_ADMIN_PASSWORD) for the Manage API",
        )
    ssh = _ssh(site, resolver, progress) if mode in ("ssh", "auto") and ssh_ok else None
    api = None
    note: str | None = None
    if mode in ("api", "auto") and password is not None:
        api = _api(site, resolver, password, progress)
        if site.api_scheme == "http":
            note = (
                f"plain HTTP: the Manage API on port {site.connection.api_port} gets the admin "
                "password in clear"
            )
            (progress or NullProgress()).log(f"WARNING: {note}")
    elif mode == "auto":
        note = "using SSH only: the Manage API is not offered (no admin password given)"
    return RoutedTransport(ssh=ssh, api=api, mode=mode, progress=progress, note=note)


def _ssh(
    site: Site, resolver: AddressResolver | None, progress: ProgressSink | None
) -> ApplianceTransport:
    from ghes_setup.appliance.ssh import SshTransport
    from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions

    c = site.connection
    options = SshOptions(
        host=site.hostname,
        port=c.ssh_port,
        user=c.ssh_user,
        address=c.address,
        identity=c.ssh_identity,
        known_hosts=c.known_hosts,
        host_key=c.host_key,
        accept_new_host_key=c.accept_new_host_key,
        timeout=c.timeout,
    )
    return SshTransport(SshConnection(options, resolver=resolver, progress=progress))


def _api(
    site: Site, resolver: AddressResolver | None, password: Secret, progress: ProgressSink | None
) -> ApplianceTransport:
    from ghes_setup.appliance.manage_api import ManageApiTransport
    from ghes_setup.appliance.manage_session import ApiOptions, ManageApiSession

    c = site.connection
    scheme = site.api_scheme
    if scheme == "http" and not c.allow_plain_http:
        raise InputError(
            f"the Manage API on port {c.api_port} is plain HTTP: the admin password would be "
            "sent in clear",
            hint="use api_port = 8443 (TLS), or set [connection] allow_plain_http = true "
            "(GHES_SETUP_CONNECTION_ALLOW_PLAIN_HTTP=1) on a network path you trust",
        )
    options = ApiOptions(
        host=site.hostname, port=c.api_port, ca_file=c.ca_file, timeout=c.timeout, scheme=scheme
    )
    return ManageApiTransport(
        ManageApiSession(options, password, resolver=resolver, progress=progress)
    )
