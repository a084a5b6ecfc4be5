"""The scheduled files, run by the programs that will really read them.

- The cron line is executed with /bin/sh as cron does (after cron's own `\\%` unescaping),
  with a stand-in `ghes-setup` that records its arguments and environment, and a stand-in
  `logger` on PATH: the secrets arrive from the env file, the output reaches the logger with
  the job's tag, and a second run while the first is going exits at once (flock -n).
- The systemd units are read by `systemd-analyze verify` and the timer's calendar by
  `systemd-analyze calendar`.

These need flock, timeout (util-linux, coreutils) and systemd-analyze (systemd): a missing one
fails the test with what to install.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.fleet.test_schedule import cron_entry, split_units, unit

PASSWORD = "pa ss$word;&|\\n-end"  # a space, a dollar, shell operators: single-quoted in the file


def need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: apt-get install util-linux coreutils systemd",
            pytrace=False,
        )


@pytest.fixture
def job_name() -> Iterator[str]:
    name = f"ghes-test-{uuid.uuid4().hex[:8]}"
    yield name
    Path(f"/run/lock/{name}.lock").unlink(missing_ok=True)


@pytest.fixture
def stand_ins(tmp_path: Path) -> Path:
    """bin/ghes-setup records argv + the secret env and prints to both streams; fakebin/logger
    appends what it is given; both write under tmp_path."""
    bin_dir, fake_bin = tmp_path / "bin", tmp_path / "fakebin"
    bin_dir.mkdir()
    fake_bin.mkdir()
    recorder = bin_dir / "ghes-setup"
    recorder.write_text(
        "#!/usr/bin/python3\n"
        "import json, os, sys, time\n"
        f"out = {str(tmp_path / 'runs.jsonl')!r}\n"
        "with open(out, 'a') as fh:\n"
        "    fh.write(json.dumps({'argv': sys.argv[1:], 'password':"
        " os.environ.get('GHES_SETUP_ADMIN_PASSWORD')}) + '\\n')\n"
        "print('check says hello')\n"
        "print('check complains', file=sys.stderr)\n"
        f"if os.path.exists({str(tmp_path / 'slow')!r}):\n"
        "    time.sleep(3)\n",
        encoding="utf-8",
    )
    recorder.chmod(0o755)
    logger = fake_bin / "logger"
    logger.write_text(
        f'#!/bin/sh\necho "args: $*" >> {tmp_path / "log.txt"}\ncat >> {tmp_path / "log.txt"}\n',
        encoding="utf-8",
    )
    logger.chmod(0o755)
    env_file = tmp_path / "check.env"
    env_file.write_text(f"GHES_SETUP_ADMIN_PASSWORD='{PASSWORD}'\n", encoding="utf-8")
    env_file.chmod(0o600)
    return tmp_path


def cron_command(cli: CliRunner, tmp: Path, name: str) -> str:
    site = tmp / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    result = cli(
        "schedule",
        "--site",
        str(site),
        "--every",
        "5m",
        "--format",
        "nagios",
        "--name",
        name,
        "--executable",
        str(tmp / "bin" / "ghes-setup"),
        "--env-file",
        str(tmp / "check.env"),
    )
    assert result.exit_code == 0, result
    _, _, command = cron_entry(result.stdout)
    return command.replace("\\%", "%")  # what cron does before handing it to /bin/sh


def run_as_cron(command: str, tmp: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/bin/sh", "-c", command],
        env={"PATH": f"{tmp / 'fakebin'}:/usr/bin:/bin", "HOME": str(tmp)},
        cwd="/",
    )


def runs(tmp: Path) -> list[dict[str, object]]:
    path = tmp / "runs.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_cron_line_runs_check_with_secrets_from_the_env_file_and_logs_its_output(
    cli: CliRunner, stand_ins: Path, job_name: str
) -> None:
    need("flock", "timeout")
    command = cron_command(cli, stand_ins, job_name)
    assert PASSWORD not in command
    proc = run_as_cron(command, stand_ins)
    assert proc.wait(timeout=30) == 0
    [run] = runs(stand_ins)
    assert run["password"] == PASSWORD
    assert run["argv"] == [
        "check",
        "--site",
        str(stand_ins / "site.toml"),
        "--format",
        "nagios",
    ]
    log = (stand_ins / "log.txt").read_text(encoding="utf-8")
    assert f"args: -t {job_name}" in log
    assert "check says hello" in log
    assert "check complains" in log
    assert PASSWORD not in log


def test_cron_line_skips_a_run_while_the_previous_one_is_going(
    cli: CliRunner, stand_ins: Path, job_name: str
) -> None:
    need("flock", "timeout")
    command = cron_command(cli, stand_ins, job_name)
    (stand_ins / "slow").touch()
    first = run_as_cron(command, stand_ins)
    deadline = time.monotonic() + 10
    while not runs(stand_ins) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(runs(stand_ins)) == 1
    started = time.monotonic()
    second = run_as_cron(command, stand_ins)
    assert second.wait(timeout=10) == 0  # the pipeline's status is logger's
    assert time.monotonic() - started < 2.5  # did not wait for the lock
    assert first.wait(timeout=30) == 0
    assert len(runs(stand_ins)) == 1


def test_a_missing_env_file_stops_the_run_and_says_so_in_the_log(
    cli: CliRunner, stand_ins: Path, job_name: str
) -> None:
    need("flock", "timeout")
    command = cron_command(cli, stand_ins, job_name)
    (stand_ins / "check.env").unlink()
    assert run_as_cron(command, stand_ins).wait(timeout=30) == 0
    assert runs(stand_ins) == []
    assert "check.env" in (stand_ins / "log.txt").read_text(encoding="utf-8")


def analyze_verify(units: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` of the timer in `units` (and the service it starts)."""
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "ghes-setup-check.timer"],
        cwd=units,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )


