"""Presenter of `ghes-setup capture`: what was recorded and where. The capture itself is the
file the command writes (docs/schema/capture-v1.json); standard output only summarises it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ghes_setup.capture.service import CaptureWritten


def human(console: Console, written: CaptureWritten) -> None:
    result, target = written.result, written.path
    doc = result.document
    probes = doc["probes"]
    ok = sorted(n for n, p in probes.items() if p.get("ok") is True)
    skipped = sorted(n for n, p in probes.items() if p.get("ok") is None)

    def say(text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    version = doc["identity"].get("version") or "unknown version"
    via = "+".join(doc["transports"]) or "no admin transport"
    say(f"Captured {doc['hostname']} (GHES {version}, via {via}) to {target} (mode 0600).")
    plural = "" if result.redacted == 1 else "s"
    say(f"  {len(ok)} probes recorded, {result.redacted} secret value{plural} redacted:")
    for line in recorded_lines(doc):
        say(f"  - {line}")
    for name in skipped:
        say(f"  skipped {name}: {probes[name]['skipped']}")
    for name in result.failed:
        say(f"  FAILED {name}: {probes[name]['error']}")
    say(f"Next: ghes-setup facts verify {target}")


def recorded_lines(doc: dict[str, Any]) -> list[str]:
    """One line per section of the capture that holds something."""
    lines = []
    ident = doc["identity"]
    lines.append(
        f"identity: GHES {ident.get('version') or '?'}, topology {ident.get('topology') or '?'}"
    )
    if doc.get("settings") is not None:
        lines.append(f"Manage API settings: {len(doc['settings'])} fields")
    gc = doc.get("ghe_config")
    if gc is not None:
        fmt = gc["format"]
        lines.append(
            f"ghe-config -l: {len(gc['entries'])} keys, lines {fmt['line_format']}, -z "
            f"{'supported' if fmt['nul_separated'] else 'not supported'}, multi-line values "
            f"{fmt['multiline_values']}"
        )
    keys = doc.get("unverified_keys")
    if keys is not None:
        present = sum(1 for v in keys.values() if v["present"])
        lines.append(f"UNVERIFIED ghe-config keys: {present} of {len(keys)} set")
    if doc.get("maintenance") is not None:
        lines.append(f"maintenance mode: {doc['maintenance']['active']}")
    door = doc["front_door"]
    registry = door.get("registry") or {}
    if registry:
        lines.append(f"registry /v2/: HTTP {registry['http_status']}, realm {registry['realm']}")
    served = [h for h, chain in (door.get("certificates") or {}).items() if chain]
    if served:
        lines.append(f"certificates served for: {', '.join(served)}")
    answered = sum(1 for a in doc["dns"].values() if a.get("status") == "ok")
    lines.append(f"DNS: {answered} of {len(doc['dns'])} names resolve")
    return lines
