"""A state-based fake of `/manage/v1` that answers as the official description says.

Served through `httpx.MockTransport` (a fake of httpx's real transport interface): no sockets.
It answers only what the GHES OpenAPI description documents (vendored in
tests/contract/descriptions/): `POST config/apply` 200 `{run_id}`, an unknown run id 400, no
409 and no 404 for "busy" or "unknown"; events per node, each node with its own
`last_request_id`; `config/nodes` with a topology and `replica` per node. It takes the risky
reading of the PUT description ("all other parameters will be unmodified or populated from the
default values"): an object sent partially has its missing fields reset to their defaults, so a
client that sends partial objects loses a sibling here, as it could on a real appliance.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.contract.validate import validating_transport, vendored_versions

PASSWORD = "correct-horse-battery"

# The defaults of the objects the client touches (GET config/settings example values).
DEFAULT_OBJECTS: dict[str, dict[str, Any]] = {
    "github_ssl": {"enabled": False, "cert": None, "key": None},
}


@dataclass
class FakeRun:
    run_id: str
    polls: dict[str, int]  # node -> status polls left before it ends
    fail_on: frozenset[str] = frozenset()
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def node_done(self, node: str) -> bool:
        return self.polls[node] <= 0


class FakeManageApi:
    """One appliance of `nodes` (first = primary); `replicas` names the replica nodes."""

    def __init__(
        self,
        *,
        nodes: tuple[str, ...] = ("ghe-primary",),
        replicas: tuple[str, ...] = (),
        topology: str = "SingleNode",
        version: str = "3.17.2",
        apply_polls: int = 1,
    ) -> None:
        self.nodes = nodes
        self.replicas = replicas
        self.topology = topology
        self.version = version
        self.apply_polls = apply_polls
        self.settings: dict[str, Any] = {
            "github_hostname": "ghe.example.com",
            "subdomain_isolation": False,
            "github_ssl": {
                "enabled": True,
                "cert": "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n",
                "key": "-----BEGIN RSA PRIVATE KEY-----\nold\n-----END RSA PRIVATE KEY-----\n",
            },
        }
        self.runs: dict[str, FakeRun] = {}
        self.order: list[str] = []
        self.requests: list[str] = []
        self.bodies: list[Any] = []  # PUT bodies, as sent
        self.fail_nodes: frozenset[str] = frozenset()  # the next run fails on these
        self.fail_503 = 0
        self.drop_after_post = 0
        self.maintenance = False
        self.event_seq = 0

    # ------------------------------------------------------------------ test controls
    def start_foreign_run(self, run_id: str = "someone-else") -> None:
        self._start(run_id)

    # ------------------------------------------------------------------ HTTP
    def handle(self, request: httpx.Request) -> httpx.Response:
        query = f"?{request.url.query.decode()}" if request.url.query else ""
        self.requests.append(f"{request.method} {request.url.path}{query}")
        if self.fail_503:
            self.fail_503 -= 1
            return httpx.Response(503, json={"message": "Service Unavailable"})
        expected = "Basic " + base64.b64encode(f"api_key:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization", "") != expected:
            return httpx.Response(401, json={"message": "Bad credentials"})
        path = request.url.path.removeprefix("/manage/v1")
        route = getattr(self, f"{request.method.lower()}_{path.strip('/').replace('/', '_')}", None)
        if route is None:
            return httpx.Response(404, json={"message": "Not Found"})
        result: httpx.Response = route(request)
        return result

    def get_version(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json=[
                {"hostname": n, "version": {"version": self.version, "platform": "kvm"}}
                for n in self.nodes
            ],
        )

    def get_config_nodes(self, request: httpx.Request) -> httpx.Response:
        nodes = [
            {"hostname": n, "uuid": _uuid(n), "replica": n in self.replicas} for n in self.nodes
        ]
        return httpx.Response(200, json={"topology": self.topology, "nodes": nodes})

    def get_config_settings(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=self.settings)

    def put_config_settings(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(copy.deepcopy(body))
        if not isinstance(body, dict):
            return httpx.Response(400, json={"message": "Bad request"})
        for key, value in body.items():
            if isinstance(value, dict):
                # The risky reading: what the object leaves out is "populated from the defaults".
                self.settings[key] = {**DEFAULT_OBJECTS.get(key, {}), **value}
            else:
                self.settings[key] = value
        return httpx.Response(204)

    def _start(self, run_id: str) -> FakeRun:
        run = FakeRun(run_id, dict.fromkeys(self.nodes, self.apply_polls), self.fail_nodes)
        self.fail_nodes = frozenset()
        self.runs[run_id] = run
        self.order.append(run_id)
        for node in self.nodes:
            run.events[node] = []
            self._event(run, node, "INFO", "Validating services")
        return run

    def _event(self, run: FakeRun, node: str, severity: str, body: str) -> None:
        self.event_seq += 1
        run.events[node].append(
            {
                "timestamp": "2026-01-01T00:00:00+00:00",
                "severity_text": severity,
                "body": body,
                "hostname": node,
                "config_run_id": run.run_id,
                "span_parent_id": "0",
                "request_id": f"{node}:{self.event_seq:08d}",
            }
        )

    def post_config_apply(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        run_id = body.get("run_id") if isinstance(body, dict) else None
        if not isinstance(run_id, str) or not run_id:
            return httpx.Response(400, json={"message": "Bad request"})
        self._start(run_id)
        if self.drop_after_post:
            self.drop_after_post -= 1
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(200, json={"run_id": run_id})

    def _advance(self, run: FakeRun) -> None:
        for node in self.nodes:
            if run.polls[node] > 0:
                run.polls[node] -= 1
                if run.polls[node] == 0:
                    if node in run.fail_on:
                        self._event(run, node, "ERROR", "Reloading application services failed")
                    else:
                        self._event(run, node, "INFO", "Configuration run complete")

    def get_config_apply(self, request: httpx.Request) -> httpx.Response:
        run_id = request.url.params.get("run_id")
        if run_id is None:
            run = self.runs[self.order[-1]] if self.order else None
        elif run_id not in self.runs:
            return httpx.Response(400, json={"message": "Bad request"})
        else:
            run = self.runs[run_id]
        if run is None:
            return httpx.Response(200, json={"running": False, "successful": False, "nodes": []})
        self._advance(run)
        nodes = [
            {
                "run_id": run.run_id,
                "hostname": n,
                "running": not run.node_done(n),
                "successful": run.node_done(n) and n not in run.fail_on,
            }
            for n in self.nodes
        ]
        return httpx.Response(
            200,
            json={
                "running": any(x["running"] for x in nodes),
                # The top level may say what the first node says: only nodes[] is the truth.
                "successful": bool(nodes[0]["successful"]),
                "nodes": nodes,
            },
        )

    def get_config_apply_events(self, request: httpx.Request) -> httpx.Response:
        last = request.url.params.get("last_request_id")
        run = self.runs[self.order[-1]] if self.order else None
        answer = []
        for node in self.nodes:
            events = run.events[node] if run else []
            if last is not None:
                if not last.startswith(f"{node}:"):
                    # Another host's cursor: this host's answer starts from the beginning.
                    pass
                else:
                    events = [e for e in events if e["request_id"] > last]
            answer.append(
                {
                    "node": node,
                    "last_request_id": (
                        run.events[node][-1]["request_id"] if run and run.events[node] else ""
                    ),
                    "events": [{k: v for k, v in e.items() if k != "request_id"} for e in events],
                }
            )
        return httpx.Response(200, json={"nodes": answer})

    def get_maintenance(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json=[
                {"hostname": n, "uuid": _uuid(n), "status": "on" if self.maintenance else "off"}
                for n in self.nodes
            ],
        )


def _uuid(node: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, node))


def client_for(server: FakeManageApi, base_url: str, version: str | None = None) -> httpx.Client:
    """A client whose every exchange with the fake is validated against the official
    description of `version` (default: the newest vendored one): a request the client sends
    or an answer it is given that breaks the description fails the test."""
    wanted = version or vendored_versions()[-1]
    inner = httpx.MockTransport(server.handle)
    return httpx.Client(transport=validating_transport(wanted, inner), base_url=base_url)
