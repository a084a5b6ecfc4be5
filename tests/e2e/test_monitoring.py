"""The shipped Prometheus rules, run by promtool on textfiles `check` really wrote.

Each test runs `ghes-setup check --format prometheus --textfile FILE` against the lab (healthy,
failing, one check that cannot be evaluated, an appliance that cannot be reached, a site file
that cannot be read), turns the file into a promtool unit test's `input_series` (the series as
node_exporter's textfile collector would serve them, with its `instance` and `job` labels, the
run repeated every minute), and asserts with `promtool test rules` which alerts fire, with
which labels and annotations. promtool comes from Debian's `prometheus` package
(scripts/install-system-deps.sh); without it these tests fail, never skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from ghes_setup.lab.handle import LabHandle
from tests.conftest import CliResult
from tests.e2e.conftest import site_variant

pytestmark = pytest.mark.lab

RULES_TEXT_CMD = ("monitoring", "rules")
INSTANCE = {"instance": "monitor.example.com:9100", "job": "node"}
ALERTS = (
    "GhesCheckFailing",
    "GhesCheckWarning",
    "GhesCheckCannotEvaluate",
    "GhesCheckCannotRun",
    "GhesCertificateExpiresSoon",
    "GhesCheckStale",
    "GhesCheckMissing",
)
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\} (?P<value>\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
STEPS = 40  # minutes of input series

RunTool = Callable[..., CliResult]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing: apt-get install prometheus (scripts/install-system-deps.sh)",
            pytrace=False,
        )
    return path


@pytest.fixture
def rules_file(run_tool: RunTool, tmp_path: Path) -> Path:
    """The rules as `ghes-setup monitoring rules` prints them, checked by promtool."""
    result = run_tool(*RULES_TEXT_CMD)
    assert result.exit_code == 0, result
    path = tmp_path / "ghes-setup.rules.yml"
    path.write_text(result.stdout)
    check = subprocess.run([promtool(), "check", "rules", str(path)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in check.stdout
    return path


# ------------------------------------------------------------------ textfile -> promtool


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = dict(LABEL.findall(match["labels"]))
        out.append((match["name"], labels, float(match["value"])))
    return out


def selector(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())  # values still escaped
    return f"{name}{{{inner}}}"


def input_series(text: str, *, stamp_values: str | None = None) -> list[dict[str, str]]:
    """The textfile as node_exporter serves it while the job rewrites it every minute: each
    value constant, the run's timestamp advancing with the clock (or `stamp_values`)."""
    series = []
    for name, labels, value in samples(text):
        if name == "ghes_setup_last_run_timestamp_seconds":
            values = stamp_values or f"0+60x{STEPS}"
        else:
            values = f"{value:g}+0x{STEPS}"
        series.append({"series": selector(name, {**labels, **INSTANCE}), "values": values})
    return series


def run_promtool(
    tmp_path: Path, rules: Path, series: Sequence[Mapping[str, str]], tests: list[dict[str, Any]]
) -> None:
    document = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": list(series), "alert_rule_test": tests}],
    }
    path = tmp_path / "promtool-test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", str(path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def expected_annotations(
    rules: Path, alert: str, labels: Mapping[str, str], value: str = ""
) -> dict[str, str]:
    """The rule's annotations with the template filled in the way Prometheus fills it (the
    few constructs the shipped rules use)."""
    document = yaml.safe_load(rules.read_text())
    rule = next(r for g in document["groups"] for r in g["rules"] if r.get("alert") == alert)
    out = {}
    for key, text in rule["annotations"].items():
        text = re.sub(
            r"\{\{ if \$labels\.(\w+) \}\}(.*?)(?:\{\{ else \}\}(.*?))?\{\{ end \}\}",
            lambda m: m[2] if labels.get(m[1]) else (m[3] or ""),
            text,
            flags=re.S,
        )
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], ""), text)
        text = re.sub(r"\{\{ \$value[^}]*\}\}", value, text)
        assert "{{" not in text, text
        out[key] = text
    return out


def alert_test(
    rules: Path,
    alert: str,
    firing: Sequence[Mapping[str, str]] = (),
    *,
    at: str = "30m",
    value: str = "",
    severity: str | None = None,
) -> dict[str, Any]:
    document = yaml.safe_load(rules.read_text())
    rule = next(r for g in document["groups"] for r in g["rules"] if r.get("alert") == alert)
    exp = []
    for labels in firing:
        full = {**labels, "severity": severity or rule["labels"]["severity"]}
        exp.append(
            {"exp_labels": full, "exp_annotations": expected_annotations(rules, alert, full, value)}
        )
    return {"eval_time": at, "alertname": alert, "exp_alerts": exp}


def silent(rules: Path, *alerts: str, at: str = "30m") -> list[dict[str, Any]]:
    return [alert_test(rules, a, at=at) for a in alerts]


