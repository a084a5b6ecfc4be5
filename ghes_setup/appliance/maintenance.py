"""Is the appliance in maintenance mode? Read where a transport can say, None where it cannot.

In maintenance mode GHES answers web and API requests with 503 (docs: "Enabling and scheduling
maintenance mode"), the Container registry at containers.HOSTNAME included. A 503 there is
then expected, not a registry failure: `registry-ping` asks this module before it says which.

- Manage API: `GET /manage/v1/maintenance` (documented: one entry per node, `status` on, off
  or scheduled); the Management Console port stays up in maintenance.
- SSH: `ghe-maintenance -q` (command-line-utilities.md) prints whether it is set.

Never raises: a state that cannot be read is None ("unknown"), and the caller says so.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.errors import GhesSetupError


@runtime_checkable
class ReadsMaintenance(Protocol):
    def maintenance(self) -> bool | None:
        """True in maintenance mode, False not, None when it cannot tell."""


def in_maintenance(transport: ApplianceTransport) -> bool | None:
    """Whether the appliance behind `transport` is in maintenance mode; None: unknown."""
    candidates: list[object] = []
    for attr in ("api", "ssh"):  # a RoutedTransport: the API first, it answers in maintenance
        inner = getattr(transport, attr, None)
        if inner is not None:
            candidates.append(inner)
    candidates.append(transport)
    for candidate in candidates:
        if isinstance(candidate, ReadsMaintenance):
            try:
                state = candidate.maintenance()
            except GhesSetupError:
                continue
            if state is not None:
                return state
    return None


def parse_ghe_maintenance(output: str) -> bool | None:
    """`ghe-maintenance -q` output: "maintenance mode set" / "maintenance mode not set"."""
    text = output.lower()
    if "not set" in text:
        return False
    if "maintenance mode set" in text:
        return True
    return None
