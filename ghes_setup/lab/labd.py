"""labd: the lab's root-owned supervisor process (`python -m ghes_setup.lab.labd --dir DIR`).

It owns what the admin user may not do: the apply engine (which reloads root's nginx and starts
the registry), and the appliance's HTTP back ends behind the front door:

| port (lab address) | service                                                   |
| 8081 | web: /status, HOSTNAME/api/v3, subdomain pages (web.py)             |
| 8082 | Manage API /manage/v1 (manage_api.py)                               |
| 5001 | registry token service (tokens.py)                                  |
| 5002 | registry-503 fault proxy (faultproxy.py)                            |
| DIR/run/labd.sock | control socket for the admin shell and the lab (control.py) |

SIGTERM stops it; a run in progress is then recorded as failed at the next start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from ghes_setup.lab import procs
from ghes_setup.lab.apply import ApplyEngine
from ghes_setup.lab.control import serve_control
from ghes_setup.lab.faultproxy import FaultProxyHandler
from ghes_setup.lab.http_common import LabContext, LabServer, serve
from ghes_setup.lab.layout import daemon_args
from ghes_setup.lab.manage_api import ManageHandler
from ghes_setup.lab.settings import SettingsStore
from ghes_setup.lab.tokens import TokenHandler
from ghes_setup.lab.web import WebHandler


def main(argv: list[str] | None = None) -> int:
    layout, config = daemon_args("labd", __doc__, argv)
    store = SettingsStore(layout)
    engine = ApplyEngine(layout, config, store)
    ctx = LabContext(layout, config, store, engine)
    a, i = config.address, config.internal
    servers = [
        LabServer((a, i.web), WebHandler, ctx),
        LabServer((a, i.manage), ManageHandler, ctx),
        LabServer((a, i.token), TokenHandler, ctx),
        LabServer((a, i.fault_proxy), FaultProxyHandler, ctx),
    ]
    for server, name in zip(servers, ("web", "manage", "token", "faultproxy"), strict=True):
        serve(server, name)
    control = serve_control(ctx)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stderr.write(f"labd {os.getpid()}: serving {config.hostname} on {a}\n")
    sys.stderr.flush()
    while not stop.wait(1.0):
        procs.reap_children()
    # Exit at once: the servers run in daemon threads (shutting each down would cost its
    # 0.5 s poll interval), and a config run cut short is marked failed at the next start.
    control.server_close()
    for server in servers:
        server.server_close()
    with contextlib.suppress(FileNotFoundError):
        layout.control_socket.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