def status_labels(text: str, status: str) -> list[dict[str, str]]:
    """The labels of every check whose status in the file is `status` (with INSTANCE)."""
    return [
        {**labels, **INSTANCE}
        for name, labels, value in samples(text)
        if name == "ghes_setup_check_status" and labels["status"] == status and value == 1
    ]


def run_labels(text: str) -> dict[str, str]:
    _, labels, _ = next(s for s in samples(text) if s[0] == "ghes_setup_up")
    return {**labels, **INSTANCE}


def write_textfile(run_tool: RunTool, tmp_path: Path, *args: str, code: int, **kw: Any) -> str:
    target = tmp_path / "ghes.prom"
    result = run_tool(
        "check", "--format", "prometheus", "--textfile", str(target), "--timeout", "3", *args, **kw
    )
    assert result.exit_code == code, result
    assert result.stdout == ""
    return target.read_text()


def assert_host_everywhere(text: str, host: str) -> None:
    for name, labels, _ in samples(text):
        assert labels.get("host") == host, (name, labels)


# ------------------------------------------------------------------ the runs


def test_healthy_run_fires_nothing(
    registry_lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    text = write_textfile(run_tool, tmp_path, code=0)
    assert_host_everywhere(text, registry_lab.hostname)
    assert run_labels(text)["host"] == registry_lab.hostname
    run_promtool(tmp_path, rules_file, input_series(text), silent(rules_file, *ALERTS))


def test_failing_run_fires_gheschecksfailing_for_each_failing_check_after_10_minutes(
    fresh_lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    text = write_textfile(run_tool, tmp_path, code=1)
    failing = status_labels(text, "fail")
    # A fresh appliance: isolation off, Packages off, the default certificate.
    assert {f["check"] for f in failing} >= {"subdomain-isolation", "packages-enabled"}
    assert all(f["host"] == fresh_lab.hostname for f in failing)
    others = [a for a in ALERTS if a != "GhesCheckFailing"]
    run_promtool(
        tmp_path,
        rules_file,
        input_series(text),
        [
            alert_test(rules_file, "GhesCheckFailing", at="5m"),  # pending: for 10m
            alert_test(rules_file, "GhesCheckFailing", failing),
            *silent(rules_file, *others),
        ],
    )


def test_a_warning_that_lasts_fires_ghescheckwarning_after_30_minutes(
    registry_lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    # The lab's certificate has about 395 days left: with warn_days 400, tls-served warns
    # (exit 0) and nothing else does.
    text = write_textfile(run_tool, tmp_path, code=0, env={"GHES_SETUP_TLS_WARN_DAYS": "400"})
    warning = status_labels(text, "warn")
    assert [w["check"] for w in warning] == ["tls-served"], warning
    others = [a for a in ALERTS if a != "GhesCheckWarning"]
    run_promtool(
        tmp_path,
        rules_file,
        input_series(text),
        [
            alert_test(rules_file, "GhesCheckWarning", at="20m"),  # pending: for 30m
            alert_test(rules_file, "GhesCheckWarning", warning, at="35m"),
            *silent(rules_file, *others, at="35m"),
        ],
    )


def test_a_check_that_cannot_be_evaluated_fires_cannotevaluate_not_cannotrun(
    registry_lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    # Over the Manage API only, the Packages settings cannot be read (they need the admin
    # shell): packages-enabled is `error`, everything else passes; exit 7.
    text = write_textfile(run_tool, tmp_path, "--transport", "api", code=7)
    errors = status_labels(text, "error")
    assert [e["check"] for e in errors] == ["packages-enabled"]
    assert run_labels(text)["host"] == registry_lab.hostname
    others = [a for a in ALERTS if a != "GhesCheckCannotEvaluate"]
    run_promtool(
        tmp_path,
        rules_file,
        input_series(text),
        [alert_test(rules_file, "GhesCheckCannotEvaluate", errors), *silent(rules_file, *others)],
    )


def test_unreachable_appliance_fires_cannotrun_with_the_sites_hostname(
    lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    dead = lab.address.rsplit(".", 1)[0] + ".250"  # nothing listens there: closed ports
    site = site_variant(lab, tmp_path, {
        "connection.address": f'"{dead}"', "connection.nameservers": f'["{dead}:53"]',
    })  # fmt: skip
    text = write_textfile(run_tool, tmp_path, "--site", str(site), code=7,
                          env={"GHES_SETUP_CONNECTION_NAMESERVERS": f"{dead}:53"})  # fmt: skip
    assert_host_everywhere(text, lab.hostname)
    run = run_labels(text)
    others = [a for a in ALERTS if a != "GhesCheckCannotRun"]
    run_promtool(
        tmp_path,
        rules_file,
        input_series(text),
        [
            alert_test(rules_file, "GhesCheckCannotRun", [run]),
            # Every check is `error` here, but CannotRun says it once, not 13 times.
            *silent(rules_file, *others),
        ],
    )


@pytest.mark.parametrize(
    ("content", "host"),
    [
        ('hostname = "ghe.broken.example"\n[connection]\nssh_port = "x"\n', "ghe.broken.example"),
        (None, "ghes-prod"),  # the site file is gone: the schedule's --host-label
    ],
)
def test_a_site_file_that_cannot_be_used_fires_cannotrun_with_a_host(
    lab: LabHandle,
    run_tool: RunTool,
    rules_file: Path,
    tmp_path: Path,
    content: str | None,
    host: str,
) -> None:
    site = tmp_path / "site.toml"
    if content is not None:
        site.write_text(content)
    text = write_textfile(run_tool, tmp_path, "--site", str(site), "--host-label", "ghes-prod",
                          code=3)  # fmt: skip
    assert_host_everywhere(text, host)
    run = run_labels(text)
    assert run["command"] == "check"
    others = [a for a in ALERTS if a != "GhesCheckCannotRun"]
    run_promtool(
        tmp_path,
        rules_file,
        input_series(text),
        [alert_test(rules_file, "GhesCheckCannotRun", [run]), *silent(rules_file, *others)],
    )


def test_expired_certificate_fires_expiressoon_and_failing(
    registry_lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    registry_lab.fault("cert-expired")
    try:
        text = write_textfile(run_tool, tmp_path, code=1)
    finally:
        registry_lab.clear_faults()
    days = next(v for n, labels, v in samples(text) if n == "ghes_setup_check_days_left")
    assert days < 0
    served = {**next(lb for n, lb, _ in samples(text) if n == "ghes_setup_check_days_left"),
              **INSTANCE}  # fmt: skip
    run_promtool(
        tmp_path,
        rules_file,
        input_series(text),
        [
            alert_test(rules_file, "GhesCertificateExpiresSoon", [served], value=f"{days:.0f}"),
            alert_test(rules_file, "GhesCheckFailing", status_labels(text, "fail")),
            # The Manage API (8443) serves the same certificate: the tool cannot trust it
            # either, so the run could not look at the settings (appliance-reachable error).
            alert_test(rules_file, "GhesCheckCannotRun", [run_labels(text)]),
            *silent(rules_file, "GhesCheckCannotEvaluate", "GhesCheckStale", "GhesCheckMissing"),
        ],
    )


def test_a_job_that_stops_writing_fires_stale_then_missing_when_the_file_goes(
    registry_lab: LabHandle, run_tool: RunTool, rules_file: Path, tmp_path: Path
) -> None:
    text = write_textfile(run_tool, tmp_path, code=0)
    run = run_labels(text)
    # The job runs for 10 minutes, then stops: the file stays, its timestamp ages.
    stale = input_series(text, stamp_values=f"0+60x10 600+0x{STEPS - 11}")
    run_promtool(
        tmp_path,
        rules_file,
        stale,
        [
            alert_test(rules_file, "GhesCheckStale", at="20m"),  # 10 minutes old: not yet
            alert_test(rules_file, "GhesCheckStale", [run], at="30m", value="20m 0s"),
            *silent(rules_file, "GhesCheckMissing", "GhesCheckCannotRun", at="30m"),
        ],
    )
    # The file is deleted after 10 minutes: every series ends.
    gone = [{**s, "values": s["values"].rsplit("x", 1)[0] + "x10"} for s in input_series(text)]
    missing = {k: v for k, v in run.items() if k in ("command", "host", "instance", "job")}
    run_promtool(
        tmp_path,
        rules_file,
        gone,
        [
            alert_test(rules_file, "GhesCheckMissing", [missing], at="40m"),
            *silent(rules_file, "GhesCheckStale", "GhesCheckCannotRun", at="40m"),
        ],
    )


def test_no_metrics_at_all_fires_missing_without_a_host(rules_file: Path, tmp_path: Path) -> None:
    other = [{"series": 'up{instance="monitor.example.com:9100",job="node"}', "values": "1+0x40"}]
    run_promtool(
        tmp_path,
        rules_file,
        other,
        [alert_test(rules_file, "GhesCheckMissing", [{}], at="20m")],
    )


def test_the_promtool_example_in_docs_passes(rules_file: Path, tmp_path: Path) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
    match = re.search(r"```yaml\n(# ghes-setup-test\.yml.*?)```", page.read_text(), re.S)
    assert match, "docs/monitoring.md lost its promtool example"
    example = match[1].replace("/etc/prometheus/rules.d/ghes-setup.yml", str(rules_file))
    path = tmp_path / "ghes-setup-test.yml"
    path.write_text(example)
    result = subprocess.run([promtool(), "test", "rules", str(path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
