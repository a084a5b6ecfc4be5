"""The wider context pipelines run checks against: each area's context, built lazily, once.

`ghes-setup check`, `up` and `verify` run checks of every area in one `run_checks` call (see
`checks.adapt`). Each area's context is built on first use by whichever check needs it first,
under a lock, and remembered — including the error, so that every check of an area whose
context cannot be built reports the same reason (as `error`), and nothing is tried twice.

The appliance transport (one SSH connection, one HTTP client) is shared by the appliance and
Packages checks; `close()` releases it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, TypeVar

from ghes_setup.config.site import Site
from ghes_setup.errors import GhesSetupError, SecretMissing
from ghes_setup.net import AddressResolver
from ghes_setup.secrets import Secret

# Each area is imported by the method that builds its context, when a check first needs it:
# `check` starts the appliance's long chain (API, SSH, the storage test) before the other
# areas' modules (dnspython, pyOpenSSL, cryptography) are even imported.
if TYPE_CHECKING:
    from ghes_setup.appliance.check_status_endpoint import StatusEndpointContext
    from ghes_setup.appliance.context import ApplianceContext
    from ghes_setup.appliance.selector import Mode, RoutedTransport
    from ghes_setup.dns.context import DnsContext
    from ghes_setup.packages.context import PackagesContext
    from ghes_setup.registry.check_ping import PingRequest
    from ghes_setup.registry.smoke import SmokeRequest
    from ghes_setup.tls.check_served import TlsProbeContext

T = TypeVar("T")


@dataclass
class PipelineContext:
    """Everything a pipeline's checks may need, built on first use."""

    site: Site
    resolver: AddressResolver
    password: Secret | None = None
    token: Secret | None = None
    mode: Mode | None = None
    environ: Mapping[str, str] | None = None
    timeout: float = 10.0
    # The run's --nameserver and --resolve flags: the DNS checks ask those servers and take a
    # pin for HOSTNAME as its expected addresses, as `dns check` does (`resolver` has them too).
    nameservers: tuple[str, ...] = ()
    resolve: tuple[str, ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _transport: RoutedTransport | None = field(default=None, repr=False)
    _early: threading.Thread | None = field(default=None, repr=False)
    _then: threading.Thread | None = field(default=None, repr=False)

    def _once(self, key: str, build: Callable[[], T]) -> T:
        # One lock per area: building one context (which may build another: the appliance's
        # needs the transport) never waits for an unrelated one.
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._built:
                try:
                    self._built[key] = build()
                except GhesSetupError as exc:
                    self._built[key] = exc
            value = self._built[key]
        if isinstance(value, GhesSetupError):
            raise value
        return value  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ areas
    def dns(self) -> DnsContext:
        from ghes_setup.dns.service import prepare, request_for_site

        return self._once(
            "dns",
            lambda: prepare(
                request_for_site(self.site, nameservers=self.nameservers, resolve=self.resolve)
            ),
        )

    def tls_served(self) -> TlsProbeContext:
        from ghes_setup.tls.service import TlsProbeRequest, file_origins, probe_context

        def build() -> TlsProbeContext:
            return probe_context(
                TlsProbeRequest(
                    hostname=self.site.hostname,
                    resolver=self.resolver,
                    port=self.site.connection.https_port,
                    ca_file=self.site.connection.ca_file,
                    subdomains=self.site.subdomain_isolation,
                    ghes_version=self.site.ghes_version,
                    warn_days=self.site.tls.warn_days,
                    crit_days=self.site.tls.crit_days,
                    timeout=min(self.timeout, 10.0),
                    ca_origin=file_origins(
                        self.site, {"ca_file": ("connection.ca_file", "--ca-file")}
                    )["ca_file"],
                )
            )

        return self._once("tls", build)

    def status_endpoint(self) -> StatusEndpointContext:
        from ghes_setup.appliance.check_status_endpoint import StatusEndpointContext

        return StatusEndpointContext(
            hostname=self.site.hostname,
            resolver=self.resolver,
            ca_file=self.site.connection.ca_file,
            https_port=self.site.connection.https_port,
            timeout=self.timeout,
        )

    def transport(self) -> RoutedTransport:
        """The run's one appliance transport (thread-safe: calls are serialised inside)."""

        from ghes_setup.appliance.selector import Connect

        def build() -> RoutedTransport:
            connect = Connect(self.site, self.resolver, self.password, self.mode, self.environ)
            self._transport = connect.open()
            return self._transport

        return self._once("transport", build)

    def appliance(self) -> ApplianceContext:
        from ghes_setup.appliance import checkpoint as checkpoints
        from ghes_setup.appliance.context import CHECKED_SETTINGS, ApplianceContext
        from ghes_setup.packages.desired import PACKAGES_SCOPE

        # One read for the appliance and the Packages checks (one SSH exec with identify).
        prefetch = (*CHECKED_SETTINGS, *PACKAGES_SCOPE)
        return self._once(
            "appliance",
            lambda: ApplianceContext(
                self.transport(),
                prefetch,
                appliance=checkpoints.appliance_of(self.site),
                state_dir=checkpoints.default_dir(),
                site=self.site,
            ),
        )

    def packages(self) -> PackagesContext:
        from ghes_setup.packages.context import PackagesContext

        return self._once("packages", lambda: PackagesContext(self.transport(), self.site))

    def registry_ping(self) -> PingRequest:
        from ghes_setup.registry.check_ping import PingRequest

        def maintenance() -> bool | None:
            # Only asked when /v2/ answers 503: read the appliance's maintenance state.
            from ghes_setup.appliance.maintenance import in_maintenance

            try:
                return in_maintenance(self.transport())
            except GhesSetupError:
                return None

        return PingRequest.for_site(self.site, self.resolver, self.timeout, maintenance=maintenance)

    def smoke(self) -> SmokeRequest:
        from ghes_setup.registry.smoke import SmokeRequest

        def build() -> SmokeRequest:
            if self.token is None:
                raise SecretMissing(
                    "the smoke test needs a PAT (classic) with write:packages",
                    hint="set GHES_SETUP_TOKEN (or GHES_SETUP_TOKEN_FILE)",
                )
            return SmokeRequest.for_site(self.site, self.token, self.resolver)

        return self._once("smoke", build)

    def start_appliance(self, then: Callable[[], object] | None = None) -> None:
        """Identify the appliance in a thread from now on (the Manage API, then over SSH the
        Packages settings, `RoutedTransport._read_ahead`): the longest chain of a `check` run
        starts while the rest of the run is still importing. The appliance and Packages checks
        take its memoised answer, or meet and report its error. Once the appliance has
        answered, `then` runs in a thread of its own (the run's next step on the appliance;
        its errors are dropped too); `close` waits for it."""
        if self._early is not None:
            return

        def identify() -> None:
            # Nothing is lost: a check that needs the answer asks again and gets the error.
            with contextlib.suppress(Exception):
                self.appliance().info()
                if then is not None:
                    follow = threading.Thread(
                        target=_quietly, args=(then,), name="appliance-then", daemon=True
                    )
                    follow.start()
                    self._then = follow

        early = threading.Thread(target=identify, name="appliance-early", daemon=True)
        early.start()
        self._early = early

    def await_appliance(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for `start_appliance`'s first answer (or its error);
        True when it came. Without `start_appliance`, at once."""
        if self._early is None:
            return True
        self._early.join(timeout)
        return not self._early.is_alive()

    def close(self, *, wait: bool = True) -> None:
        """Close the connections; first wait for `start_appliance`'s threads, unless the run
        is being stopped (`wait=False`: they are daemon threads, and whatever they still
        open ends with the process)."""
        if wait and self._early is not None:
            self._early.join()  # its transport must not open after this close
        if wait and self._then is not None:
            self._then.join()  # nor be used after it
        busy = any(t is not None and t.is_alive() for t in (self._early, self._then))
        if self._transport is not None and not busy:
            # (A thread still busy holds the transport's lock: its sockets end with the process.)
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly(step: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        step()
