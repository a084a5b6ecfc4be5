"""Presenters of `facts list` (the facts ghes-setup relies on, ghes_setup/facts.py) and
`facts verify` (a capture's verdict on the UNVERIFIED ones): lines for humans, JSON documents
(docs/schema/facts-list-v1.json, facts-verify-v1.json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ghes_setup.capture.verify import FactsList, FactsVerified


def _say(console: Console, text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


# ------------------------------------------------------------------ facts list


def list_document(result: FactsList) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "facts": [
            {"id": r.id, "value": r.value, "source": r.source, "verified": r.verified}
            for r in result.rows
        ],
    }


def list_human(console: Console, result: FactsList) -> None:
    for r in result.rows:
        mark = "verified  " if r.verified else "UNVERIFIED"
        _say(console, f"{mark} {r.id} = {r.value}")
        _say(console, f"           source: {r.source}")
    unverified = sum(1 for r in result.rows if not r.verified)
    _say(
        console,
        f"{len(result.rows)} facts, {unverified} UNVERIFIED: settle them with "
        "`ghes-setup capture --out FILE` then `ghes-setup facts verify FILE`.",
    )


# ------------------------------------------------------------------ facts verify


def verify_document(result: FactsVerified) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "facts": [
            {"id": v.id, "verdict": v.verdict, "evidence": v.evidence} for v in result.verdicts
        ],
    }


def verify_human(console: Console, result: FactsVerified) -> None:
    from ghes_setup.capture.verify import fact_line

    def say(text: str) -> None:
        _say(console, text)

    capture = result.capture
    say(f"Facts judged from {capture} ({result.hostname}, GHES {result.version or 'unknown'}):")
    for v in result.verdicts:
        say(f"  {v.verdict:<12} {v.id}: {v.evidence}")
    counts = {
        k: sum(1 for v in result.verdicts if v.verdict == k)
        for k in ("confirmed", "contradicted", "unknown")
    }
    say(
        f"{counts['confirmed']} confirmed, {counts['contradicted']} contradicted, "
        f"{counts['unknown']} unknown."
    )
    bad = result.contradicted
    if bad:
        say("What to do with a contradiction:")
        for v in bad:
            say(f"  - {v.id}: change {fact_line(v.id)} to what the appliance shows")
        say(
            "  Until then, `up` and `config apply` with --facts-from "
            f"{capture} refuse to write a contradicted key over SSH."
        )
        say(
            "  Please report it (the fact id, the evidence line and the GHES version; never "
            "the capture's secrets, which are redacted anyway) in an issue of the ghes-setup "
            "repository, or contribute the redacted capture (`ghes-setup explain fidelity`)."
        )
    else:
        say(
            "Nothing contradicted. If a contradiction shows up: change the fact's line in "
            "ghes_setup/facts.py and report it with the redacted capture "
            "(`ghes-setup explain fidelity`)."
        )
