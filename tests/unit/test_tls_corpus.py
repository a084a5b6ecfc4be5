"""The bad-certificate corpus through `ghes-setup tls check`: exact statuses, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner, assert_no_traceback
from tests.tls.corpus import CASES, Case, assert_reports_exactly, tls_check_args


def test_corpus_has_at_least_fifteen_bad_inputs() -> None:
    bad = [c for c in CASES if set(c.expected.values()) != {"pass"}]
    assert len(bad) >= 15


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus_case_reports_exact_statuses(cli: CliRunner, tmp_path: Path, case: Case) -> None:
    assert_reports_exactly(cli, tmp_path, case)


@pytest.mark.parametrize("case", [c for c in CASES if c.expected["tls-pem"] == "fail"], ids=str)
def test_corpus_case_in_human_format_prints_no_traceback(
    cli: CliRunner, tmp_path: Path, case: Case
) -> None:
    result = cli(*tls_check_args(case, tmp_path, "human"))
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert "tls-pem" in result.stdout and "FAIL" in result.stdout


def test_garbage_input_in_a_real_process_prints_no_traceback(
    cli_subprocess: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "cert.pem").write_bytes(b"\x00\x01garbage")
    (tmp_path / "key.pem").write_bytes(b"")
    result = cli_subprocess(
        "tls", "check", "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem"),
        "--hostname", "ghe.example.com",
    )  # fmt: skip
    assert_no_traceback(result)
    assert result.exit_code == 1
    # The human table wraps long paths; read the words from the JSON document instead.
    doc = cli_subprocess(
        "tls", "check", "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem"),
        "--hostname", "ghe.example.com", "--format", "json",
    ).json()  # fmt: skip
    pem = next(r for r in doc["results"] if r["id"] == "tls-pem")
    assert "not PEM" in pem["summary"]
    assert "empty" in pem["summary"]
