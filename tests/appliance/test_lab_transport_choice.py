"""`transport = auto` against the lab: no silent fallback to SSH for an API that is offered.

An API that presents a certificate we cannot verify, or refuses the admin password, stops the
run (exit 4) and nothing is written; an API that is not offered (its port closed) lets the run
go on over SSH, and the output and the JSON say so (`appliance-reachable` warn,
`details.transport`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from ghes_setup.lab.handle import LabHandle
from tests.appliance.test_lab_config import ISOLATION, Run
from tests.conftest import CliRunner

pytestmark = pytest.mark.lab


@pytest.fixture
def run(cli: CliRunner, fresh_lab: LabHandle, tmp_path: Path) -> Iterator[Run]:
    runner = Run(cli, fresh_lab, tmp_path / "state")
    yield runner
    fresh_lab.clear_faults()


def closed_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_auto_stops_on_an_api_certificate_it_cannot_verify(run: Run, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    before = run.lab.settings().get(ISOLATION)
    result = run("config", "apply", "--yes", env={"GHES_SETUP_CONNECTION_CA_FILE": str(other_ca)})
    assert result.exit_code == 4, result
    assert "not trusted" in result.stderr
    assert "stopping instead of falling back to SSH" in result.stderr
    assert "--ca-file" in result.stderr
    assert run.lab.settings().get(ISOLATION) == before  # nothing written, not even over SSH


def test_auto_stops_on_a_refused_admin_password(run: Run) -> None:
    before = run.lab.settings().get(ISOLATION)
    result = run(
        "config", "apply", "--yes", env={"GHES_SETUP_ADMIN_PASSWORD": "not-the-password-42"}
    )
    assert result.exit_code == 4, result
    assert "refused the admin password" in result.stderr
    assert "stopping instead of falling back to SSH" in result.stderr
    assert run.lab.settings().get(ISOLATION) == before


def test_auto_with_the_api_port_closed_goes_over_ssh_and_says_so(run: Run) -> None:
    port = closed_port(run.lab.address)
    env = {"GHES_SETUP_CONNECTION_API_PORT": str(port)}
    result = run("check", "--format", "json", env=env)
    reachable = next(r for r in result.json()["results"] if r["id"] == "appliance-reachable")
    assert reachable["status"] == "warn", reachable
    assert reachable["details"]["transport"] == "ssh"
    assert "not offered" in reachable["details"]["transport_reason"]
    applied = run("config", "apply", "--yes", "--format", "json", env=env)
    assert applied.exit_code == 0, applied
    assert "using SSH only" in applied.stderr
    assert applied.json()["via"] == "ssh"
    assert "not offered" in applied.json()["transport_note"]
    assert run.lab.settings()[ISOLATION] == "true"
