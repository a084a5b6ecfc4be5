"""The one line a run stopped by Ctrl-C or SIGTERM ends with: where it was, what it left behind.

Derived only from the progress events the command emitted (`ghes_setup.progress`), in the
order the apply pipeline emits them (appliance/apply.py): `snapshot` (its path when done),
`push` (settings written when it finishes "ok"), `config apply` ("starting run R"), then
verification and the registry/smoke steps of `up`. A write without a successful configuration
run after it is *pending*: stored, not applied (docs/appliance.md). A configuration run that
was started keeps running on the appliance when we stop following it (`ghe-config-apply`
runs detached there), so the line says so instead of guessing its outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

WRITE_STEP = "push"
APPLY_STEP = "config apply"


@dataclass
class _State:
    step: str | None = None
    snapshot: str | None = None
    write_started: bool = False
    written: bool = False
    run_id: str | None = None
    applied: bool = False
    apply_failed: bool = False
    apply_seen_running: bool = False  # the run was polled: it did start


def _follow(events: Iterable[tuple[str, str]]) -> _State:
    st = _State()
    for kind, text in events:
        if kind == "stage":
            name, _, detail = text.partition(": ")
            st.step = name
            if name == WRITE_STEP:
                st.write_started = True
            elif name == APPLY_STEP:
                found = re.search(r"\brun (\S+)", detail)
                st.run_id = found.group(1) if found else st.run_id
                st.applied = False
                st.apply_seen_running = False
        elif kind == "advance" and st.step == APPLY_STEP:
            # Waiting is reported only once the run was started and polled; a log line
            # could be a retry of the request that starts it.
            st.apply_seen_running = True
        elif kind == "finish":
            ok = text.startswith("ok")
            detail = text.partition(" ")[2]
            if st.step == "snapshot" and ok and detail:
                st.snapshot = detail
            elif st.step == WRITE_STEP and ok:
                st.written = True
            elif st.step == APPLY_STEP:
                found = re.search(r"\brun (\S+)", detail)
                st.run_id = found.group(1) if found else st.run_id
                st.applied = ok and "not waiting" not in detail
                st.apply_failed = not ok
    return st


def interrupted_line(events: Iterable[tuple[str, str]]) -> str:
    """`interrupted at STEP; the appliance was left ...` (no trailing period, no newline)."""
    st = _follow(events)
    where = f"interrupted at {st.step}" if st.step else "interrupted"
    rollback = f"; to undo: ghes-setup config rollback {st.snapshot}" if st.snapshot else ""
    if not st.write_started:
        if st.run_id is None:
            return f"{where}; the appliance was not changed"
        # Nothing written by this run, but a configuration run started for the settings an
        # earlier one stored (pending): what follows says how far that run got.
    elif not st.written:
        return (
            f"{where}; the appliance was left with the settings possibly written, not applied "
            f"(pending): run the command again to finish{rollback}"
        )
    elif st.run_id is None or (st.step == WRITE_STEP):
        return (
            f"{where}; the appliance was left with the settings stored but not applied "
            f"(pending, no configuration run started): run the command again to apply them"
            f"{rollback}"
        )
    if st.apply_failed:
        return (
            f"{where}; the appliance was left with the settings stored but not applied "
            f"(configuration run {st.run_id} failed){rollback}"
        )
    if not st.applied and not st.apply_seen_running:
        # The stage is announced just before the run is requested: it may not exist.
        return (
            f"{where}; the appliance was left with the settings stored; configuration run "
            f"{st.run_id} may not have started (then they are pending, not applied): see "
            f"`ghes-setup check`, then run the command again{rollback}"
        )
    if not st.applied:
        return (
            f"{where}; the appliance was left with configuration run {st.run_id} still running "
            "(the settings are stored; they are applied only if that run succeeds): see "
            f"`ghes-setup check` once it ends, then run the command again{rollback}"
        )
    return (
        f"{where}; the appliance was left with the settings stored and applied (configuration "
        f"run {st.run_id} succeeded): run the command again to finish the remaining steps"
    )
