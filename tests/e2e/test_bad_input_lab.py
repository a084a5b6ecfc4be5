"""Bad input against a real appliance is still exit 3 and one line; a broken standard output
is exit 74 (Nagios: 3); no secret in any form reaches the output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult, assert_no_traceback
from tests.e2e.conftest import assert_no_secret

pytestmark = pytest.mark.lab


def test_passphrase_protected_identity_is_exit_3_saying_use_the_agent(
    lab: LabHandle, run_tool: Callable[..., CliResult], tmp_path: Path
) -> None:
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "a passphrase", "-f", str(key)], check=True
    )
    result = run_tool("config", "show", "--transport", "ssh", "--identity", str(key))
    assert result.exit_code == 3, result
    assert "protected by a passphrase" in result.stderr and "ssh-agent" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert_no_traceback(result)


def test_token_with_a_line_break_is_exit_3_and_never_shown(
    lab: LabHandle, run_tool: Callable[..., CliResult]
) -> None:
    token = lab.write_token
    result = run_tool("check", "--smoke", env={"GHES_SETUP_TOKEN": token[:12] + "\n" + token[12:]})
    assert result.exit_code == 3, result
    assert "GHES_SETUP_TOKEN" in result.stderr and "line break" in result.stderr
    assert token[:12] not in result.output and token[12:] not in result.output
    assert_no_secret(lab, result.output)


@pytest.mark.parametrize(("fmt", "code"), [("human", 74), ("json", 74), ("nagios", 3)])
def test_check_into_a_broken_pipe_is_one_line(lab: LabHandle, fmt: str, code: int) -> None:
    read, write = os.pipe()
    os.close(read)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GHES_SETUP_")},
        **lab.env,
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ghes_setup", "check", "--format", fmt],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
    finally:
        os.close(write)
    assert proc.returncode == code, proc
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert (
        proc.stderr.strip().splitlines()[-1].startswith("ghes-setup: standard output was closed")
    ), proc.stderr
