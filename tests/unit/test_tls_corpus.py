"""The bad-certificate corpus through `ghes-setup tls check`: exact statuses, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner, assert_no_traceback
from tests.schema import assert_valid_report
from tests.tls.corpus import CASES, CHECK_IDS, Case

EXIT_FOR = {"pass": 0, "warn": 0, "skip": 0, "error": 7, "fail": 1}
SEVERITY = ["skip", "pass", "warn", "error", "fail"]


def _args(case: Case, tmp_path: Path, fmt: str) -> list[str]:
    made = case.build(tmp_path)
    args = ["tls", "check", "--cert", str(made.cert), "--key", str(made.key)]
    args += ["--hostname", case.hostname, "--format", fmt, *case.args]
    if made.ca_file is not None:
        args += ["--ca-file", str(made.ca_file)]
    return args


def test_corpus_has_at_least_fifteen_bad_inputs() -> None:
    bad = [c for c in CASES if set(c.expected.values()) != {"pass"}]
    assert len(bad) >= 15


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus_case_reports_exact_statuses(cli: CliRunner, tmp_path: Path, case: Case) -> None:
    result = cli(*_args(case, tmp_path, "json"))
    assert_no_traceback(result)
    document = result.json()
    assert_valid_report(document)
    statuses = {r["id"]: r["status"] for r in document["results"]}
    assert tuple(statuses) == CHECK_IDS
    assert statuses == dict(case.expected), result
    worst = max(case.expected.values(), key=SEVERITY.index)
    assert document["status"] == worst
    assert result.exit_code == EXIT_FOR[worst], result
    if case.says:
        noteworthy = [r for r in document["results"] if r["status"] not in ("pass", "skip")]
        text = " ".join(r["summary"] + " " + (r["remedy"] or "") for r in noteworthy)
        for words in case.says:
            assert words in text, (words, text)
        assert all(r["remedy"] for r in noteworthy), "every non-pass result needs a remedy"


@pytest.mark.parametrize("case", [c for c in CASES if c.expected["tls-pem"] == "fail"], ids=str)
def test_corpus_case_in_human_format_prints_no_traceback(
    cli: CliRunner, tmp_path: Path, case: Case
) -> None:
    result = cli(*_args(case, tmp_path, "human"))
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
