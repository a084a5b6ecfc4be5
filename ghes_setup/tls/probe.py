"""Fetch the certificate chain a TLS server presents for one SNI name (the only pyOpenSSL user).

Python 3.11's `ssl` module exposes only the leaf of an unverified peer (and the verified chain
only from 3.13), and `tls-served` must see exactly what the server sends: the leaf, every
intermediate, their order. pyOpenSSL's `get_peer_cert_chain` gives that.

The handshake here is done with verification OFF (`VERIFY_NONE`) on purpose: only to fetch
the chain, including a broken one we want to describe. Verification is then ALWAYS done by
the caller (`check_served`), with `cryptography.x509.verification`, for the exact name, and
its failures are reported. Nothing sent over this connection depends on trusting it: no
request, no credentials, it is closed right after the handshake.

OpenSSL exceptions never leave this module: `fetch_chain` returns a `ProbeFailure` with a
kind (refused, timeout, unreachable, unrecognized-name, handshake, no-certificate) instead.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from OpenSSL import SSL


class FailureKind(Enum):
    RESOLVE = "resolve"  # no address for the name
    REFUSED = "refused"  # TCP connection refused
    TIMEOUT = "timeout"  # TCP connect or handshake timed out
    UNREACHABLE = "unreachable"  # other network errors (no route, ...)
    UNRECOGNIZED_NAME = "unrecognized-name"  # the server rejected the SNI name
    HANDSHAKE = "handshake"  # any other TLS handshake failure
    NO_CERTIFICATE = "no-certificate"  # handshake done, but no certificate (anonymous suites)

    @property
    def network(self) -> bool:
        """No TLS conversation at all: says nothing about the certificate."""
        return self in (
            FailureKind.RESOLVE,
            FailureKind.REFUSED,
            FailureKind.TIMEOUT,
            FailureKind.UNREACHABLE,
        )


@dataclass(frozen=True, slots=True)
class ServedChain:
    """What the server presented for `host` at `address:port`, in the order it sent it."""

    host: str
    address: str
    port: int
    certs: tuple[x509.Certificate, ...]
    protocol: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeFailure:
    host: str
    address: str | None
    port: int
    kind: FailureKind
    message: str


def fetch_chain(host: str, address: str, port: int, timeout: float) -> ServedChain | ProbeFailure:
    """Connect to `address:port`, handshake with SNI `host`, return the presented chain."""
    deadline = time.monotonic() + timeout
    where = f"{address}:{port}" if ":" not in address else f"[{address}]:{port}"
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except ConnectionRefusedError:
        return ProbeFailure(
            host, address, port, FailureKind.REFUSED, f"{where}: connection refused"
        )
    except TimeoutError:
        return ProbeFailure(
            host, address, port, FailureKind.TIMEOUT, f"{where}: no answer within {timeout:g} s"
        )
    except OSError as exc:
        return ProbeFailure(
            host, address, port, FailureKind.UNREACHABLE, f"{where}: {exc.strerror or exc}"
        )
    try:
        return _handshake(sock, host, address, port, deadline, where)
    finally:
        sock.close()


def _handshake(
    sock: socket.socket, host: str, address: str, port: int, deadline: float, where: str
) -> ServedChain | ProbeFailure:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    # Fetch only; see the module docstring: the chain is verified afterwards, always.
    ctx.set_verify(SSL.VERIFY_NONE)
    conn = SSL.Connection(ctx, sock)
    conn.set_tlsext_host_name(host.encode("ascii"))
    conn.set_connect_state()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return ProbeFailure(
                host, address, port, FailureKind.TIMEOUT, f"{where}: TLS handshake timed out"
            )
        try:
            conn.do_handshake()
            break
        except SSL.WantReadError:
            select.select([sock], [], [], remaining)
        except SSL.WantWriteError:
            select.select([], [sock], [], remaining)
        except SSL.SysCallError as exc:
            return ProbeFailure(
                host,
                address,
                port,
                FailureKind.HANDSHAKE,
                f"{where}: the server closed the connection during the TLS handshake ({exc})",
            )
        except SSL.Error as exc:
            return _tls_failure(host, address, port, where, exc)
    chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    protocol = conn.get_protocol_version_name()
    with contextlib.suppress(SSL.Error):  # the server may be gone; we have the chain
        conn.shutdown()
    if not chain:
        return ProbeFailure(
            host, address, port, FailureKind.NO_CERTIFICATE, f"{where}: no certificate presented"
        )
    return ServedChain(host, address, port, tuple(chain), protocol)


def _tls_failure(host: str, address: str, port: int, where: str, exc: SSL.Error) -> ProbeFailure:
    reasons = [str(item[2]) for item in (exc.args[0] if exc.args else []) if len(item) > 2]
    text = "; ".join(reasons) or str(exc) or type(exc).__name__
    if "unrecognized name" in text or "unrecognised name" in text:
        return ProbeFailure(
            host,
            address,
            port,
            FailureKind.UNRECOGNIZED_NAME,
            f"{where}: the server does not serve the name {host} (TLS alert: {text})",
        )
    return ProbeFailure(
        host, address, port, FailureKind.HANDSHAKE, f"{where}: TLS handshake failed ({text})"
    )
