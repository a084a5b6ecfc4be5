#!/usr/bin/env python3
"""Regenerate tests/contract/captures/lab-X.Y.json: the lab's own capture at the oldest and the
newest supported release, and the edited fixture of tests/contract/test_captures.py.

Run as root (the lab binds ports 53/122/443):  python scripts/capture-lab-fixtures.py [ADDRESS]

For each release: a lab on ADDRESS (default 127.77.209.1), prepared as the site file wants
(isolation, the site certificate, Packages with the lab storage, applied), then
`ghes-setup capture`, then `lab down`. The captures are redacted like any other: no lab secret
is in them (tests/contract/test_captures.py checks the markers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ghes_setup.facts import TESTED_RELEASES  # noqa: E402
from ghes_setup.lab.handle import LabHandle  # noqa: E402

OUT = ROOT / "tests" / "contract" / "captures"
PATCH = {"3.12": "3.12.9", "3.19": "3.19.1"}


def ghes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ghes_setup", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def capture_release(feature: str, address: str) -> dict[str, object]:
    directory = Path(tempfile.mkdtemp(prefix="ghes-lab-fixture-", dir="/tmp"))
    directory.chmod(0o755)
    up = ghes(
        "lab", "up", "--dir", str(directory), "--address", address, "--ghes-version", PATCH[feature]
    )
    if up.returncode != 0:
        raise SystemExit(f"lab up {feature} failed: {up.stdout}{up.stderr}")
    try:
        lab = LabHandle.open(directory)
        lab.prepare_registry()
        out = directory / "capture.json"
        result = ghes("capture", "--out", str(out), env=lab.env)
        if result.returncode != 0:
            raise SystemExit(f"capture {feature} failed: {result.stdout}{result.stderr}")
        return dict(json.loads(out.read_text(encoding="utf-8")))
    finally:
        ghes("lab", "down", "--dir", str(directory))


def edited(capture: dict[str, object]) -> dict[str, object]:
    """The same capture as if the appliance kept subdomain isolation under another key."""
    doc = json.loads(json.dumps(capture))
    entries = doc["ghe_config"]["entries"]
    entries["core.subdomain-isolation-enabled"] = entries.pop("core.subdomain-isolation")
    doc["unverified_keys"]["core.subdomain-isolation"] = {"present": False, "kind": None}
    return dict(doc)


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.77.209.1"
    oldest, newest = str(TESTED_RELEASES[0].version), str(TESTED_RELEASES[-1].version)
    for feature in (oldest, newest):
        doc = capture_release(feature, address)
        (OUT / f"lab-{feature}.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        print(f"wrote {OUT / f'lab-{feature}.json'}")
        if feature == newest:
            target = OUT / "edited" / f"lab-{feature}-isolation-key-renamed.json"
            target.write_text(json.dumps(edited(doc), indent=2, sort_keys=True) + "\n")
            print(f"wrote {target}")


if __name__ == "__main__":
    main()
