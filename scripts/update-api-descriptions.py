#!/usr/bin/env python3
"""Vendor the subset of GitHub's official GHES OpenAPI descriptions that ghes-setup uses.

GitHub publishes one OpenAPI description per GHES feature release; the npm package
`@octokit/openapi` ships them as `generated/ghes-3.NN.deref.json` (dereferenced: no `$ref`).
A release of the package carries only the few newest GHES releases, so this script packs as many
releases of the package as it takes (`npm pack`, newest first) to find every GHES feature release
from 3.12 (the first with the Manage API at parity, see docs/fidelity.md) to the newest one any
release carries, and takes each GHES version from the newest package release that has it.

For each version it writes `tests/contract/descriptions/ghes-3.NN.json` with only:

- every `/manage/v1/*` path (the Manage API; its operations carry their own `servers` entry
  `{protocol}://{hostname}`, i.e. the path is absolute on the appliance, not under `/api/v3`),
- `/user`,
- the package and package-version endpoints of `/orgs/{org}`, `/user` and `/users/{username}`:
  `/packages/{package_type}/{package_name}[/versions[/{package_version_id}]]`,

with prose (`description`, `summary`, `example(s)`, `externalDocs`) removed and every schema kept
exactly as published. `tests/contract/descriptions/provenance.json` records, per version, the
package release, the tarball's sha256, the path inside the tarball and the date of the update.

Tests read only the vendored files, never the network. Run from the repository root:

    python scripts/update-api-descriptions.py            # all releases needed
    python scripts/update-api-descriptions.py --keep DIR  # keep the downloaded tarballs in DIR

Needs `npm` (the npm registry); nothing else from outside.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@octokit/openapi"
FIRST_MINOR = 12  # GHES 3.12: the first release whose Manage API covers what the tool uses
OUT = Path(__file__).resolve().parent.parent / "tests" / "contract" / "descriptions"
MEMBER = re.compile(r"^package/generated/ghes-3\.(\d+)\.deref\.json$")
_OWNERS = r"(?:/orgs/\{org\}|/user|/users/\{username\})"
KEEP_PATH = re.compile(
    r"^(?:/manage/v1/.*"
    r"|/user"
    rf"|{_OWNERS}/packages/\{{package_type\}}/\{{package_name\}}"
    r"(?:/versions(?:/\{package_version_id\})?)?)$"
)
# Prose only: none of these changes what a request or a response may contain.
PROSE = {"description", "summary", "example", "examples", "externalDocs"}


def _semver_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", v.split("-")[0])[:3])


def strip_prose(node: Any, *, in_properties: bool = False) -> Any:
    """Drop prose keys, never a property that happens to be named `description`."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not in_properties and key in PROSE:
                continue
            out[key] = strip_prose(value, in_properties=(key == "properties" and not in_properties))
        return out
    if isinstance(node, list):
        return [strip_prose(item) for item in node]
    return node


def subset(doc: dict[str, Any]) -> dict[str, Any]:
    paths = {p: strip_prose(ops) for p, ops in sorted(doc["paths"].items()) if KEEP_PATH.match(p)}
    return {
        "openapi": doc["openapi"],
        "info": {"title": doc["info"].get("title", ""), "version": doc["info"].get("version", "")},
        "servers": doc.get("servers", []),
        "paths": paths,
    }


def npm_versions() -> list[str]:
    out = subprocess.run(
        ["npm", "view", PACKAGE, "versions", "--json"], check=True, capture_output=True, text=True
    ).stdout
    versions = [v for v in json.loads(out) if "-" not in v]
    return sorted(versions, key=_semver_key, reverse=True)


def npm_pack(version: str, dest: Path) -> Path:
    name = (
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{version}", "--silent", "--pack-destination", str(dest)],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return dest / name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the tarballs in this folder")
    args = parser.parse_args()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    found: dict[int, dict[str, Any]] = {}
    newest_seen = 0
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.keep or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        for version in npm_versions():
            existing = cache / f"octokit-openapi-{version}.tgz"
            tarball = existing if existing.exists() else npm_pack(version, cache)
            raw = tarball.read_bytes()
            sha = hashlib.sha256(raw).hexdigest()
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
                members = {int(m.group(1)): n for n in tar.getnames() if (m := MEMBER.match(n))}
                for minor, member in sorted(members.items()):
                    newest_seen = max(newest_seen, minor)
                    if minor < FIRST_MINOR or minor in found:
                        continue  # an older package release never overrides a newer one
                    handle = tar.extractfile(member)
                    assert handle is not None
                    doc = json.load(handle)
                    found[minor] = {
                        "doc": subset(doc),
                        "provenance": {
                            "package": PACKAGE,
                            "package_version": version,
                            "tarball_sha256": sha,
                            "source_path": member,
                            "retrieved": today,
                        },
                    }
                    print(f"ghes-3.{minor}: {PACKAGE}@{version} {member}", file=sys.stderr)
            if newest_seen and all(m in found for m in range(FIRST_MINOR, newest_seen + 1)):
                break
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("ghes-3.*.json"):
        old.unlink()
    provenance: dict[str, Any] = {"versions": {}, "missing": []}
    for minor in range(FIRST_MINOR, newest_seen + 1):
        if minor not in found:
            provenance["missing"].append(f"3.{minor}")
            print(f"ghes-3.{minor}: in no release of {PACKAGE}", file=sys.stderr)
            continue
        text = json.dumps(found[minor]["doc"], indent=1, sort_keys=True) + "\n"
        (OUT / f"ghes-3.{minor}.json").write_text(text, encoding="utf-8")
        provenance["versions"][f"3.{minor}"] = found[minor]["provenance"]
    (OUT / "provenance.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
