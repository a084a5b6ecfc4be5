"""A delaying TCP/UDP proxy: simulated network latency for benchmarks.

This machine's kernel has no `netem` (docs/reference/lab-findings.md §7), so latency is added in
user space: every chunk (TCP) or datagram (UDP) is forwarded `delay_s` after it arrived, in
each direction, so one round trip costs 2 x delay_s more. Chunks keep their order and are not
delayed cumulatively (each carries its own due time), so a bulk transfer pays the delay once,
as on a real long link, not once per chunk.

    with DelayProxy(("127.0.0.1", 22), delay_s=0.025, listen=("127.0.0.9", 22)) as p:
        ... connect to p.address ...

`rtt_s` in the constructor is the round-trip figure benchmarks speak in (50 ms -> 25 ms each way).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Literal

Address = tuple[str, int]


class DelayProxy:
    def __init__(
        self,
        target: Address,
        *,
        delay_s: float | None = None,
        rtt_s: float | None = None,
        listen: Address = ("127.0.0.1", 0),
        protocol: Literal["tcp", "udp"] = "tcp",
    ) -> None:
        if (delay_s is None) == (rtt_s is None):
            raise ValueError("give exactly one of delay_s (one way) or rtt_s (round trip)")
        self.delay = delay_s if delay_s is not None else rtt_s / 2  # type: ignore[operator]
        self.target = target
        self.listen = listen
        self.protocol = protocol
        self.address: Address = listen
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._transport: asyncio.DatagramTransport | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> DelayProxy:
        self._thread.start()
        start = self._start_tcp() if self.protocol == "tcp" else self._start_udp()
        asyncio.run_coroutine_threadsafe(start, self._loop).result(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            if self._transport is not None:
                self._transport.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    # ------------------------------------------------------------------ TCP
    async def _start_tcp(self) -> None:
        self._server = await asyncio.start_server(self._handle, *self.listen)
        sock = self._server.sockets[0]
        self.address = sock.getsockname()[:2]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket

                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((time.monotonic() + self.delay, data))
                if not data:
                    break
            await sender
        except (OSError, asyncio.CancelledError):
            sender.cancel()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    # ------------------------------------------------------------------ UDP
    async def _start_udp(self) -> None:
        loop = asyncio.get_running_loop()
        proxy = self

        class Front(asyncio.DatagramProtocol):
            def __init__(self) -> None:
                self.upstreams: dict[Address, asyncio.DatagramTransport] = {}

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport  # type: ignore[assignment]

            def datagram_received(self, data: bytes, client: Address) -> None:
                loop.call_later(proxy.delay, lambda: loop.create_task(self.forward(data, client)))

            async def forward(self, data: bytes, client: Address) -> None:
                up = self.upstreams.get(client)
                if up is None:
                    front = self

                    class Back(asyncio.DatagramProtocol):
                        def datagram_received(self, reply: bytes, _addr: Address) -> None:
                            loop.call_later(
                                proxy.delay, lambda: front.transport.sendto(reply, client)
                            )

                    up, _ = await loop.create_datagram_endpoint(Back, remote_addr=proxy.target)
                    self.upstreams[client] = up
                up.sendto(data)

        transport, _ = await loop.create_datagram_endpoint(Front, local_addr=self.listen)
        self._transport = transport
        self.address = transport.get_extra_info("sockname")[:2]


@contextlib.contextmanager
def delayed(target: Address, rtt_s: float, **kw: object) -> Iterator[Address]:
    """Shorthand: `with delayed(addr, 0.05) as proxied_addr: ...`."""
    with DelayProxy(target, rtt_s=rtt_s, **kw) as proxy:  # type: ignore[arg-type]
        yield proxy.address


def main() -> None:
    """`python -m bench.delayproxy --target H:P --listen H:P --rtt 0.05 [--udp]...`

    Runs proxies in their own process (so that they do not compete for the GIL with the code
    under measurement) until stdin closes or the process is terminated. Repeat the group of
    options separated by `--and` for several proxies. Prints "ready" and the addresses they
    listen on once all listen.
    """
    import argparse
    import signal
    import sys

    groups: list[list[str]] = [[]]
    for arg in sys.argv[1:]:
        if arg == "--and":
            groups.append([])
        else:
            groups[-1].append(arg)
    parser = argparse.ArgumentParser(prog="python -m bench.delayproxy")
    parser.add_argument("--target", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--rtt", type=float, required=True)
    parser.add_argument("--udp", action="store_true")

    def addr(text: str) -> Address:
        host, port = text.rsplit(":", 1)
        return host, int(port)

    with contextlib.ExitStack() as stack:
        bound = []
        for group in groups:
            ns = parser.parse_args(group)
            proxy = stack.enter_context(
                DelayProxy(
                    addr(ns.target),
                    rtt_s=ns.rtt,
                    listen=addr(ns.listen),
                    protocol="udp" if ns.udp else "tcp",
                )
            )
            bound.append(f"{proxy.address[0]}:{proxy.address[1]}")
        print("ready", *bound, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        sys.stdin.read()


if __name__ == "__main__":
    main()
