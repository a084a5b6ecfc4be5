"""Presenters of `lab status`: one line per part of the lab for humans, or a JSON document
(docs/schema/lab-status-v1.json).

The production layers may not import the lab (pyproject's import-linter contract), so the
result type is declared here, where both sides may import it: `lab.service.status` returns a
`LabStatus` whose parts are the lab's `ghes_setup.lab.parts.PartStatus` (a `LabPart`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO


class LabPart(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def answering(self) -> bool: ...
    @property
    def detail(self) -> str: ...
    @property
    def expected(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class LabStatus:
    """`lab.service.status`: the lab's hostname and address, and each part's state."""

    hostname: str
    address: str
    parts: Sequence[LabPart]

    @property
    def healthy(self) -> bool:
        """Every part that should run runs and answers (exit 0; else exit 1)."""
        return all(p.running and p.answering for p in self.parts if p.expected)


def document(result: LabStatus) -> dict[str, Any]:
    return {
        "hostname": result.hostname,
        "address": result.address,
        "healthy": result.healthy,
        "parts": [
            {
                "name": p.name,
                "running": p.running,
                "pid": p.pid,
                "endpoint": p.endpoint,
                "answering": p.answering,
                "detail": p.detail,
                "expected": p.expected,
            }
            for p in result.parts
        ],
    }


def human(out: TextIO, result: LabStatus) -> None:
    lines = [f"lab {result.hostname} on {result.address}"]
    for p in result.parts:
        state = "running" if p.running else "stopped"
        answer = "answering" if p.answering else "not answering"
        pid = f"pid {p.pid}" if p.pid else "no pid"
        extra = f"  ({p.detail})" if p.detail else ""
        lines.append(f"  {p.name:<9} {state:<8} {pid:<10} {p.endpoint:<40} {answer}{extra}")
    out.write("".join(f"{line}\n" for line in lines))
