"""labd's control socket: the admin shell's privileged commands, and the lab's own controls.

DIR/run/labd.sock speaks JSON lines. A request is one line `{"cmd": NAME, "args": [...],
"stdin": "..."}`; the answer is lines `{"stream": "stdout"|"stderr", "data": "..."}`, maybe
one `{"result": {...}}`, then `{"exit": N}`. The socket belongs to the admin user (mode 0600);
commands named `lab-*` are for root (or labd's own user) only, checked with SO_PEERCRED: they
reset the lab, run an apply for the test fixture, or reconcile services after a fault changed.

The admin commands (see shell.py) imitate their GHES namesakes; where the documents are silent:
- `ghe-config-apply` streams the run's log lines (stdout; warnings and errors on stderr as
  `WARNING:`/`ERROR:`), exits 0 on success and 1 on failure, and 1 at once if a run is already
  in progress. If the SSH session goes away the run continues.
- `ghe-maintenance -q` prints `maintenance mode set` or `maintenance mode not set` (the text a
  third-party script expects), exit 0; `-s` sets it; `-u` unsets it, and exits 1 while a config
  run is in progress (docs/reference/ghes-facts.md §1.4: it cannot be unset then).
- `ghe-export-settings` prints `{"enterprise": <the Manage API settings document>,
  "ghe_config": {<non-secret github.conf keys>}}`; `ghe-import-settings` reads that (or just
  the settings document) on stdin and writes it, without applying, as backup-utils' restore
  runs ghe-config-apply itself afterwards. Secrets are not exported (backup-utils saves them
  separately with ghe-config).
- `ghe-packages-precheck` and `ghe-check-blob-connection`: storage.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import socket
import socketserver
import struct
import threading
import traceback
from collections.abc import Callable
from typing import Any

from ghes_setup.lab import faults, parts, s3server, state
from ghes_setup.lab import settings as keys
from ghes_setup.lab.apply import ApplyBusy
from ghes_setup.lab.http_common import LabContext
from ghes_setup.lab.layout import ADMIN_USER
from ghes_setup.lab.settings import SettingsError, document_changes, fresh_settings, to_document
from ghes_setup.lab.storage import (
    SUCCESS,
    StorageFailure,
    from_connection_string,
    from_settings,
    reset_azure,
    verify,
)
from ghes_setup.packages import backends

Out = Callable[[str, str], None]  # (stream, text)


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, ctx: LabContext) -> None:
        self.ctx = ctx
        super().__init__(path, ControlHandler)


class ControlHandler(socketserver.StreamRequestHandler):
    server: ControlServer

    def _send(self, message: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(message).encode() + b"\n")
        self.wfile.flush()

    def handle(self) -> None:
        creds = self.request.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
        _pid, uid, _gid = struct.unpack("3i", creds)
        try:
            request = json.loads(self.rfile.readline())
            cmd = str(request.get("cmd", ""))
            args = [str(a) for a in request.get("args", [])]
            stdin = str(request.get("stdin", ""))
        except (ValueError, AttributeError):
            self._send({"stream": "stderr", "data": "labd: bad request\n"})
            self._send({"exit": 2})
            return

        def out(stream: str, text: str) -> None:
            self._send({"stream": stream, "data": text})

        commands = Commands(self.server.ctx, out, self._send)
        if cmd.startswith("lab-") and uid not in (0, os.geteuid()):
            out("stderr", f"{cmd}: permission denied\n")
            code = 1
        else:
            handler = getattr(commands, cmd.replace("-", "_"), None)
            if handler is None:
                out("stderr", f"{cmd}: command not found\n")
                code = 127
            else:
                try:
                    code = int(handler(args, stdin))
                except (BrokenPipeError, ConnectionResetError):
                    return  # the caller went away (e.g. its SSH session was cut)
                except Exception as exc:  # said to the caller, traceback to the log
                    # Without this the connection closed with no exit line and the caller
                    # could only say "lab-reconcile failed: {}".
                    traceback.print_exc()  # labd's standard error is its log file
                    with contextlib.suppress(OSError):
                        out("stderr", f"labd: {cmd}: {type(exc).__name__}: {exc}\n")
                    code = 1
        with contextlib.suppress(OSError):
            self._send({"exit": code})


class Commands:
    def __init__(self, ctx: LabContext, out: Out, send: Callable[[dict[str, Any]], None]) -> None:
        self.ctx = ctx
        self.out = out
        self.send = send

    def _help(self, args: list[str], usage: str) -> bool:
        if any(a in ("-h", "--help") for a in args):
            self.out("stdout", usage)
            return True
        return False

    # ------------------------------------------------------------------ admin commands
    def ghe_config_apply(self, args: list[str], _stdin: str) -> int:
        usage = "Usage: ghe-config-apply [-f]\nApply the configuration. Example: ghe-config-apply\n"
        if self._help(args, usage):
            return 0
        unknown = [a for a in args if a not in ("-f", "--force")]
        if unknown:
            self.out("stderr", f"ghe-config-apply: unknown option {unknown[0]}\n{usage}")
            return 1
        try:
            run, _ = self.ctx.engine.start("ssh")
        except ApplyBusy as exc:
            self.out("stderr", f"ghe-config-apply: {exc}\n")
            return 1
        for event in self.ctx.engine.follow(run):
            if event.severity_text == "INFO":
                self.out("stdout", f"{event.body}\n")
            else:
                label = "ERROR" if event.severity_text == "ERROR" else "WARNING"
                self.out("stderr", f"{label}: {event.body}\n")
        # On several nodes the command fails when any node failed (`apply-fail-node2`).
        return 0 if run.successful and not run.failed_nodes else 1

    def ghe_maintenance(self, args: list[str], _stdin: str) -> int:
        usage = (
            "Usage: ghe-maintenance -q | -s | -u\n"
            "Query, set or unset maintenance mode. Example: ghe-maintenance -s\n"
        )
        if self._help(args, usage) or not args:
            return 0 if args else 2
        layout = self.ctx.layout
        flag = args[0]
        if flag == "-q":
            on = state.read_maintenance(layout).active()
            self.out("stdout", "maintenance mode set\n" if on else "maintenance mode not set\n")
            return 0
        if flag == "-s":
            state.write_maintenance(layout, state.Maintenance(status="on"))
            self.out("stdout", "maintenance mode set\n")
            return 0
        if flag == "-u":
            if self.ctx.engine.running() is not None:
                self.out(
                    "stderr",
                    "ghe-maintenance: cannot unset maintenance mode while a configuration run "
                    "is in progress\n",
                )
                return 1
            state.write_maintenance(layout, state.Maintenance())
            self.out("stdout", "maintenance mode not set\n")
            return 0
        self.out("stderr", f"ghe-maintenance: unknown option {flag}\n{usage}")
        return 2

    def ghe_export_settings(self, args: list[str], _stdin: str) -> int:
        if self._help(
            args, "Usage: ghe-export-settings > settings.json\nPrint the settings as JSON.\n"
        ):
            return 0
        values = self.ctx.store.read_all()
        doc = to_document(
            values,
            configuration_id=self.ctx.config.configuration_id,
            run_count=self.ctx.engine.run_count(),
        )
        plain = {k: v for k, v in values.items() if not k.startswith(keys.SECRETS_PREFIX)}
        self.out(
            "stdout",
            json.dumps({"enterprise": doc, "ghe_config": plain}, indent=2, sort_keys=True) + "\n",
        )
        return 0

    def ghe_import_settings(self, args: list[str], stdin: str) -> int:
        if self._help(
            args,
            "Usage: ghe-import-settings < settings.json\nWrite settings from JSON (no apply).\n",
        ):
            return 0
        try:
            data = json.loads(stdin)
        except ValueError as exc:
            self.out("stderr", f"ghe-import-settings: invalid JSON on standard input: {exc}\n")
            return 1
        if not isinstance(data, dict):
            self.out("stderr", "ghe-import-settings: expected a JSON object\n")
            return 1
        doc = data.get("enterprise", data if "ghe_config" not in data else {})
        plain = data.get("ghe_config", {})
        try:
            changes: dict[str, str | None] = {}
            if isinstance(plain, dict):
                changes.update(
                    {
                        str(k): str(v)
                        for k, v in plain.items()
                        if not str(k).startswith(keys.SECRETS_PREFIX)
                    }
                )
            if isinstance(doc, dict):  # the settings document wins over raw keys
                changes.update(document_changes(self.ctx.store.read_all(), doc))
            self.ctx.store.update(changes)
        except SettingsError as exc:
            self.out("stderr", f"ghe-import-settings: {exc}\n")
            return 1
        return 0

    def _report(self, lines: list[str], ok: bool) -> int:
        for line in lines:
            self.out("stdout" if ok or not line.startswith("Error") else "stderr", line + "\n")
        return 0 if ok else 1

    def ghe_packages_precheck(self, args: list[str], _stdin: str) -> int:
        usage = (
            "Usage: ghe-packages-precheck -p {S3,MinIO,Azure} -cs CONNECTION-STRING "
            "[-cn CONTAINER]\n"
            "Check blob storage for GitHub Packages before enabling it.\n"
            'Example: ghe-packages-precheck -p MinIO -cs "BucketName=b;AccessKeyId=k;SecretAccessKey=s;ServiceUrl=http://minio:9000"\n'
        )
        if self._help(args, usage):
            return 0
        opts: dict[str, str] = {"-p": "S3"}
        it = iter(args)
        for arg in it:
            if arg in ("-p", "-cs", "-cn"):
                value = next(it, None)
                if value is None:
                    self.out("stderr", f"ghe-packages-precheck: {arg} needs a value\n{usage}")
                    return 1
                opts[arg] = value
            else:
                self.out("stderr", f"ghe-packages-precheck: unknown argument {arg}\n{usage}")
                return 1
        if "-cs" not in opts:
            self.out("stderr", f"ghe-packages-precheck: -cs is required\n{usage}")
            return 1
        if backends.by_provider(opts["-p"]) is None:
            self.out(
                "stderr",
                f"ghe-packages-precheck: unknown provider {opts['-p']} (S3, MinIO, Azure)\n",
            )
            return 1
        target = from_connection_string(opts["-p"], opts["-cs"], opts.get("-cn", ""))
        try:
            return self._report(verify(self.ctx.layout, self.ctx.config, target), True)
        except StorageFailure as exc:
            return self._report(exc.lines, False)

    def ghe_check_blob_connection(self, args: list[str], _stdin: str) -> int:
        usage = (
            "Usage: ghe-check-blob-connection\nCheck the configured GitHub Packages blob storage.\n"
        )
        if self._help(args, usage):
            return 0
        target = from_settings(self.ctx.store.read_all())
        if target is None:
            self.out("stderr", "Error: GitHub Packages blob storage is not configured\n")
            return 1
        try:
            return self._report(verify(self.ctx.layout, self.ctx.config, target), True)
        except StorageFailure as exc:
            return self._report(exc.lines, False)

    # ------------------------------------------------------------------ lab controls (root)
    def lab_apply(self, args: list[str], _stdin: str) -> int:
        """Run a config apply and wait for it: `lab-apply [TIMEOUT]`."""
        timeout = float(args[0]) if args else 120.0
        try:
            run, _ = self.ctx.engine.start("lab")
        except ApplyBusy as exc:
            self.out("stderr", f"{exc}\n")
            return 1
        for _event in self.ctx.engine.follow(run, timeout):
            pass
        self.send(
            {"result": {"run_id": run.run_id, "successful": run.successful, "failure": run.failure}}
        )
        return 0 if run.successful else 1

    def lab_wait_idle(self, args: list[str], _stdin: str) -> int:
        timeout = float(args[0]) if args else 60.0
        return 0 if self.ctx.engine.wait_idle(timeout) else 1

    def lab_reconcile(self, _args: list[str], _stdin: str) -> int:
        layout, config = self.ctx.layout, self.ctx.config
        with state.control_lock(layout):
            applied = state.read_applied(layout)
            parts.ensure_dns(layout, config)
            parts.ensure_storage(layout, config)
            parts.ensure_registry(layout, config, applied)
            parts.ensure_nginx(layout, config, applied)
        return 0

    def lab_runs(self, _args: list[str], _stdin: str) -> int:
        self.send({"result": {"runs": self.ctx.engine.run_count()}})
        return 0

    def lab_reset(self, args: list[str], _stdin: str) -> int:
        """Back to a fresh appliance: settings, front door, registry stopped, maintenance off,
        faults cleared, admin keys back to the lab's own, empty storage bucket, and no
        ghes-setup run records in the admin's HOME."""
        timeout = float(args[0]) if args else 60.0
        engine = self.ctx.engine
        for _ in range(3):
            if not engine.wait_idle(timeout):
                self.out("stderr", "lab-reset: a configuration run is still in progress\n")
                return 1
            started = engine.run_count()
            self._reset_once()
            # A client killed a moment before (a test's Ctrl-C after its push) can still start
            # a run in the middle of the reset, applying what it read before: wait for that
            # run to end, then reset again.
            if engine.run_count() == started and engine.running() is None:
                break
        self.ctx.engine.add_setup_run("Lab reset: fresh appliance configuration")
        return 0

    def _reset_once(self) -> None:
        layout, config = self.ctx.layout, self.ctx.config
        fresh = fresh_settings(config)
        with state.control_lock(layout):
            faults.clear(layout)
            with contextlib.suppress(FileNotFoundError):
                (layout.faults / "fired.log").unlink()
            self.ctx.store.replace_all(fresh)
            state.write_applied(layout, fresh)
            state.write_maintenance(layout, state.Maintenance())
            state.write_topology(layout, state.Topology())  # back to SingleNode
            (layout.state / "ghe-config-unset").unlink(missing_ok=True)  # back to `empty`
            (layout.state / "ghe-config-list").unlink(missing_ok=True)  # key=value, -z, secrets
            layout.authorized_keys.write_text(
                (layout.identity.with_suffix(".pub")).read_text(encoding="utf-8"), encoding="utf-8"
            )
            parts.ensure_registry(layout, config, fresh)
            parts.ensure_storage(layout, config)
            reset_storage(self.ctx)
            parts.ensure_dns(layout, config)
            parts.ensure_nginx(layout, config, fresh)
            layout.config_log.write_text("", encoding="utf-8")
            shutil.rmtree(layout.tool_state, ignore_errors=True)  # a fresh admin HOME


def reset_storage(ctx: LabContext) -> None:
    """Empty the lab's storage: moto holds only the lab's bucket, empty; Azurite only the
    lab's container, empty; no registry folder on the filesystem but the lab bucket's."""
    layout, config = ctx.layout, ctx.config
    parts.s3_command(layout, config, reset=s3server.read_control(layout)["reset"] + 1)
    try:
        reset_azure(config)
    except StorageFailure as exc:
        raise parts.PartError(f"cannot empty the lab's Azure container: {exc}") from None
    keep = {layout.azurite, s3server.control_file(layout)}
    if layout.storage.is_dir():
        for entry in layout.storage.iterdir():
            if entry in keep:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    layout.bucket(config.bucket).mkdir(parents=True, exist_ok=True)


def serve_control(ctx: LabContext) -> ControlServer:
    path = ctx.layout.control_socket
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = ControlServer(str(path), ctx)
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(ADMIN_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)
    threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
    return server


__all__ = ["SUCCESS", "ControlServer", "serve_control"]
