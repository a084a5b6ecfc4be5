"""Loopback ports for the private test servers (dnsmasq, nginx), chosen so they cannot collide.

A port the kernel handed out with `bind(0)` comes from `ip_local_port_range` (32768-60999 on
Debian), the same pool every outgoing UDP query draws its source port from: a resolver's socket
autobinds to `0.0.0.0:P`, and a server started a moment later on `127.53.x.y:P` then fails with
"Address already in use" (CI saw exactly this with dnsmasq). So ports are drawn at random below
that range, where the kernel never allocates, checked free for TCP and UDP, and a server that
still loses the race is restarted on a fresh port by its owner (`START_ATTEMPTS`).
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

# Below Linux's default ephemeral range (32768-60999) and above the registered-service ports
# this machine runs (sshd, nginx, dnsmasq, docker-registry all sit below 10000).
PORT_RANGE = (20000, 32767)
START_ATTEMPTS = 5
IN_USE = "Address already in use"

_pick = random.SystemRandom()


def port_free(address: str, port: int, *, udp: bool) -> bool:
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def free_port(address: str, *, udp: bool = False) -> int:
    """A port free on `address` now (TCP; UDP too with `udp`), outside the ephemeral range."""
    low, high = PORT_RANGE
    for _ in range(200):
        port = _pick.randint(low, high)
        if port_free(address, port, udp=udp):
            return port
    raise RuntimeError(f"no free port on {address} in {low}-{high}")


@contextmanager
def silent_port(address: str = "127.0.0.1") -> Iterator[int]:
    """A TCP port on `address` that accepts connections and never says a word (a hung sshd,
    a middlebox that swallows the handshake); its number, for as long as the block runs."""
    listener = socket.create_server((address, 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with suppress(OSError):  # the listener closed: the block is over
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in held:
            conn.close()
