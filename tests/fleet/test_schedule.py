"""`ghes-setup schedule`: the cron.d file and the systemd units it prints (no sockets).

The cron line is taken apart as cron reads it (five time fields, the user, the command) and
the units as systemd reads them (sections and keys); the interval table is checked both ways:
what cron can express evenly, and what it refuses with a hint.
"""

from __future__ import annotations

import configparser
import os
import shlex
import stat
from pathlib import Path

import pytest

from tests.conftest import CliResult, CliRunner, assert_no_traceback

HOSTNAME = "ghe.example.com"
SECRETS = {
    "GHES_SETUP_ADMIN_PASSWORD": "adm1n-pa55-never-shown",
    "GHES_SETUP_TOKEN": "ghp_token_value_never_shown_0123456789",
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f'hostname = "{HOSTNAME}"\n', encoding="utf-8")
    return path


def schedule(cli: CliRunner, site: Path, *args: str) -> CliResult:
    result = cli("schedule", "--site", str(site), *args, env=SECRETS)
    assert_no_traceback(result)
    for value in SECRETS.values():
        assert value not in result.output
    return result


def cron_entry(text: str) -> tuple[list[str], str, str]:
    """The one job line of a cron.d file: (five time fields, user, command)."""
    jobs = [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(jobs) == 1, text
    parts = jobs[0].split(None, 6)
    return parts[:5], parts[5], parts[6]


def unit(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def split_units(text: str) -> tuple[str, str]:
    marker = text.index("# ghes-setup-check.timer")
    return text[:marker], text[marker:]


# ---------------------------------------------------------------- cron


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        ("1m", "* * * * *"),
        ("60s", "* * * * *"),
        ("5m", "*/5 * * * *"),
        ("15m", "*/15 * * * *"),
        ("30m", "*/30 * * * *"),
        ("60m", "0 * * * *"),
        ("1h", "0 * * * *"),
        ("120m", "0 */2 * * *"),
        ("6h", "0 */6 * * *"),
        ("12h", "0 */12 * * *"),
        ("24h", "0 0 * * *"),
        ("1d", "0 0 * * *"),
    ],
)
def test_cron_line_has_five_time_fields_user_and_command(
    cli: CliRunner, site: Path, every: str, fields: str
) -> None:
    result = schedule(cli, site, "--every", every)
    assert result.exit_code == 0, result
    time_fields, user, command = cron_entry(result.stdout)
    assert " ".join(time_fields) == fields
    assert user == "root"
    argv = shlex.split(command.split(" 2>&1 | ")[0])
    assert argv[:3] == ["flock", "-n", "/run/lock/ghes-setup-check.lock"]
    executable = argv[argv.index("/etc/ghes-setup/ghes-setup-check.env") + 1]
    assert Path(executable).is_absolute() and Path(executable).name == "ghes-setup"
    check = argv[argv.index(executable) + 1 :]
    assert check == [
        "check",
        "--site",
        str(site),
        "--format",
        "prometheus",
        "--textfile",
        "/var/lib/prometheus/node-exporter/ghes-setup-check.prom",
        "--host-label",
        HOSTNAME,
    ]
    assert command.endswith("2>&1 | logger -t ghes-setup-check")


@pytest.mark.parametrize("every", ["7m", "45s", "90s", "90m", "5h", "25h", "2d", "7d"])
def test_cron_refuses_an_interval_it_cannot_repeat_evenly(
    cli: CliRunner, site: Path, every: str
) -> None:
    result = schedule(cli, site, "--every", every)
    assert result.exit_code == 3, result
    assert "cron cannot run a job every" in result.stderr
    assert "--systemd" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("every", ["0m", "5", "m5", "5 minutes", "1w", "-5m", "1.5h"])
def test_an_interval_that_is_not_number_and_unit_is_bad_input(
    cli: CliRunner, site: Path, every: str
) -> None:
    result = schedule(cli, site, "--every", every)
    assert result.exit_code == 3, result
    assert "--every" in result.stderr


def test_cron_file_escapes_percent_signs_which_cron_turns_into_newlines(
    cli: CliRunner, tmp_path: Path
) -> None:
    odd = tmp_path / "100%"
    odd.mkdir()
    site = odd / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    result = schedule(cli, site, "--every", "5m")
    assert result.exit_code == 0, result
    _, _, command = cron_entry(result.stdout)
    assert "100\\%/site.toml" in command
    assert "%" not in command.replace("\\%", "")


