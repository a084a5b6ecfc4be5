"""The lab's S3 server: moto's S3 server (`moto_server`, PyPI `moto[server]`) with the lab's
account in it (`python -m ghes_setup.lab.s3server --dir DIR`).

This is moto's own WSGI application (`DomainDispatcherApplication(create_backend_app)`, what
the `moto_server` command runs) served by werkzeug on the lab's address, started by `lab up`
like the lab's other daemons (PID in DIR/run/s3.pid). Before it serves, it puts into moto, in
this process, what a real S3 account would already hold:

- an IAM user `ghes-packages` with the lab's access key and secret key (lab.json; `lab env`
  prints them) and a policy allowing `s3:*`;
- the lab's bucket;
- IAM authentication switched on from the first request (moto's INITIAL_NO_AUTH_ACTION_COUNT
  = 0), so moto checks the access key and the SigV4 signature of every request and answers
  with S3's own errors (`InvalidAccessKeyId`, `SignatureDoesNotMatch`, `NoSuchBucket`).

The keys are the lab's, not moto's random ones, so a restarted server accepts the same keys.

The lab steers it through DIR/storage/s3-control.json, re-read on SIGHUP (the storage faults
and `lab reset`): `listening` false closes the listening socket (clients get connection
refused, the objects stay in memory), `revoked` true removes the lab's access key from IAM
(moto then answers `InvalidAccessKeyId`), a new `reset` number empties moto and seeds it again.
After each reload it writes the control file's `generation` to DIR/run/s3.ack.

moto keeps objects in memory: they are gone when this process stops (`lab down`, a crash).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ghes_setup.lab.layout import Layout, daemon_args, load_config, write_private

PACKAGES_USER = "ghes-packages"
REGION = "us-east-1"


def control_file(layout: Layout) -> Path:
    return layout.storage / "s3-control.json"


def ack_file(layout: Layout) -> Path:
    return layout.run / "s3.ack"


def read_control(layout: Layout) -> dict[str, Any]:
    try:
        data = json.loads(control_file(layout).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return {
        "generation": int(data.get("generation", 0)),
        "listening": bool(data.get("listening", True)),
        "revoked": bool(data.get("revoked", False)),
        "reset": int(data.get("reset", 0)),
    }


def write_control(layout: Layout, **changes: Any) -> int:
    """Update the control file; returns its new generation (what the ack will say)."""
    data = read_control(layout)
    data.update(changes)
    data["generation"] += 1
    write_private(control_file(layout), json.dumps(data) + "\n")
    return int(data["generation"])


class _Moto:
    """moto's backends in this process, seeded with the lab's account."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.config = load_config(layout)
        self._packages_key: Any = None

    def seed(self) -> None:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends
        from moto.s3.models import s3_backends

        c = self.config
        iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
        s3_only = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.create_user(region_name=REGION, user_name=PACKAGES_USER)
        iam.put_user_policy(PACKAGES_USER, "lab", json.dumps(s3_only))
        key = iam.create_access_key(PACKAGES_USER)
        # The lab's keys instead of moto's random ones (moto's AccessKey documents that users
        # set its fields), so that a restarted server accepts what the site file was given.
        iam.access_keys.pop(key.physical_resource_id, None)
        key.access_key_id = c.s3_access_key
        key.secret_access_key = c.s3_secret_key
        iam.access_keys[key.physical_resource_id] = key
        self._packages_key = key
        s3_backends[DEFAULT_ACCOUNT_ID]["aws"].create_bucket(c.bucket, REGION)

    def reset(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        self.seed()

    def revoke(self, revoked: bool) -> None:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.iam.models import iam_backends

        user = iam_backends[DEFAULT_ACCOUNT_ID]["aws"].get_user(PACKAGES_USER)
        present = self._packages_key in user.access_keys
        if revoked and present:
            user.access_keys.remove(self._packages_key)
        elif not revoked and not present:
            user.access_keys.append(self._packages_key)


def main(argv: list[str] | None = None) -> int:
    layout, config = daemon_args("s3server", __doc__, argv)
    host, port = config.address, config.internal.storage
    os.environ["MOTO_PORT"] = str(port)  # what moto_server sets: moto builds URLs with it

    from moto import settings
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import BaseWSGIServer, make_server

    moto = _Moto(layout)
    moto.seed()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # authenticate every request from now on
    app = DomainDispatcherApplication(create_backend_app)

    server: BaseWSGIServer | None = None
    thread: threading.Thread | None = None
    stop = threading.Event()
    reload = threading.Event()
    state = {"reset": read_control(layout)["reset"]}

    def listen(on: bool) -> None:
        nonlocal server, thread
        if on and server is None:
            server = make_server(
                host,
                port,
                app,
                threaded=True,
                request_handler=MotoRequestHandler,
                ssl_context=(str(layout.storage_cert), str(layout.storage_key)),
            )
            thread = threading.Thread(target=server.serve_forever, name="s3", daemon=True)
            thread.start()
        elif not on and server is not None:
            server.shutdown()
            server.server_close()
            server, thread = None, None

    def apply_control() -> None:
        wanted = read_control(layout)
        if wanted["reset"] != state["reset"]:
            moto.reset()
            state["reset"] = wanted["reset"]
        moto.revoke(wanted["revoked"])
        listen(wanted["listening"])
        write_private(ack_file(layout), f"{wanted['generation']}\n")

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    apply_control()
    sys.stderr.write(f"s3server {os.getpid()}: moto S3 on https://{host}:{port}\n")
    sys.stderr.flush()
    while not stop.is_set():
        if reload.wait(0.2):
            reload.clear()
            apply_control()
    listen(False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
