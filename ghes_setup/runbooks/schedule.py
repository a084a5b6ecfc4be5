"""`ghes-setup schedule`: run `ghes-setup check` on a timer, as a cron.d file or systemd units.

Builds, from a typed request, the files an admin installs: one `/etc/cron.d/NAME` file, or a
`NAME.service` + `NAME.timer` pair for `/etc/systemd/system/`. The text comes from the jinja2
templates in `templates/schedule/`; this module only decides what goes into them.

What it must not do: put a secret in a file it renders. The check's secrets
(GHES_SETUP_ADMIN_PASSWORD, GHES_SETUP_TOKEN, ...) live in an environment file the admin
creates with mode 0600; the rendered files only name that file. It never reads the secrets,
and it does not install anything: writing into /etc is the admin's (or the playbook's) job.

Intervals: cron repeats on wall-clock fields, so it can only express an interval that divides
the next larger unit evenly (every 5 minutes, every 2 hours, daily). Anything else (every 7
minutes, every 90 seconds) would run at uneven gaps; it is refused with a hint to pick another
interval or `--systemd`, whose monotonic timers (`OnUnitActiveSec=`) take any interval.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal

from ghes_setup.errors import InputError
from ghes_setup.exit_codes import ExitCode
from ghes_setup.files import write_file

CRON_DIR: Final = Path("/etc/cron.d")
SYSTEMD_DIR: Final = Path("/etc/systemd/system")
ENV_DIR: Final = Path("/etc/ghes-setup")
# Debian's prometheus-node-exporter reads this folder (the package's built-in default for
# --collector.textfile.directory); upstream's packages have no default, so it is an option.
TEXTFILE_DIR: Final = Path("/var/lib/prometheus/node-exporter")
LOCK_DIR: Final = Path("/run/lock")  # 1777 on Debian: any --user can take a lock there
DEFAULT_NAME: Final = "ghes-setup-check"
# Debian's cron ignores /etc/cron.d files whose names have anything else (run-parts rules),
# e.g. a dot: a file named `ghes.check` would silently never run.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\$?$")  # useradd's NAME_REGEX, Debian default
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A stuck check must not run forever (it would hold the cron lock and block every later run):
# it is stopped after one interval, but never before this.
MIN_TIMEOUT_S: Final = 120
# The secrets `ghes-setup check` may read from its environment: (name, when it is needed,
# needed only with --smoke).
ENV_VARIABLES: Final = (
    ("GHES_SETUP_ADMIN_PASSWORD", "the Manage API (transport api, or auto without SSH)", False),
    ("GHES_SETUP_TOKEN", "a classic PAT with write:packages and delete:packages", True),
)


class CheckFormat(StrEnum):
    """What the scheduled `check` writes (human output is for people, not timers)."""

    prometheus = "prometheus"
    nagios = "nagios"
    json = "json"


@dataclass(frozen=True, slots=True)
class Interval:
    """How often the check runs, in whole seconds."""

    seconds: int

    @classmethod
    def parse(cls, text: str) -> Interval:
        """`30s`, `5m`, `2h`, `1d` (one number, one unit); zero is refused."""
        match = _EVERY.match(text)
        if not match:
            raise InputError(
                f"--every {text!r} is not an interval",
                hint="a number and a unit: s, m, h or d, e.g. --every 5m",
            )
        number, unit = int(match.group(1)), match.group(2)
        if number == 0:
            raise InputError("--every must be more than zero", hint="e.g. --every 5m")
        return cls(number * _UNIT_SECONDS[unit])

    def __str__(self) -> str:
        return self._span(minute="m")

    def _span(self, *, minute: str) -> str:
        """The interval in its largest whole unit: `1d`, `2h`, `90s`, `5` + `minute`."""
        for unit, size in (("d", 86400), ("h", 3600), (minute, 60)):
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"

    @property
    def words(self) -> str:
        """`every 5 minutes`, `every hour`, `every 30 seconds`."""
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
            if self.seconds % size == 0:
                n = self.seconds // size
                return f"every {unit}" if n == 1 else f"every {n} {unit}s"
        raise AssertionError("unreachable: every interval is whole seconds")

    def cron_fields(self) -> str | None:
        """The five cron time fields, or None when cron cannot repeat at this interval evenly."""
        if self.seconds % 60:
            return None  # cron's smallest unit is the minute
        minutes = self.seconds // 60
        if minutes < 60:
            if 60 % minutes:
                return None
            return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
        if minutes % 60:
            return None
        hours = minutes // 60
        if hours < 24:
            if 24 % hours:
                return None
            return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
        return "0 0 * * *" if hours == 24 else None  # `*/N` days restarts every month

    def on_calendar(self) -> str | None:
        """A systemd calendar event for the same wall-clock times as `cron_fields`, if any."""
        fields = self.cron_fields()
        if fields is None:
            return None
        minutes = self.seconds // 60
        if minutes < 60:
            return "*-*-* *:*:00" if minutes == 1 else f"*-*-* *:00/{minutes}:00"
        hours = minutes // 60
        if hours < 24:
            return "*-*-* *:00:00" if hours == 1 else f"*-*-* 00/{hours}:00:00"
        return "*-*-* 00:00:00"

    @property
    def systemd_span(self) -> str:
        """The interval as a systemd time span (`5min`, `90s`, `2h`)."""
        return self._span(minute="min")

    @property
    def timeout_s(self) -> int:
        return max(self.seconds, MIN_TIMEOUT_S)


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    site: Path
    every: Interval
    format: CheckFormat
    executable: Path
    env_file: Path
    textfile: Path | None = None
    smoke: bool = False
    systemd: bool = False
    user: str = "root"
    name: str = DEFAULT_NAME
    hostname: str | None = None  # the site's, for comments; None when the site is not here


@dataclass(frozen=True, slots=True)
class ScheduleFile:
    """One file to install: where it goes, what it holds, its mode."""

    path: Path
    content: str
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: Literal["cron", "systemd"]
    files: tuple[ScheduleFile, ...]
    command: tuple[str, ...]  # the `ghes-setup check ...` argv the timer runs


@dataclass(frozen=True, slots=True)
class Prepared:
    request: ScheduleRequest
    notes: tuple[str, ...] = ()


def make_request(
    *,
    site: Path | None,
    every: str,
    format: str,
    textfile: Path | None = None,
    smoke: bool = False,
    systemd: bool = False,
    user: str = "root",
    env_file: Path | None = None,
    name: str = DEFAULT_NAME,
    executable: Path | None = None,
) -> Prepared:
    """Fill in the defaults (textfile, env file, executable) and make every path absolute.

    The site file is read when it exists here, so that a broken one fails now rather than at
    every run; when it does not exist here (it lives on the monitoring host) a note says so.
    """
    from ghes_setup.config.site import ENV_PREFIX, load_site

    if site is None and os.environ.get(f"{ENV_PREFIX}SITE"):
        site = Path(os.environ[f"{ENV_PREFIX}SITE"])
    if site is None:
        raise InputError(
            "schedule needs the site file the check will read",
            hint="pass --site /etc/ghes-setup/site.toml (or set GHES_SETUP_SITE)",
        )
    validate_name(name)
    check_format = CheckFormat(format)
    site_abs = _absolute(site)
    notes: list[str] = []
    hostname: str | None = None
    if site_abs.is_file():
        hostname = load_site(site_abs).hostname
    else:
        notes.append(
            f"{site_abs} does not exist here; it must exist on the host that runs the check"
        )
    if textfile is None and check_format is CheckFormat.prometheus:
        textfile = default_textfile(name)
    request = ScheduleRequest(
        site=site_abs,
        every=Interval.parse(every),
        format=check_format,
        executable=_absolute(executable) if executable else default_executable(),
        env_file=_absolute(env_file) if env_file else default_env_file(name),
        textfile=_absolute(textfile) if textfile else None,
        smoke=smoke,
        systemd=systemd,
        user=user,
        name=name,
        hostname=hostname,
    )
    return Prepared(request, tuple(notes))


def default_executable() -> Path:
    """This ghes-setup: the console script that is running, else the one beside this Python
    (a virtualenv's bin/), else the one on PATH. Symlinks are kept, so that an upgrade behind
    /usr/local/bin/ghes-setup is picked up by the timer."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "ghes-setup" and argv0.is_file():
        return argv0.absolute()
    sibling = Path(sys.executable).parent / "ghes-setup"
    if sibling.is_file():
        return sibling.absolute()
    found = shutil.which("ghes-setup")
    if found:
        return Path(found).absolute()
    raise InputError(
        "cannot find the ghes-setup executable to schedule",
        hint="pass --executable /path/to/ghes-setup",
    )


def write_files(schedule: Schedule, out_dir: Path) -> list[Path]:
    """Write each file into `out_dir` under its own name, mode 0644 (never the env file: the
    schedule has no secret to write). Returns the paths written."""
    written = []
    for f in schedule.files:
        target = out_dir / f.path.name
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot write {target}: {exc.strerror}", hint="check --out-dir"
            ) from None
        write_file(target, f.content, mode=f.mode, what="schedule file")  # atomic, no symlink
        written.append(target)
    return written


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path.expanduser()))


