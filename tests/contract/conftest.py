"""Fixtures for the contract tests: labs running as a chosen GHES release, and clients on them.

- `lab_as` (session): `lab_as("3.12")` starts (once per session) a dedicated lab that imitates
  GHES 3.12.0, on its own random 127.77.X.1, and stops it at the end of the session. The
  schemathesis runs use these, never the shared `lab`: they POST config/apply, maintenance and
  access/ssh and PUT settings with generated data.
- `validated_manage(lab, version)`: an httpx client on the lab's Manage API whose every exchange is
  checked against the official description (tests/contract/validate.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import httpx
import pytest

from ghes_setup.lab.handle import LabHandle
from tests.contract.validate import validating_transport
from tests.fixtures.lab import (
    APPLY_SECONDS,
    free_lab_address,
    lab_command,
    make_lab_dir,
    require_lab_prerequisites,
)
from tests.lab.conftest import MappedTransport


@pytest.fixture(scope="session")
def lab_as() -> Iterator[Callable[[str], LabHandle]]:
    started: dict[str, LabHandle] = {}

    def start(release: str) -> LabHandle:
        if release in started:
            return started[release]
        require_lab_prerequisites()
        directory = make_lab_dir()
        up = lab_command(
            "up",
            "--dir", str(directory),
            "--address", free_lab_address(),
            "--apply-seconds", APPLY_SECONDS,
            "--ghes-version", f"{release}.0",
        )  # fmt: skip
        if up.returncode != 0:
            lab_command("down", "--dir", str(directory))
            pytest.fail(f"lab up {release} failed:\n{up.stdout}{up.stderr}", pytrace=False)
        started[release] = LabHandle.open(directory)
        return started[release]

    try:
        yield start
    finally:
        for handle in started.values():
            down = lab_command("down", "--dir", str(handle.dir))
            if down.returncode != 0:  # pragma: no cover - shown in the session output
                sys.stderr.write(f"lab down failed: {down.stdout}{down.stderr}\n")


def validated_manage(lab: LabHandle, version: str | None = None) -> httpx.Client:
    """httpx on the lab's Manage API (Basic api_key:PASSWORD), validated against `version`
    (default: the lab's own feature release)."""
    import ssl

    release = version or ".".join(lab.ghes_version.split(".")[:2])
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    inner = MappedTransport(lab.hostname, lab.address, verify=ctx)
    return httpx.Client(
        transport=validating_transport(release, inner),
        base_url=f"https://{lab.hostname}:{lab.ports.api}",
        auth=("api_key", lab.admin_password),
        timeout=30,
    )


def validated_rest(lab: LabHandle, token: str, version: str | None = None) -> httpx.Client:
    """httpx on the lab's REST API (`/api/v3`, PAT), validated against `version`."""
    import ssl

    release = version or ".".join(lab.ghes_version.split(".")[:2])
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    inner = MappedTransport(lab.hostname, lab.address, verify=ctx)
    return httpx.Client(
        transport=validating_transport(release, inner),
        base_url=f"https://{lab.hostname}:{lab.ports.https}",
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
