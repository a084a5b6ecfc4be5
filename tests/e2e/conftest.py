"""End-to-end tests: `up`, `check`, `snapshot`/`verify` against the lab appliance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult, CliRunner


@pytest.fixture
def run_tool(cli: CliRunner, lab: LabHandle, tmp_path: Path) -> Callable[..., CliResult]:
    """`ghes-setup ARGS` in-process with the lab's environment (snapshots under tmp_path)."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> CliResult:
        merged = {**lab.env, "XDG_STATE_HOME": str(tmp_path / "state"), **(env or {})}
        return cli(*args, env=merged)

    return invoke


def lab_secrets(lab: LabHandle) -> list[str]:
    return [
        lab.admin_password,
        lab.write_token,
        lab.read_token,
        lab.s3_secret_key,
        lab.s3_access_key,
        lab.site_key.read_text(),
    ]


def assert_no_secret(lab: LabHandle, *texts: str) -> None:
    for secret in lab_secrets(lab):
        for text in texts:
            assert secret.strip() not in text, "a lab secret was printed"


def site_with_certificate(
    lab: LabHandle, tmp_path: Path, names: list[str], *, stem: str = "issued"
) -> Path:
    """A copy of the lab's site file whose [tls] cert and key are a new certificate for
    `names`, issued by the lab's intermediate CA (written as tmp_path/STEM.pem and .key)."""
    from ghes_setup.lab import pki

    issued = pki.issue(pki.intermediate(lab.layout), names)
    cert, key = tmp_path / f"{stem}.pem", tmp_path / f"{stem}.key"
    cert.write_bytes(issued.chain_pem())
    key.write_bytes(issued.key_pem())
    return site_variant(lab, tmp_path, {"tls.cert": f'"{cert}"', "tls.key": f'"{key}"'})


def site_variant(lab: LabHandle, tmp_path: Path, replace: dict[str, str]) -> Path:
    """A copy of the lab's site file with some lines replaced (`key = value` by key)."""
    lines = lab.site_path.read_text().splitlines()
    section = ""
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]") + "."
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else None
        full = f"{section}{key}" if key else None
        if full in replace:
            out.append(f"{key} = {replace.pop(full)}")
        else:
            out.append(line)
    assert not replace, f"keys not in the site file: {replace}"
    path = tmp_path / "site.toml"
    path.write_text("\n".join(out) + "\n")
    return path
