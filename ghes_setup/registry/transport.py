"""The registry's HTTP client: `httpclient`'s verified, name-pinned transport, reading greedily.

Why a variant: a proxy that streams without buffering (nginx `proxy_buffering off`, as in
front of a registry) sends a blob in TLS records of a few KiB. Python's TLS socket returns one
record per `recv`, and httpcore/h11 then pay ~0.1 ms of Python per record: a pull tops out
near 50 MB/s, whatever the network. `GreedyBackend` makes each read also take every record
that has already arrived (non-blocking, up to the size httpcore asked for), so h11 sees
64 KiB pieces instead of 4 KiB ones. Nothing else changes: same TLS verification, same
name pinning, same timeouts; a read never waits longer than before.

The pool swap uses `HTTPTransport._pool`, a private attribute of httpx 0.27/0.28 (the range
pyproject declares). `_swap_pool` is the one place that touches it: with an httpx that has no
such pool it stops with one line naming the versions it needs, rather than quietly pulling at
a tenth of the speed or failing inside httpx.
"""

from __future__ import annotations

import ssl
import typing
from pathlib import Path

import httpcore
import httpx

from ghes_setup.httpclient import USER_AGENT, PinnedTransport, ssl_context, trace_hooks
from ghes_setup.net import AddressResolver


class _GreedyStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, timeout)
        sock = self._inner.get_extra_info("socket")
        if not data or len(data) >= max_bytes or not isinstance(sock, ssl.SSLSocket):
            return data
        parts = [data]
        size = len(data)
        try:
            sock.settimeout(0.0)
            while size < max_bytes:
                more = sock.recv(max_bytes - size)
                if not more:
                    break
                parts.append(more)
                size += len(more)
        except (ssl.SSLWantReadError, BlockingIOError):
            pass  # nothing more has arrived: hand over what we have
        except OSError:
            pass  # the next (blocking) read reports it, through httpcore's error mapping
        finally:
            sock.settimeout(timeout)
        return b"".join(parts)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _GreedyStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GreedyBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, with streams that read every record already received."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _GreedyStream(
            self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:  # pragma: no cover - not used for the registry
        return _GreedyStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def make_registry_http(
    *,
    resolver: AddressResolver | None = None,
    ca_file: Path | None = None,
    timeout: float = 30.0,
    env_proxies: bool = True,
) -> httpx.Client:
    """Like `httpclient.make_client`, with the greedy-reading pool for fast blob pulls.
    `env_proxies`: follow HTTPS_PROXY/NO_PROXY like curl (`httpclient.env_proxy`)."""
    context = ssl_context(ca_file)
    transport = PinnedTransport(resolver, env_proxies=env_proxies, verify=context, retries=0)
    _swap_pool(transport, context)
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        event_hooks=trace_hooks(),
    )


def _swap_pool(transport: httpx.HTTPTransport, context: ssl.SSLContext) -> None:
    """Replace httpx's connection pool by one on `GreedyBackend` (httpx's private `_pool`)."""
    current = getattr(transport, "_pool", None)
    if not isinstance(current, httpcore.ConnectionPool):
        from ghes_setup.errors import InputError

        raise InputError(
            f"httpx {httpx.__version__} / httpcore {httpcore.__version__} is not supported: "
            "this ghes-setup needs httpx>=0.27,<0.29 and httpcore 1.x",
            hint="reinstall ghes-setup (pipx install --force ghes-setup) to get its dependencies",
        )
    limits = httpx.Limits()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        retries=0,
        network_backend=GreedyBackend(),
    )