@pytest.mark.parametrize(("every", "calendar"), [("5m", True), ("2h", True), ("90s", False)])
def test_systemd_analyze_verify_accepts_the_units(
    cli: CliRunner, tmp_path: Path, every: str, calendar: bool
) -> None:
    need("systemd-analyze")
    site = tmp_path / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    (tmp_path / "prom").mkdir()
    out = tmp_path / "units"
    result = cli(
        "schedule",
        "--site",
        str(site),
        "--every",
        every,
        "--systemd",
        "--smoke",
        "--textfile",
        str(tmp_path / "prom" / "ghes.prom"),
        "--out-dir",
        str(out),
    )
    assert result.exit_code == 0, result
    verify = analyze_verify(out)
    assert verify.returncode == 0, verify.stderr
    assert "Unknown" not in verify.stderr and "ignoring" not in verify.stderr, verify.stderr
    timer = unit((out / "ghes-setup-check.timer").read_text(encoding="utf-8"))["Timer"]
    assert ("OnCalendar" in timer) is calendar


def test_systemd_analyze_accepts_paths_with_spaces_and_percent_signs(
    cli: CliRunner, tmp_path: Path
) -> None:
    """EnvironmentFile= takes the rest of its line as the path: quoting it made systemd ignore
    the file ("path is not absolute"), and the check then ran without its secrets."""
    need("systemd-analyze")
    odd = tmp_path / "my dir %x"
    (odd / "prom").mkdir(parents=True)
    site = odd / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    env_file = odd / "check 1.env"
    env_file.write_text("GHES_SETUP_ADMIN_PASSWORD=x\n", encoding="utf-8")
    out = tmp_path / "units"
    result = cli(
        "schedule", "--site", str(site), "--every", "5m", "--systemd",
        "--env-file", str(env_file), "--textfile", str(odd / "prom" / "ghes.prom"),
        "--out-dir", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result
    verify = analyze_verify(out)
    assert verify.returncode == 0, verify.stderr
    assert "ignoring" not in verify.stderr and "not absolute" not in verify.stderr, verify.stderr
    service = unit((out / "ghes-setup-check.service").read_text(encoding="utf-8"))["Service"]
    assert service["EnvironmentFile"] == str(env_file).replace("%", "%%")


@pytest.mark.parametrize(("every", "gap_s"), [("1m", 60), ("5m", 300), ("2h", 7200), ("1d", 86400)])
def test_timer_calendar_elapses_at_the_interval(
    cli: CliRunner, tmp_path: Path, every: str, gap_s: int
) -> None:
    need("systemd-analyze")
    site = tmp_path / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    result = cli("schedule", "--site", str(site), "--every", every, "--systemd")
    assert result.exit_code == 0, result
    spec = unit(split_units(result.stdout)[1])["Timer"]["OnCalendar"]
    shown = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=3", spec],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC", "LC_ALL": "C"},
    ).stdout
    stamps = [
        datetime.strptime(line.split(":", 1)[1].strip(), "%a %Y-%m-%d %H:%M:%S %Z")
        for line in shown.splitlines()
        if "Next elapse" in line or "Iter. #" in line
    ]
    assert len(stamps) == 3, shown
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(stamps)}
    assert gaps == {gap_s}
