"""Fault injection: one file per active fault in DIR/faults, read by whoever must misbehave.

A fault file holds how many more times the fault fires (one-shot faults) or `on` (faults that
last until cleared). Claiming a one-shot fault decrements it under an flock on
DIR/faults/.lock, the same lock the admin shell's `ghe-config` takes (bash `flock`), so two
claimants never both fire the last count. Each firing is appended to DIR/faults/fired.log.

| fault           | who fires it                     | effect                                   |
| ssh-drop        | ghe-config (bash), first write   | kills the session's sshd (SIGKILL)       |
| api-503         | labd, Manage API handler         | the next N Manage API calls answer 503   |
| apply-fail      | labd, apply engine               | the next config apply fails at a service |
| apply-fail-node2| labd, apply engine (multi-node)  | the next run fails on the first node that |
|                 |                                  | is not the lab's own; the lab's succeeds  |
| registry-503    | nginx sends /v2/ to labd's proxy | the next blob upload fails mid-body      |
| dns-no-wildcard | dnsmasq, apex only               | NXDOMAIN for other names                 |
| cert-expired    | nginx, expired certificate       | until cleared                            |
| storage-down    | the S3 server stops listening,   | connection refused, until cleared (the   |
|                 | Azurite is stopped               | objects are kept)                        |
| storage-bad-credentials | the S3 server drops the lab's access key, Azurite restarts with |
|                 | another account key              | InvalidAccessKeyId / AuthorizationFailure |
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os

from ghes_setup.lab.layout import Layout, flocked

ONE_SHOT = ("ssh-drop", "api-503", "apply-fail", "apply-fail-node2", "registry-503")
LASTING = ("dns-no-wildcard", "cert-expired", "storage-down", "storage-bad-credentials")
NAMES = ONE_SHOT + LASTING


def _locked(layout: Layout) -> contextlib.AbstractContextManager[None]:
    return flocked(layout.faults / ".lock", flags=os.O_RDONLY, mode=0o644)


def set_fault(layout: Layout, name: str, count: int = 1) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(NAMES)}")
    with _locked(layout):
        text = f"{max(count, 1)}\n" if name in ONE_SHOT else "on\n"
        path = layout.faults / name
        path.write_text(text, encoding="ascii")
        os.chmod(path, 0o666)  # noqa: S103 - the admin shell user decrements ssh-drop


def clear(layout: Layout, name: str | None = None) -> None:
    with _locked(layout):
        for fault in NAMES if name is None else (name,):
            with contextlib.suppress(FileNotFoundError):
                (layout.faults / fault).unlink()


def active(layout: Layout) -> dict[str, str]:
    found = {}
    for name in NAMES:
        with contextlib.suppress(OSError):
            found[name] = (layout.faults / name).read_text(encoding="ascii").strip()
    return found


def is_active(layout: Layout, name: str) -> bool:
    return (layout.faults / name).exists()


def claim(layout: Layout, name: str, note: str = "") -> bool:
    """Fire a one-shot fault once if it is armed; True if the caller must misbehave now."""
    path = layout.faults / name
    if not path.exists():
        return False
    with _locked(layout):
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return False
        left = int(text) if text.isdigit() else 1
        if left > 1:
            path.write_text(f"{left - 1}\n", encoding="ascii")
        else:
            path.unlink()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with (layout.faults / "fired.log").open("a", encoding="utf-8") as log:
            log.write(f"{stamp} {name} {note}".rstrip() + "\n")
    return True


def fired(layout: Layout) -> list[str]:
    try:
        return (layout.faults / "fired.log").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
