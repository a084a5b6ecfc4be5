"""Prometheus side without a lab: the `host` label on every line, `ghes_setup_up`, the rules.

`promtool check/test rules` against textfiles from real runs is in tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.reporting import prometheus
from tests.conftest import CliRunner
from tests.unit.test_reporters import parse_exposition

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "templates" / "monitoring" / "ghes-setup.rules.yml"
ALERTS = [
    "GhesCheckFailing",
    "GhesCheckWarning",
    "GhesCheckCannotEvaluate",
    "GhesCheckCannotRun",
    "GhesCertificateExpiresSoon",
    "GhesCheckStale",
    "GhesCheckMissing",
]
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)\{(?P<labels>.*)\} (?P<value>\S+)$")


def sample_lines(text: str) -> list[re.Match[str]]:
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    matches = [SAMPLE.match(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m]


def failed_run(cli: CliRunner, tmp_path: Path, site: Path, *extra: str) -> str:
    target = tmp_path / "ghes.prom"
    target.write_text('ghes_setup_run_status{status="pass"} 1\n')  # the last good run
    result = cli("check", "--site", str(site), "--format", "prometheus",
                 "--textfile", str(target), *extra)  # fmt: skip
    assert result.exit_code == 3, result
    return target.read_text()


def test_a_site_file_that_parses_but_is_invalid_still_gives_its_hostname(
    cli: CliRunner, tmp_path: Path
) -> None:
    site = tmp_path / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n[connection]\nssh_port = "not a port"\n')
    text = failed_run(cli, tmp_path, site, "--host-label", "ghes-prod")
    samples = parse_exposition(text)
    run = 'command="check",host="ghe.example.com"'
    assert samples[f"ghes_setup_up{{{run}}}"] == 0
    assert samples[f"ghes_setup_run_exit_code{{{run}}}"] == 3
    assert samples[f'ghes_setup_run_status{{{run},status="error"}}'] == 1
    assert f"ghes_setup_last_run_timestamp_seconds{{{run}}}" in samples
    assert all('host="ghe.example.com"' in m["labels"] for m in sample_lines(text))


@pytest.mark.parametrize("content", [None, "hostname = \n", "\x00\x01 not toml"])
def test_an_unreadable_site_file_falls_back_to_the_schedules_host_label(
    cli: CliRunner, tmp_path: Path, content: str | None
) -> None:
    site = tmp_path / "site.toml"
    if content is not None:
        site.write_text(content)
    text = failed_run(cli, tmp_path, site, "--host-label", "ghes-prod")
    lines = sample_lines(text)
    assert {m["name"] for m in lines} == {
        "ghes_setup_up",
        "ghes_setup_run_exit_code",
        "ghes_setup_run_status",
        "ghes_setup_last_run_timestamp_seconds",
    }
    assert all('host="ghes-prod"' in m["labels"] for m in lines)


def test_the_environment_hostname_wins_over_the_file_like_for_a_real_run(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('hostname = "from-file.example.com"\n')
    env = {"GHES_SETUP_HOSTNAME": "from-env.example.com"}
    assert prometheus.failure_host(site, "label", env) == "from-env.example.com"
    assert prometheus.failure_host(site, "label", {}) == "from-file.example.com"
    assert prometheus.failure_host(None, "label", {"GHES_SETUP_SITE": str(site)}) == (
        "from-file.example.com"
    )
    assert prometheus.failure_host(None, None, {}) == ""


def _report(*results: CheckResult) -> Report:
    return Report("check", results, target="ghe.example.com")


def _up(text: str) -> float:
    return parse_exposition(text)['ghes_setup_up{command="check",host="ghe.example.com"}']


def test_up_is_0_when_the_appliance_could_not_be_reached_1_when_one_check_errors() -> None:
    unreachable = _report(
        CheckResult("dns-hostname", "dns", Status.PASS, "ok"),
        CheckResult("appliance-reachable", "appliance", Status.ERROR, "connection refused"),
    )
    one_error = _report(
        CheckResult("appliance-reachable", "appliance", Status.PASS, "GHES 3.17.4"),
        CheckResult("packages-enabled", "packages", Status.ERROR, "needs the admin shell"),
    )
    offline = Report("tls check", (CheckResult("tls-pem", "tls", Status.FAIL, "bad"),), "x")
    assert _up(prometheus.render(unreachable, now=1.0)) == 0
    assert _up(prometheus.render(one_error, now=1.0)) == 1
    assert parse_exposition(prometheus.render(offline))[
        'ghes_setup_up{command="tls check",host="x"}'
    ]


def test_exit_code_metric_is_the_commands() -> None:
    report = _report(CheckResult("tls-served", "tls", Status.WARN, "expires soon"))
    samples = parse_exposition(prometheus.render(report, exit_code=1))
    assert samples['ghes_setup_run_exit_code{command="check",host="ghe.example.com"}'] == 1
    samples = parse_exposition(prometheus.render(report))
    assert samples['ghes_setup_run_exit_code{command="check",host="ghe.example.com"}'] == 0


def test_monitoring_rules_prints_the_shipped_file_with_its_alerts(cli: CliRunner) -> None:
    result = cli("monitoring", "rules")
    assert result.exit_code == 0, result
    assert result.stdout == RULES.read_text()
    document = yaml.safe_load(result.stdout)
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert [rule["alert"] for rule in rules] == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert "{{ $labels.host }}" in rule["annotations"]["summary"] or rule["alert"] == (
            "GhesCheckMissing"
        )


def test_every_metric_a_rule_uses_is_one_the_tool_writes() -> None:
    written = prometheus.render(
        _report(
            CheckResult("tls-served", "tls", Status.PASS, "ok", metrics={"days_left": 40.0}),
        )
    )
    names = {m["name"] for m in sample_lines(written)}
    used = set(re.findall(r"ghes_setup_[a-z_]+", RULES.read_text()))
    assert used <= names, used - names