def validate_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"--name {name!r} cannot name a cron.d file or a unit",
            hint="letters, digits, '-' and '_' only (cron skips names with a dot), e.g. ghes-check",
        )
    return name


def validate_user(user: str) -> str:
    if not _USER.match(user):
        raise InputError(f"--user {user!r} is not a user name", hint="e.g. --user root")
    return user


def default_textfile(name: str) -> Path:
    return TEXTFILE_DIR / f"{name}.prom"


def default_env_file(name: str) -> Path:
    return ENV_DIR / f"{name}.env"


def check_command(request: ScheduleRequest) -> tuple[str, ...]:
    argv = [
        str(request.executable),
        "check",
        "--site",
        str(request.site),
        "--format",
        request.format.value,
    ]
    if request.textfile is not None:
        # The `host` label of a run that cannot read its site file (a broken or missing file
        # writes no hostname): the site's hostname as read now, else this schedule's name, so
        # that GhesCheckCannotRun names the appliance (templates/monitoring/).
        argv += ["--textfile", str(request.textfile), "--host-label", host_label(request)]
    if request.smoke:
        argv.append("--smoke")
    return tuple(argv)


def host_label(request: ScheduleRequest) -> str:
    return request.hostname or request.name


def build_schedule(request: ScheduleRequest) -> Schedule:
    """The files that run `check` on the request's interval. Raises InputError (exit 3) for
    an interval cron cannot express, a relative path, or --textfile without prometheus."""
    from ghes_setup import __version__
    from ghes_setup.render import render

    _validate(request)
    command = check_command(request)
    common = {
        "job": request.name,
        "every": request.every,
        "site": str(request.site),
        "hostname": request.hostname,
        "user": request.user,
        "env_file": str(request.env_file),
        "env_variables": ENV_VARIABLES,
        "format": request.format.value,
        "textfile": str(request.textfile) if request.textfile else None,
        "smoke": request.smoke,
        "tool_version": __version__,
        "timeout_s": request.every.timeout_s,
    }
    if request.systemd:
        writable = [str(request.textfile.parent)] if request.textfile else []
        service = render(
            "schedule/check.service.j2",
            exec_start=_systemd_command(command),
            # EnvironmentFile= takes the rest of the line as one path: no quotes, `%` doubled.
            env_file_unit=str(request.env_file).replace("%", "%%"),
            read_write_paths=writable,
            read_write_paths_unit=" ".join(_systemd_path(Path(p)) for p in writable),
            success_exit_status=" ".join(str(c) for c in _result_codes(request.format)),
            **common,
        )
        timer = render(
            "schedule/check.timer.j2",
            on_calendar=request.every.on_calendar(),
            span=request.every.systemd_span,
            **common,
        )
        return Schedule(
            kind="systemd",
            files=(
                ScheduleFile(SYSTEMD_DIR / f"{request.name}.service", service),
                ScheduleFile(SYSTEMD_DIR / f"{request.name}.timer", timer),
            ),
            command=command,
        )
    fields = request.every.cron_fields()
    if fields is None:
        raise InputError(
            f"cron cannot run a job every {request.every} at even gaps",
            hint=(
                "pick an interval that divides the minute, hour or day evenly (1m, 2m, 5m, 10m, "
                "15m, 30m, 1h, 2h, 6h, 12h, 1d), or use --systemd, whose timers take any interval"
            ),
        )
    line = _cron_command(request, command)
    text = render("schedule/check.cron.j2", fields=fields, command_line=line, **common)
    return Schedule(
        kind="cron", files=(ScheduleFile(CRON_DIR / request.name, text),), command=command
    )


