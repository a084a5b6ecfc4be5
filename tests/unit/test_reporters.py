"""Reporters are pure functions of a Report: JSON (schema), Nagios, Prometheus, human."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from pathlib import Path

import pytest

from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.errors import InputError
from ghes_setup.exit_codes import ExitCode, NagiosCode, for_error, for_status
from ghes_setup.reporting import human, json_report, nagios, prometheus
from ghes_setup.secrets import Secret
from tests.schema import assert_valid_report


def result(check_id: str, status: Status, **kw: object) -> CheckResult:
    return CheckResult(
        id=check_id,
        area=check_id.split("-")[0],
        status=status,
        summary=f"{check_id} is {status.value}",
        **kw,
    )  # type: ignore[arg-type]


def report(*statuses: Status) -> Report:
    results = tuple(result(f"tls-c{i}", s) for i, s in enumerate(statuses))
    return Report("tls check", results, target="ghe.example.com")


EXPIRY = CheckResult(
    id="tls-expiry",
    area="tls",
    status=Status.WARN,
    summary="expires in 12 days",
    remedy="renew the certificate",
    metrics={"days_left": 12.0},
    thresholds={"days_left": ("30:", "7:")},
    duration_s=0.002,
)


def test_json_document_has_the_contract_shape_and_validates() -> None:
    doc = json.loads(json_report.render(Report("tls check", (EXPIRY,), "ghe.example.com")))
    assert_valid_report(doc)
    assert doc["schema_version"] == 1
    assert doc["command"] == "tls check"
    assert doc["status"] == "warn"
    assert doc["results"][0] == {
        "id": "tls-expiry",
        "area": "tls",
        "status": "warn",
        "summary": "expires in 12 days",
        "remedy": "renew the certificate",
        "details": {},
        "metrics": {"days_left": 12.0},
        "duration_s": 0.002,
    }


def test_schema_rejects_a_document_missing_a_field() -> None:
    doc = json.loads(json_report.render(report(Status.PASS)))
    del doc["results"][0]["remedy"]
    with pytest.raises(AssertionError, match="remedy"):
        assert_valid_report(doc)


def test_json_never_contains_secret_values_even_in_details() -> None:
    secret = Secret("hunter2-is-not-a-password", "GHES_SETUP_ADMIN_PASSWORD")
    r = CheckResult(
        id="appliance-reachable",
        area="appliance",
        status=Status.FAIL,
        summary=f"login with {secret.reveal()} failed",
        details={"pw": secret},
    )
    text = json_report.render(Report("check", (r,)))
    assert "hunter2-is-not-a-password" not in text
    assert_valid_report(json.loads(text))


@pytest.mark.parametrize(
    ("statuses", "code", "word"),
    [
        ((Status.PASS, Status.SKIP), NagiosCode.OK, "OK"),
        ((Status.PASS, Status.WARN), NagiosCode.WARNING, "WARNING"),
        ((Status.WARN, Status.ERROR), NagiosCode.UNKNOWN, "UNKNOWN"),
        ((Status.ERROR, Status.FAIL), NagiosCode.CRITICAL, "CRITICAL"),
    ],
)
def test_nagios_status_line_and_code(
    statuses: tuple[Status, ...], code: NagiosCode, word: str
) -> None:
    text, got = nagios.render(report(*statuses))
    assert got is code
    first = text.splitlines()[0]
    assert first.startswith(f"GHES-SETUP {word} - ")


def test_nagios_perfdata_carries_thresholds_and_long_output_lists_problems() -> None:
    text, code = nagios.render(Report("check", (EXPIRY, result("dns-wildcard", Status.PASS))))
    first, *rest = text.splitlines()
    assert code is NagiosCode.WARNING
    assert "| 'tls-expiry.days_left'=12;30:;7:;;" in first
    assert first.count("|") == 1
    assert rest == ["[warn] tls-expiry: expires in 12 days (remedy: renew the certificate)"]


def test_nagios_summary_never_contains_a_pipe_from_a_summary() -> None:
    r = CheckResult(id="dns-wildcard", area="dns", status=Status.FAIL, summary="a | b\nc")
    first = nagios.render(Report("check", (r,)))[0].splitlines()[0]
    assert "|" not in first and "a / b c" in first


PROM_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfNa]+$'
)


def parse_exposition(text: str) -> dict[str, float]:
    """Every sample line parses; HELP/TYPE precede their samples; returns samples."""
    samples: dict[str, float] = {}
    typed: set[str] = set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        assert PROM_LINE.match(line), line
        name = line.split("{")[0].split(" ")[0]
        assert name in typed, f"{name} has no # TYPE"
        key, value = line.rsplit(" ", 1)
        samples[key] = float(value)
    return samples


def test_prometheus_exposition_parses_and_has_one_status_per_check() -> None:
    samples = parse_exposition(
        prometheus.render(Report("check", (EXPIRY,), "ghe.example.com"), now=1.0)
    )
    labels = 'check="tls-expiry",area="tls",host="ghe.example.com"'
    assert samples[f'ghes_setup_check_status{{{labels},status="warn"}}'] == 1
    assert samples[f'ghes_setup_check_status{{{labels},status="pass"}}'] == 0
    assert samples[f"ghes_setup_check_days_left{{{labels}}}"] == 12
    assert (
        samples['ghes_setup_last_run_timestamp_seconds{command="check",host="ghe.example.com"}']
        == 1
    )


def test_prometheus_label_values_are_escaped() -> None:
    r = Report('we"ird\\cmd', (result("dns-x", Status.PASS),))
    parse_exposition(prometheus.render(r))


def test_textfile_is_written_atomically_with_readable_mode(tmp_path: Path) -> None:
    target = tmp_path / "ghes.prom"
    target.write_text("old\n")
    seen: list[str] = []
    stop = threading.Event()

    def reader() -> None:  # a collector reading while we write never sees a partial file
        while not stop.is_set():
            seen.append(target.read_text())

    t = threading.Thread(target=reader)
    t.start()
    big = "x" * 2_000_000 + "\n"
    for _ in range(5):
        prometheus.write_textfile(target, big)
    stop.set()
    t.join()
    assert all(s in ("old\n", big) for s in seen)
    assert target.read_text() == big
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["ghes.prom"]  # no temp file left behind


def test_textfile_in_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        prometheus.write_textfile(tmp_path / "nope" / "x.prom", "x\n")


def test_human_report_shows_id_status_summary_and_remedy() -> None:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(human.render(Report("tls check", (EXPIRY,), "ghe.example.com")))
    text = console.export_text()
    for part in ("tls-expiry", "warn", "expires in 12 days", "renew the certificate", "overall"):
        assert part in text


@pytest.mark.parametrize(
    ("status", "strict", "code"),
    [
        (Status.PASS, False, ExitCode.OK),
        (Status.SKIP, False, ExitCode.OK),
        (Status.WARN, False, ExitCode.OK),
        (Status.WARN, True, ExitCode.CHECK_FAILED),
        (Status.ERROR, False, ExitCode.NOT_EVALUATED),
        (Status.FAIL, False, ExitCode.CHECK_FAILED),
    ],
)
def test_exit_code_for_status(status: Status, strict: bool, code: ExitCode) -> None:
    assert for_status(status, strict=strict) is code


def test_exit_code_for_errors_follows_the_table() -> None:
    from ghes_setup import errors

    assert for_error(errors.SiteFileError("x")) == 3
    assert for_error(errors.MaterialError("x")) == 3
    assert for_error(errors.Unreachable("x")) == 4
    assert for_error(errors.AuthenticationFailed("x")) == 4
    assert for_error(errors.HostKeyNotTrusted("x")) == 4
    assert for_error(errors.UnsupportedVersion("x")) == 5
    assert for_error(errors.ApplyFailed("x")) == 6
    assert for_error(errors.ApplianceResponseError("x")) == 7
    assert for_error(KeyboardInterrupt()) == 130
    assert for_error(ZeroDivisionError()) == 70
