"""Small pieces of appliance state that are not settings: what was last applied, maintenance.

`applied.json` holds the settings as they were when the last config apply SUCCEEDED: the front
door, the registry and the storage checks run from it, not from the settings files, so that a
setting written but not yet applied changes nothing (as on GHES, where `ghe-config` and
`PUT /manage/v1/config/settings` take effect only after a config apply).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import uuid as uuid_module
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import Layout, flocked, write_private


@contextlib.contextmanager
def control_lock(layout: Layout) -> Iterator[None]:
    """Serialises everything that turns state into running services (apply, faults, up)."""
    layout.run.mkdir(parents=True, exist_ok=True)
    with flocked(layout.lock, flags=os.O_RDWR, mode=0o600):
        yield


def read_applied(layout: Layout) -> dict[str, str]:
    try:
        data = json.loads(layout.applied.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def write_applied(layout: Layout, values: dict[str, str]) -> None:
    write_private(layout.applied, json.dumps(values, indent=2, sort_keys=True) + "\n")


def is_true(values: dict[str, str], key: str, default: bool = False) -> bool:
    text = values.get(key)
    if text is None:
        return default
    return text.strip().lower() in ("true", "1", "yes", "on")


def registry_wanted(values: dict[str, str]) -> bool:
    """Packages enabled, storage configured, container ecosystem not disabled, and subdomain
    isolation on: the Container registry lives at containers.HOSTNAME only
    (docs/reference/ghes-facts.md §5.1). The apply engine checks the storage credentials before it
    gets here."""
    return (
        is_true(values, keys.PACKAGES_ENABLED)
        and is_true(values, keys.ISOLATION)
        and bool(values.get(keys.STORAGE_TYPE))
        and values.get(keys.CONTAINER_ECOSYSTEM, "true").strip().lower() != "false"
    )


def registry_readonly(values: dict[str, str]) -> bool:
    return values.get(keys.CONTAINER_ECOSYSTEM, "").strip().lower() == "readonly"


@dataclass
class Maintenance:
    """`GET /manage/v1/maintenance` (one state for every node); `status` is on, off or
    scheduled. `scheduled_time` and `maintenance_mode_message` are "" when unset: the official
    description types them as strings, never null."""

    status: str = "off"
    scheduled_time: str = ""
    ip_exception_list: list[str] = field(default_factory=list)
    maintenance_mode_message: str = ""

    def active(self, now: dt.datetime | None = None) -> bool:
        if self.status == "on":
            return True
        if self.status == "scheduled" and self.scheduled_time:
            when = dt.datetime.fromisoformat(self.scheduled_time)
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return (now or dt.datetime.now(dt.UTC)) >= when
        return False


def read_maintenance(layout: Layout) -> Maintenance:
    try:
        data: dict[str, Any] = json.loads(layout.maintenance.read_text(encoding="utf-8"))
        value = Maintenance(**data)
    except (OSError, ValueError, TypeError):
        return Maintenance()
    # Files written by an older lab hold null for "unset".
    value.scheduled_time = value.scheduled_time or ""
    value.maintenance_mode_message = value.maintenance_mode_message or ""
    return value


def write_maintenance(layout: Layout, value: Maintenance) -> None:
    """Record maintenance; `state/maintenance.on` exists while it is on, for nginx: the registry
    (containers.HOSTNAME/v2/) answers 503 then, like the web and API (a scheduled window
    turns the flag on at the next web, API or Manage API maintenance request)."""
    write_private(layout.maintenance, json.dumps(asdict(value), indent=2) + "\n", 0o644)
    sync_maintenance_flag(layout, value)


def maintenance_flag(layout: Layout) -> Path:
    return layout.state / "maintenance.on"


def sync_maintenance_flag(layout: Layout, value: Maintenance | None = None) -> None:
    current = value if value is not None else read_maintenance(layout)
    flag = maintenance_flag(layout)
    if current.active():
        if not flag.exists():
            write_private(flag, "on\n", 0o644)
    else:
        flag.unlink(missing_ok=True)


# --------------------------------------------------------------------------- topology
TOPOLOGIES = ("SingleNode", "Ha", "Cluster")
ALL_ROLES = (
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
)


@dataclass(frozen=True)
class Node:
    hostname: str
    uuid: str
    replica: bool
    cluster_roles: tuple[str, ...]
    local: bool  # the node the tool talks to (the lab's own servers)


@dataclass(frozen=True)
class Topology:
    """What `GET /manage/v1/config/nodes` presents (`lab topology`, LabHandle.set_topology).

    SingleNode: one node. Ha: a primary and a replica; with `replica` the node the tool talks
    to (the lab's hostname) is the replica and the primary is `ghe-lab-primary`. Cluster: three
    nodes, the lab's own first (with `replica`, the lab's node is a replica node of the
    cluster). Only the lab's own node has real servers; the others exist in the API answers:
    nodes, apply status and events, maintenance, version, status endpoints.
    """

    name: str = "SingleNode"
    replica: bool = False

    def nodes(self, hostname: str, local_uuid: str) -> list[Node]:
        def other(name: str, replica: bool) -> Node:
            node_uuid = str(uuid_module.uuid5(uuid_module.UUID(local_uuid), name))
            return Node(name, node_uuid, replica, ALL_ROLES, False)

        local = Node(hostname, local_uuid, self.replica, ALL_ROLES, True)
        if self.name == "Ha":
            if self.replica:
                return [other("ghe-lab-primary", False), local]
            return [local, other("ghe-lab-replica", True)]
        if self.name == "Cluster":
            return [local, other("ghe-lab-node2", False), other("ghe-lab-node3", False)]
        return [local]


def topology_file(layout: Layout) -> Path:
    return layout.state / "topology.json"


def read_topology(layout: Layout) -> Topology:
    try:
        data = json.loads(topology_file(layout).read_text(encoding="utf-8"))
        value = Topology(str(data["name"]), bool(data.get("replica", False)))
    except (OSError, ValueError, TypeError, KeyError):
        return Topology()
    return value if value.name in TOPOLOGIES else Topology()


def write_topology(layout: Layout, value: Topology) -> None:
    if value.name not in TOPOLOGIES:
        raise ValueError(f"unknown topology {value.name!r}; known: {', '.join(TOPOLOGIES)}")
    if value.name == "SingleNode" and value.replica:
        raise ValueError("a SingleNode appliance has no replica: use Ha or Cluster")
    write_private(topology_file(layout), json.dumps(asdict(value)) + "\n", 0o644)