def test_cron_never_contains_a_secret_only_the_env_file_path(cli: CliRunner, site: Path) -> None:
    result = schedule(cli, site, "--every", "5m", "--smoke", "--env-file", "/srv/ghes/check.env")
    assert result.exit_code == 0, result
    assert "/srv/ghes/check.env" in result.stdout
    assert "install -m 0600" in result.stdout
    assert "GHES_SETUP_TOKEN=..." in result.stdout  # named, with --smoke, never valued
    _, _, command = cron_entry(result.stdout)
    assert " --smoke 2>&1" in command


def test_nagios_and_json_formats_write_no_textfile(cli: CliRunner, site: Path) -> None:
    for fmt in ("nagios", "json"):
        result = schedule(cli, site, "--every", "1m", "--format", fmt)
        assert result.exit_code == 0, result
        _, _, command = cron_entry(result.stdout)
        assert f"--format {fmt}" in command
        assert "--textfile" not in command


def test_textfile_with_a_format_other_than_prometheus_is_refused(
    cli: CliRunner, site: Path, tmp_path: Path
) -> None:
    result = schedule(cli, site, "--every", "5m", "--format", "json", "--textfile", "/x/y.prom")
    assert result.exit_code == 3, result
    assert "--textfile goes with --format prometheus" in result.stderr