def _validate(request: ScheduleRequest) -> None:
    validate_name(request.name)
    validate_user(request.user)
    paths = {
        "--site": request.site,
        "--env-file": request.env_file,
        "the ghes-setup executable": request.executable,
    }
    if request.textfile is not None:
        paths["--textfile"] = request.textfile
    for label, path in paths.items():
        if not path.is_absolute():
            raise InputError(
                f"{label} {path} is not an absolute path",
                hint="cron and systemd run from /, so give the full path",
            )
        if "\n" in str(path) or "\r" in str(path):
            raise InputError(f"{label} has a line break in it", hint="rename the file")
    if request.textfile is not None and request.format is not CheckFormat.prometheus:
        raise InputError(
            "--textfile goes with --format prometheus",
            hint="drop --textfile, or use --format prometheus",
        )


def _cron_command(request: ScheduleRequest, command: tuple[str, ...]) -> str:
    """The command field of the cron line.

    flock -n: a run that is still going makes the next one exit at once (no pile-up).
    timeout: a stuck run ends after one interval instead of holding the lock for ever.
    sh with `set -a; . ENV_FILE`: cron has no EnvironmentFile=, so the secrets are read from the
    same file the systemd unit would use, by the job itself, never written into the crontab.
    logger: whatever the check prints goes to syslog/the journal, tagged NAME, instead of mail.
    """
    loader = 'set -a && . "$1" && set +a && shift && exec "$@"'
    argv = [
        "flock",
        "-n",
        str(LOCK_DIR / f"{request.name}.lock"),
        "timeout",
        "--kill-after=10s",
        f"{request.every.timeout_s}s",
        "/bin/sh",
        "-c",
        loader,
        "sh",
        str(request.env_file),
        *command,
    ]
    line = f"{shlex.join(argv)} 2>&1 | logger -t {request.name}"
    # In a crontab an unescaped % ends the command and starts its standard input (crontab(5)).
    return line.replace("%", "\\%")


def _result_codes(fmt: CheckFormat) -> tuple[int, ...]:
    """Exit codes of `check` that report a result rather than a run that could not happen."""
    if fmt is CheckFormat.nagios:
        return (1, 2, 3)  # WARNING, CRITICAL, UNKNOWN: all are answers for the monitoring
    return (int(ExitCode.CHECK_FAILED), int(ExitCode.NOT_EVALUATED))


def _systemd_path(path: Path) -> str:
    """A path in a unit file: `%` would be a specifier, a space would split the list."""
    text = str(path).replace("%", "%%")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def _systemd_command(command: tuple[str, ...]) -> str:
    """ExecStart= quoting (systemd.service(5)): double quotes, backslash escapes, and `$`/`%`
    doubled so that neither environment nor specifier expansion touches a path."""
    quoted = []
    for arg in command:
        text = arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
        needs_quotes = text == "" or any(c in text for c in " \t'\";")
        quoted.append(f'"{text}"' if needs_quotes else text)
    return " ".join(quoted)
