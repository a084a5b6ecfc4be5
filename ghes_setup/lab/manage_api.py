"""The Manage API (`/manage/v1`, HTTPS on 8443 through the front door), over the settings files.

Endpoints and schemas per the manage-ghes REST reference (docs/reference/ghes-facts.md §3.3/§3.4)
and the shapes go-github's tests use. Authentication: Basic `api_key:<root site administrator
password>`; missing or wrong credentials -> 401 with a JSON `message` (manage-ghes.md).

Lab choices where the reference is silent (also in docs/lab.md):
- `PUT config/settings` is a partial update (objects merged field by field); unknown fields,
  e.g. a `packages` object, are kept and returned by GET but change nothing: Packages is set
  with `ghe-config` only. A non-null `admin_password` is refused (400), as the reference says
  the root password cannot be set here. A wrong type (`"subdomain_isolation": "yes"`) is 400.
- `GET config/apply` takes `run_id` from the query (documented) or a JSON body (go-github
  sends it there); without one it reports the latest run; an unknown run_id is 404.
- `POST config/apply` while a run is in progress -> 409; with a `run_id` that exists already ->
  202 with that run_id and no new run.
- `POST access/ssh` answers 201 when the key was added, 200 when it was already there;
  `DELETE access/ssh` answers 200 with `modified` true/false.
- `maintenance`: `enabled: false` while a config run is in progress -> 400
  (`can_unset_maintenance` is false then; docs/reference/ghes-facts.md §1.4).
- The `api-503` fault answers 503 before authentication is looked at.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any

from ghes_setup.lab import faults, state
from ghes_setup.lab.apply import ApplyBusy, Run
from ghes_setup.lab.http_common import JsonHandler
from ghes_setup.lab.settings import SettingsError, document_changes, to_document

_KEY_LINE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-\S+)\s+([A-Za-z0-9+/=]+)(\s.*)?$"
)
NODE_ROLES = [
    "ConsulServer",
    "ElasticsearchServer",
    "GitServer",
    "JobServer",
    "MemcacheServer",
    "MysqlServer",
    "PagesServer",
    "RedisServer",
    "StorageServer",
    "WebServer",
]


def fingerprint(key_line: str) -> str | None:
    match = _KEY_LINE.match(key_line.strip())
    if not match:
        return None
    try:
        blob = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _same_key(a: str, b: str) -> bool:
    return a.split()[:2] == b.split()[:2]


class ManageHandler(JsonHandler):
    # -- plumbing
    def _dispatch(self, method: str) -> None:
        self.read_body()  # always consume the body, so the connection stays usable
        if faults.claim(self.ctx.layout, "api-503", f"{method} {self.url_path}"):
            self.send_json(503, {"message": "Service Unavailable"}, {"Retry-After": "1"})
            return
        if not self.url_path.startswith("/manage/v1/"):
            self.send_json(404, {"message": "Not Found"})
            return
        if not self._authenticated():
            return
        route = self.url_path.removeprefix("/manage/v1/").rstrip("/")
        handler = getattr(self, f"{method}_{route.replace('/', '_')}", None)
        if handler is None:
            self.send_json(404, {"message": "Not Found"})
            return
        try:
            handler()
        except json.JSONDecodeError:
            self.send_json(400, {"message": "Problems parsing JSON"})

    def _authenticated(self) -> bool:
        creds = self.basic_auth()
        headers = {"WWW-Authenticate": 'Basic realm="GitHub Enterprise Management Console"'}
        if creds is None:
            self.send_json(401, {"message": "Requires authentication"}, headers)
            return False
        user, password = creds
        good = hmac.compare_digest(password.encode(), self.ctx.config.admin_password.encode())
        if user != "api_key" or not good:
            self.send_json(401, {"message": "Bad credentials"}, headers)
            return False
        return True

    def do_GET(self) -> None:
        self._dispatch("get")

    def do_PUT(self) -> None:
        self._dispatch("put")

    def do_POST(self) -> None:
        self._dispatch("post")

    def do_DELETE(self) -> None:
        self._dispatch("delete")

    @property
    def _host(self) -> str:
        return self.ctx.config.hostname

    # -- version, nodes
    def get_version(self) -> None:
        c = self.ctx.config
        self.send_json(
            200,
            [
                {
                    "hostname": c.hostname,
                    "version": {
                        # `platform` is one of the documented values; the lab is a KVM guest.
                        "version": c.ghes_version,
                        "platform": "kvm",
                        "build_id": c.build_id,
                        "build_date": c.build_date,
                    },
                }
            ],
        )

    def get_config_nodes(self) -> None:
        self.send_json(
            200,
            {
                "topology": "SingleNode",
                "nodes": [
                    {
                        "hostname": self._host,
                        "uuid": self.ctx.config.uuid,
                        "replica": False,
                        "cluster_roles": NODE_ROLES,
                    }
                ],
            },
        )

    # -- settings
    def get_config_settings(self) -> None:
        values = self.ctx.store.read_all()
        doc = to_document(
            values,
            configuration_id=self.ctx.config.configuration_id,
            run_count=self.ctx.engine.run_count(),
        )
        self.send_json(200, doc)

    def put_config_settings(self) -> None:
        body = self.json_body()
        if not isinstance(body, dict):
            self.send_json(400, {"message": "The request body must be a JSON object of settings"})
            return
        try:
            changes = document_changes(self.ctx.store.read_all(), body)
            self.ctx.store.update(changes)
        except SettingsError as exc:
            self.send_json(400, {"message": str(exc)})
            return
        self.send_json(204, None)

    # -- config apply
    def _run_status(self, run: Run | None) -> dict[str, Any]:
        if run is None:
            return {"running": False, "successful": False, "nodes": []}
        node = {
            "run_id": run.run_id,
            "hostname": self._host,
            "running": run.running,
            "successful": run.successful,
        }
        return {"running": run.running, "successful": run.successful, "nodes": [node]}

    def _run_id_param(self) -> str | None:
        if self.query.get("run_id"):
            return self.query["run_id"][0]
        body = self.json_body()
        if isinstance(body, dict) and isinstance(body.get("run_id"), str):
            return str(body["run_id"])
        return None

    def get_config_apply(self) -> None:
        run_id = self._run_id_param()
        run = self.ctx.engine.find(run_id) if run_id else self.ctx.engine.latest()
        if run_id and run is None:
            self.send_json(404, {"message": f"Config run {run_id} not found"})
            return
        self.send_json(200, self._run_status(run))

    def post_config_apply(self) -> None:
        run_id = self._run_id_param()
        if run_id is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", run_id):
            self.send_json(400, {"message": "run_id must be 1-64 letters, digits, '.', '_' or '-'"})
            return
        try:
            run, _started = self.ctx.engine.start("api", run_id)
        except ApplyBusy as exc:
            self.send_json(409, {"message": str(exc), "run_id": exc.run.run_id})
            return
        self.send_json(202, {"run_id": run.run_id})

    def get_config_apply_events(self) -> None:
        given = self.query.get("last_request_id")
        last = given[0] if given else None
        items, last_id = self.ctx.engine.events_after(last)
        events = [event.document(run, self._host) for run, event in items]
        self.send_json(
            200, {"nodes": [{"node": self._host, "last_request_id": last_id, "events": events}]}
        )

    # -- maintenance
    def _maintenance_doc(self) -> list[dict[str, Any]]:
        m = state.read_maintenance(self.ctx.layout)
        return [
            {
                "hostname": self._host,
                "uuid": self.ctx.config.uuid,
                "status": m.status,
                "scheduled_time": m.scheduled_time,
                "connection_services": [
                    {"name": "git operations", "number": 0},
                    {"name": "mysql connections", "number": 0},
                    {"name": "aqueduct jobs", "number": 0},
                    {"name": "resque jobs", "number": 0},
                ],
                "can_unset_maintenance": self.ctx.engine.running() is None,
                "ip_exception_list": m.ip_exception_list,
                "maintenance_mode_message": m.maintenance_mode_message,
            }
        ]

    def get_maintenance(self) -> None:
        self.send_json(200, self._maintenance_doc())

    def post_maintenance(self) -> None:
        body = self.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            self.send_json(400, {"message": "enabled (boolean) is required"})
            return
        current = state.read_maintenance(self.ctx.layout)
        if not body["enabled"]:
            if self.ctx.engine.running() is not None:
                self.send_json(
                    400,
                    {
                        "message": "Maintenance mode cannot be unset while a configuration "
                        "run is in progress"
                    },
                )
                return
            state.write_maintenance(self.ctx.layout, state.Maintenance())
            self.send_json(200, self._maintenance_doc())
            return
        when = body.get("when", "now")
        status, scheduled = "on", None
        if isinstance(when, str) and when != "now":
            try:
                at = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
            except ValueError:
                self.send_json(400, {"message": "when must be 'now' or an ISO 8601 time"})
                return
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            if at > dt.datetime.now(dt.UTC):
                status, scheduled = "scheduled", at.isoformat()
        exceptions = body.get("ip_exception_list", current.ip_exception_list)
        message = body.get("maintenance_mode_message", current.maintenance_mode_message)
        state.write_maintenance(
            self.ctx.layout,
            state.Maintenance(status, scheduled, list(exceptions or []), message),
        )
        self.send_json(200, self._maintenance_doc())

    # -- admin SSH keys: the admin shell's authorized_keys, really
    def _keys(self) -> list[str]:
        path = self.ctx.layout.authorized_keys
        if not path.exists():
            return []
        return [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]

    def _write_keys(self, lines: list[str]) -> None:
        path = self.ctx.layout.authorized_keys
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(path)

    def _key_from_body(self) -> str | None:
        body = self.json_body()
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str) or fingerprint(key) is None:
            self.send_json(
                400, {"message": "key must be an SSH public key line, e.g. 'ssh-ed25519 AAAA...'"}
            )
            return None
        return key.strip()

    def get_access_ssh(self) -> None:
        self.send_json(200, [{"key": k, "fingerprint": fingerprint(k)} for k in self._keys()])

    def post_access_ssh(self) -> None:
        key = self._key_from_body()
        if key is None:
            return
        lines = self._keys()
        exists = any(_same_key(line, key) for line in lines)
        if not exists:
            self._write_keys([*lines, key])
        message = "SSH key already exists" if exists else "SSH key added successfully"
        result = {
            "hostname": self._host,
            "uuid": self.ctx.config.uuid,
            "message": message,
            "modified": not exists,
        }
        self.send_json(200 if exists else 201, [result])

    def delete_access_ssh(self) -> None:
        key = self._key_from_body()
        if key is None:
            return
        lines = self._keys()
        kept = [line for line in lines if not _same_key(line, key)]
        if len(kept) != len(lines):
            self._write_keys(kept)
        message = "SSH key removed successfully" if len(kept) != len(lines) else "SSH key not found"
        result = {
            "hostname": self._host,
            "uuid": self.ctx.config.uuid,
            "message": message,
            "modified": len(kept) != len(lines),
        }
        self.send_json(200, [result])