def test_relative_paths_become_absolute(
    cli: CliRunner, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(site.parent)
    result = schedule(cli, Path("site.toml"), "--every", "5m", "--textfile", "out/ghes.prom")
    assert result.exit_code == 0, result
    _, _, command = cron_entry(result.stdout)
    assert f"--site {site} " in command
    assert f"--textfile {site.parent / 'out' / 'ghes.prom'} " in command


@pytest.mark.parametrize("name", ["ghes.check", "a b", "x/y", ""])
def test_a_name_cron_would_ignore_is_refused(cli: CliRunner, site: Path, name: str) -> None:
    result = schedule(cli, site, "--every", "5m", "--name", name)
    assert result.exit_code == 3, result
    assert "--name" in result.stderr


def test_user_and_name_and_executable_are_used(cli: CliRunner, site: Path) -> None:
    result = schedule(
        cli,
        site,
        "--every",
        "10m",
        "--user",
        "ghes-mon",
        "--name",
        "ghes-prod",
        "--executable",
        "/opt/ghes-setup/bin/ghes-setup",
    )
    assert result.exit_code == 0, result
    fields, user, command = cron_entry(result.stdout)
    assert (fields, user) == (["*/10", "*", "*", "*", "*"], "ghes-mon")
    assert "/run/lock/ghes-prod.lock" in command
    assert " /opt/ghes-setup/bin/ghes-setup check " in command
    assert "/etc/ghes-setup/ghes-prod.env" in command
    assert "/var/lib/prometheus/node-exporter/ghes-prod.prom" in command
    assert result.stdout.startswith("# /etc/cron.d/ghes-prod:")


def test_a_missing_site_file_is_a_note_not_an_error(cli: CliRunner, tmp_path: Path) -> None:
    result = schedule(cli, tmp_path / "elsewhere.toml", "--every", "5m", "--name", "ghes-prod")
    assert result.exit_code == 0, result
    assert "does not exist here" in result.stderr
    # No hostname to read here: a run that cannot read its site file is labelled by --name.
    _, _, command = cron_entry(result.stdout)
    assert " --host-label ghes-prod 2>&1 " in command


def test_a_broken_site_file_fails_now(cli: CliRunner, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text("hostname = \n", encoding="utf-8")
    result = schedule(cli, site, "--every", "5m")
    assert result.exit_code == 3, result


def test_site_from_the_root_option_or_ghes_setup_site(cli: CliRunner, site: Path) -> None:
    for result in (
        cli("--site", str(site), "schedule", "--every", "5m"),
        cli("schedule", "--every", "5m", env={"GHES_SETUP_SITE": str(site)}),
    ):
        assert result.exit_code == 0, result
        assert f"--site {site} " in cron_entry(result.stdout)[2]


def test_no_site_at_all_is_bad_input(cli: CliRunner) -> None:
    result = cli("schedule", "--every", "5m")
    assert result.exit_code == 3, result
    assert "--site" in result.stderr


# ---------------------------------------------------------------- systemd


def test_systemd_units_have_the_right_sections_and_keys(cli: CliRunner, site: Path) -> None:
    result = schedule(cli, site, "--every", "5m", "--systemd", "--user", "ghes-mon")
    assert result.exit_code == 0, result
    service_text, timer_text = split_units(result.stdout)
    service, timer = unit(service_text), unit(timer_text)
    assert service.sections() == ["Unit", "Service"]
    assert timer.sections() == ["Unit", "Timer", "Install"]
    svc = service["Service"]
    assert svc["Type"] == "oneshot"
    assert svc["User"] == "ghes-mon"
    assert svc["EnvironmentFile"] == "/etc/ghes-setup/ghes-setup-check.env"
    argv = shlex.split(svc["ExecStart"])
    assert Path(argv[0]).is_absolute()
    assert argv[1:] == [
        "check",
        "--site",
        str(site),
        "--format",
        "prometheus",
        "--textfile",
        "/var/lib/prometheus/node-exporter/ghes-setup-check.prom",
        "--host-label",
        HOSTNAME,
    ]
    assert svc["NoNewPrivileges"] == "yes"
    assert svc["ProtectSystem"] == "strict"
    assert svc["ReadWritePaths"] == "/var/lib/prometheus/node-exporter"
    assert svc["PrivateTmp"] == "yes"
    assert svc["CapabilityBoundingSet"] == ""
    assert svc["SuccessExitStatus"] == "1 7"
    assert timer["Timer"]["OnCalendar"] == "*-*-* *:00/5:00"
    assert "OnUnitActiveSec" not in timer["Timer"]
    assert timer["Timer"]["Unit"] == "ghes-setup-check.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    assert "0600" in service_text


@pytest.mark.parametrize(
    ("every", "span"), [("90s", "90s"), ("7m", "7min"), ("45s", "45s"), ("5h", "5h"), ("2d", "2d")]
)
def test_systemd_takes_intervals_cron_cannot(
    cli: CliRunner, site: Path, every: str, span: str
) -> None:
    result = schedule(cli, site, "--every", every, "--systemd")
    assert result.exit_code == 0, result
    timer = unit(split_units(result.stdout)[1])["Timer"]
    assert timer["OnUnitActiveSec"] == span
    assert timer["OnBootSec"] == span
    assert "OnCalendar" not in timer


def test_nagios_units_count_every_plugin_state_as_a_result(cli: CliRunner, site: Path) -> None:
    result = schedule(cli, site, "--every", "1m", "--systemd", "--format", "nagios")
    assert result.exit_code == 0, result
    service = unit(split_units(result.stdout)[0])["Service"]
    assert service["SuccessExitStatus"] == "1 2 3"
    assert "ReadWritePaths" not in service
    assert "--textfile" not in service["ExecStart"]


def test_systemd_doubles_percent_and_dollar_in_paths(cli: CliRunner, tmp_path: Path) -> None:
    odd = tmp_path / "a%b$c"
    odd.mkdir()
    site = odd / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n', encoding="utf-8")
    result = schedule(cli, site, "--every", "5m", "--systemd")
    assert result.exit_code == 0, result
    service = unit(split_units(result.stdout)[0])["Service"]
    assert "a%%b$$c/site.toml" in service["ExecStart"]


def test_out_dir_writes_the_files_0644_and_prints_their_paths(
    cli: CliRunner, site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "units"
    result = schedule(cli, site, "--every", "5m", "--systemd", "--out-dir", str(out))
    assert result.exit_code == 0, result
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert paths == [out / "ghes-setup-check.service", out / "ghes-setup-check.timer"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        for value in SECRETS.values():
            assert value not in path.read_text(encoding="utf-8")
    assert sorted(os.listdir(out)) == ["ghes-setup-check.service", "ghes-setup-check.timer"]


def test_help_names_the_options_and_an_example(cli: CliRunner) -> None:
    result = cli("schedule", "--help")
    assert result.exit_code == 0
    for option in ("--every", "--systemd", "--env-file", "--textfile", "--user", "--smoke"):
        assert option in result.stdout
    assert "Example: ghes-setup schedule" in result.stdout
