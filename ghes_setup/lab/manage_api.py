"""The Manage API (`/manage/v1`, HTTPS on 8443 through the front door), over the settings files.

Held to GitHub's official OpenAPI description of the lab's release (tests/contract: the vendored
`ghes-3.NN.json` from `@octokit/openapi`, schemathesis and a validating client; docs/fidelity.md):
every documented operation answers, with only the documented status codes and shapes (strings
are never null where the description says string). Authentication: Basic
`api_key:<root site administrator password>`; missing or wrong credentials -> 401.

Lab choices where the description is silent or ambiguous (also in docs/lab.md):
- `PUT config/settings` changes only the top-level fields given, but an OBJECT given replaces
  that object: its fields left out go back to their defaults (the description: fields left out
  are "unmodified or populated from the default values"; the lab models the risky reading, so a
  client that sends `github_ssl` without its `cert` and `key` loses them). A non-null
  `admin_password` is refused (400); a wrong type is 400. Unknown fields (e.g. `packages`) are
  kept and returned but change nothing: Packages is set with `ghe-config` only.
- `POST config/apply` answers 200 `{run_id}` (documented). A second run while one is running:
  400 (documented); `GET config/apply` says `running`. A `run_id` that exists already: 200 with
  that run_id and no new run. `GET config/apply?run_id=` an unknown or malformed run: 400.
- `GET config/apply`: one `nodes[]` entry per node of the topology; the top-level `successful`
  is the lab's own node's (the description does not say it aggregates the nodes: a run has
  succeeded only when every node entry says so).
- `GET config/apply/events`: one entry per node, each with its own `last_request_id`. A
  cursor belongs to the node that issued it: for that node the answer holds the events after
  it, for every other node the latest run's events (as with no cursor). A malformed cursor: 400.
- `POST access/ssh` answers 200 (`modified` false when the key was there); `DELETE` answers
  the documented array of `{hostname, uuid, message}`.
- `maintenance`: one state for every node; `POST` answers the documented array of
  `{hostname, uuid, message}`; `uuid` names one node (unknown: 400); `enabled: false` while a
  config run is in progress -> 400 (`can_unset_maintenance` is false then).
- `uuid` / `cluster_roles` query filters (version, nodes, maintenance, replication status)
  select nodes; no match is an empty list.
- License, init, system requirements, cluster and replication status answer fixed,
  plausible, documented shapes (the lab acts on none of them); `config/init` answers 400: the
  appliance is configured already.
- The `api-503` fault answers 503 before authentication is looked at.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from typing import Any

from ghes_setup.lab import faults, state
from ghes_setup.lab.apply import ApplyBusy, Run, parse_request_id
from ghes_setup.lab.http_common import JsonHandler
from ghes_setup.lab.settings import SettingsError, document_changes, to_document

_KEY_LINE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-\S+)\s+([A-Za-z0-9+/=]+)(\s.*)?$"
)


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
        name = route.replace("/", "_").replace("-", "_")
        handler = getattr(self, f"{method}_{name}", None)
        if handler is None:
            self.send_json(404, {"message": "Not Found"})
            return
        try:
            handler()
        except (ValueError, UnicodeError):  # JSONDecodeError included
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

    # -- nodes
    def _topology(self) -> state.Topology:
        return state.read_topology(self.ctx.layout)

    def _nodes(self) -> list[state.Node]:
        return self._topology().nodes(self._host, self.ctx.config.uuid)

    def _selected(self) -> list[state.Node]:
        """The nodes the `uuid` and `cluster_roles` query parameters select."""
        nodes = self._nodes()
        uuids = [u for u in self.query.get("uuid", []) if u]
        roles = [r for v in self.query.get("cluster_roles", []) for r in v.split(",") if r]
        if uuids:
            nodes = [n for n in nodes if n.uuid in uuids]
        if roles:
            nodes = [n for n in nodes if set(roles) & set(n.cluster_roles)]
        return nodes

    @staticmethod
    def _tag(node: state.Node, nodes: list[state.Node]) -> str:
        if node.local:
            return "local"
        first_other = next(n for n in nodes if not n.local)
        return "other" if node == first_other else f"other:{node.hostname}"

    def get_version(self) -> None:
        c = self.ctx.config
        self.send_json(
            200,
            [
                {
                    "hostname": node.hostname,
                    "version": {
                        # `platform` is one of the documented values; the lab is a KVM guest.
                        "version": c.ghes_version,
                        "platform": "kvm",
                        "build_id": c.build_id,
                        "build_date": c.build_date,
                    },
                }
                for node in self._selected()
            ],
        )

    def get_config_nodes(self) -> None:
        self.send_json(
            200,
            {
                "topology": self._topology().name,
                "nodes": [
                    {
                        "hostname": node.hostname,
                        "uuid": node.uuid,
                        "replica": node.replica,
                        "cluster_roles": list(node.cluster_roles),
                    }
                    for node in self._selected()
                ],
            },
        )

    def _service_status(self, nodes: list[state.Node]) -> dict[str, Any]:
        services = [
            {"name": name, "status": "OK", "details": "running"}
            for name in ("nginx", "github-unicorn", "registry", "mysql")
        ]
        return {
            "status": "OK",
            "nodes": [
                {"hostname": n.hostname, "status": "OK", "services": services} for n in nodes
            ],
        }

    def get_cluster_status(self) -> None:
        self.send_json(200, self._service_status(self._nodes()))

    def get_replication_status(self) -> None:
        self.send_json(200, self._service_status([n for n in self._selected() if n.replica]))

    def get_checks_system_requirements(self) -> None:
        nodes = [
            {
                "hostname": n.hostname,
                "status": "OK",
                "roles_status": [{"role": r, "status": "OK"} for r in n.cluster_roles],
            }
            for n in self._nodes()
        ]
        self.send_json(200, {"status": "OK", "nodes": nodes})

    # -- license, init (fixed answers: the lab has no license to check)
    def get_config_license(self) -> None:
        self.send_json(
            200,
            {
                "advancedSecurityEnabled": False,
                "advancedSecuritySeats": 0,
                "clusterSupport": self._topology().name == "Cluster",
                "company": "ghes-setup lab",
                "croquetSupport": False,
                "customTerms": False,
                "evaluation": True,
                "expireAt": "2099-01-01T00:00:00Z",
                "insightsEnabled": False,
                "insightsExpireAt": "2099-01-01T00:00:00Z",
                "learningLabEvaluationExpires": "2099-01-01T00:00:00Z",
                "learningLabSeats": 0,
                "perpetual": False,
                "referenceNumber": "LAB-0000",
                "seats": 0,
                "sshAllowed": True,
                "supportKey": "",
                "unlimitedSeating": True,
            },
        )

    def get_config_license_check(self) -> None:
        self.send_json(200, {"status": "valid"})

    def put_config_license(self) -> None:
        # 3.12 documents an application/octet-stream body answered 201 with [{output}]; later
        # releases a multipart form, 201 (or 202 with ?apply=true, a config run follows).
        # The lab checks no license (3.12 documents no 400 here: an empty file is "uploaded").
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            apply = self.query.get("apply", ["false"])[0] == "true"
            self.send_json(202 if apply else 201, None)
            return
        self.send_json(201, [{"output": "License uploaded (lab: not checked)"}])

    def post_config_init(self) -> None:
        self.send_json(400, {"message": "The appliance is already configured"})

    # -- settings
    def get_config_settings(self) -> None:
        values = self.ctx.store.read_all()
        doc = to_document(
            values,
            configuration_id=self.ctx.config.configuration_id,
            run_count=self.ctx.engine.run_count(),
            ghes_version=self.ctx.config.ghes_version,
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
        except (SettingsError, ValueError, UnicodeError) as exc:
            self.send_json(400, {"message": str(exc)})
            return
        self.send_json(204, None)

    # -- config apply
    def _run_status(self, run: Run | None) -> dict[str, Any]:
        if run is None:
            return {"running": False, "successful": False, "nodes": []}
        nodes = self._nodes()
        entries = [
            {
                "run_id": run.run_id,
                "hostname": node.hostname,
                "running": run.running,
                "successful": (not run.running) and run.node_successful(self._tag(node, nodes)),
            }
            for node in nodes
        ]
        # Top level: the lab's own node (see the module docstring).
        return {"running": run.running, "successful": run.successful, "nodes": entries}

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
            self.send_json(400, {"message": f"Config run {run_id} not found"})
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
            self.send_json(400, {"message": str(exc)})
            return
        self.send_json(200, {"run_id": run.run_id})

    def get_config_apply_events(self) -> None:
        given = self.query.get("last_request_id")
        last = given[0] if given and given[0] else None
        if last is not None and parse_request_id(last) is None:
            self.send_json(400, {"message": f"last_request_id {last!r} is not a request id"})
            return
        nodes = self._nodes()
        topology = self._topology().name.lower()
        answer = []
        for index, node in enumerate(nodes, start=1):
            salt = "" if node.local else node.hostname
            items, after = self.ctx.engine.events_after(last, index, self._tag(node, nodes))
            events = [
                event.document(run, node.hostname, topology=topology, salt=salt)
                for run, event in items
            ]
            if items:
                run, event = items[-1]
                last_id = event.request_id(run, index, salt)
            else:
                last_id = last if (last and after is not None) else ""
            answer.append({"node": node.hostname, "last_request_id": last_id, "events": events})
        self.send_json(200, {"nodes": answer})

    # -- maintenance
    def _maintenance_doc(self, nodes: list[state.Node]) -> list[dict[str, Any]]:
        m = state.read_maintenance(self.ctx.layout)
        state.sync_maintenance_flag(self.ctx.layout, m)  # a scheduled window may have begun
        return [
            {
                "hostname": node.hostname,
                "uuid": node.uuid,
                "status": m.status,
                # Left out when nothing is scheduled: the description types it as a string.
                **({"scheduled_time": m.scheduled_time} if m.scheduled_time else {}),
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
            for node in nodes
        ]

    def get_maintenance(self) -> None:
        self.send_json(200, self._maintenance_doc(self._selected()))

    def _answer(self, nodes: list[state.Node], message: str) -> list[dict[str, Any]]:
        return [{"hostname": n.hostname, "uuid": n.uuid, "message": message} for n in nodes]

    def post_maintenance(self) -> None:
        body = self.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            self.send_json(400, {"message": "enabled (boolean) is required"})
            return
        nodes = self._nodes()
        target = body.get("uuid")
        if target is not None:
            nodes = [n for n in nodes if n.uuid == target]
            if not nodes:
                self.send_json(400, {"message": f"no node with uuid {target!r}"})
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
            self.send_json(200, self._answer(nodes, "maintenance mode disabled"))
            return
        when = body.get("when", "now")
        status, scheduled = "on", ""
        if not isinstance(when, str):
            self.send_json(400, {"message": "when must be 'now' or an ISO 8601 time"})
            return
        if when not in ("", "now"):
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
        if not isinstance(exceptions, list) or not all(isinstance(e, str) for e in exceptions):
            self.send_json(400, {"message": "ip_exception_list must be a list of addresses"})
            return
        if not isinstance(message, str):
            self.send_json(400, {"message": "maintenance_mode_message must be a string"})
            return
        state.write_maintenance(
            self.ctx.layout, state.Maintenance(status, scheduled, list(exceptions), message)
        )
        text = "maintenance mode enabled" if status == "on" else f"maintenance mode {status}"
        if exceptions:
            text += f" with exception list [{', '.join(exceptions)}]"
        self.send_json(200, self._answer(nodes, text))

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
        self.send_json(200, [result])

    def delete_access_ssh(self) -> None:
        key = self._key_from_body()
        if key is None:
            return
        lines = self._keys()
        kept = [line for line in lines if not _same_key(line, key)]
        if len(kept) != len(lines):
            self._write_keys(kept)
        message = "SSH key removed successfully" if len(kept) != len(lines) else "SSH key not found"
        result = {"hostname": self._host, "uuid": self.ctx.config.uuid, "message": message}
        self.send_json(200, [result])
