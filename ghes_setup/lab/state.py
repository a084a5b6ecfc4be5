"""Small pieces of appliance state that are not settings: what was last applied, maintenance.

`applied.json` holds the settings as they were when the last config apply SUCCEEDED: the front
door, the registry and the storage checks run from it, not from the settings files, so that a
setting written but not yet applied changes nothing (as on GHES, where `ghe-config` and
`PUT /manage/v1/config/settings` take effect only after a config apply).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import Layout, write_private


@contextlib.contextmanager
def control_lock(layout: Layout) -> Iterator[None]:
    """Serialises everything that turns state into running services (apply, faults, up)."""
    layout.run.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
    """`GET /manage/v1/maintenance` for the one node; `status` is on, off or scheduled."""

    status: str = "off"
    scheduled_time: str | None = None
    ip_exception_list: list[str] = field(default_factory=list)
    maintenance_mode_message: str | None = None

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
        return Maintenance(**data)
    except (OSError, ValueError, TypeError):
        return Maintenance()


def write_maintenance(layout: Layout, value: Maintenance) -> None:
    write_private(layout.maintenance, json.dumps(asdict(value), indent=2) + "\n", 0o644)
