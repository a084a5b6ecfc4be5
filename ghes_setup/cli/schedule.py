"""`ghes-setup schedule`: print (or write) the cron.d file or systemd units that run `check`.

Parse options, call `ghes_setup.runbooks.schedule.build_schedule`, hand the result to
`reporting.schedule`, exit. The runbook is
imported inside the command so that `--help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ghes_setup.cli.common import SiteOpt, option, single_command, site_path, state

HELP = """\
Print what runs `ghes-setup check` on a timer: a file for /etc/cron.d (default), or a
systemd service and timer pair (--systemd). Nothing is installed: copy the output into
place, or let playbooks/healthcheck.yml do it.

The cron line uses the absolute path of this ghes-setup (or --executable), `flock -n` so runs
never overlap, `timeout` so a stuck run ends, and sends what the check prints to syslog. The
units run the check as --user with hardening (NoNewPrivileges, ProtectSystem=strict, only the
textfile's folder writable).

Secrets are never in the output: the check reads them at each run from --env-file (NAME=value
lines, e.g. GHES_SETUP_ADMIN_PASSWORD, GHES_SETUP_TOKEN for --smoke), a file you create with
mode 0600.

--every takes a number and a unit: 30s, 5m, 2h, 1d. Cron can only repeat at intervals that
divide the minute, hour or day evenly (1m, 5m, 15m, 2h, 1d...); other intervals need --systemd.
With --format prometheus (the default) the metrics go to --textfile, by default
/var/lib/prometheus/node-exporter/NAME.prom (Debian's node_exporter textfile folder).

Example: ghes-setup schedule --site /etc/ghes-setup/site.toml --every 5m --systemd
"""


class ScheduleFormat(StrEnum):
    prometheus = "prometheus"
    nagios = "nagios"
    json = "json"


def schedule_cmd(
    ctx: typer.Context,
    every: Annotated[
        str,
        typer.Option("--every", metavar="N[s|m|h|d]", help="How often to run the check, e.g. 5m."),
    ],
    site: SiteOpt = None,
    fmt: Annotated[
        ScheduleFormat,
        typer.Option("--format", help="What the check writes: prometheus, nagios or json."),
    ] = ScheduleFormat.prometheus,
    textfile: Annotated[
        Path | None,
        option(
            "--textfile",
            metavar="PATH",
            help="With --format prometheus: the .prom file to write "
            "[default: /var/lib/prometheus/node-exporter/NAME.prom].",
        ),
    ] = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Also push and pull a test image at each run.")
    ] = False,
    systemd: Annotated[
        bool, typer.Option("--systemd", help="A systemd service and timer instead of cron.")
    ] = False,
    user: Annotated[str, typer.Option("--user", help="Run the check as this user.")] = "root",
    env_file: Annotated[
        Path | None,
        option(
            "--env-file",
            metavar="FILE",
            help="Where the check reads its secrets (you create it, mode 0600) "
            "[default: /etc/ghes-setup/NAME.env].",
        ),
    ] = None,
    name: Annotated[
        str,
        typer.Option(
            "--name", help="Name of the cron.d file, the units, the lock and the syslog tag."
        ),
    ] = "ghes-setup-check",
    executable: Annotated[
        Path | None,
        option(
            "--executable",
            metavar="PATH",
            help="The ghes-setup to run, if not this one (e.g. its path on another host).",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        option(
            "--out-dir",
            metavar="DIR",
            help="Write the files into DIR (mode 0644) and print their paths, instead of "
            "printing the files.",
        ),
    ] = None,
) -> None:
    from ghes_setup.reporting import schedule as presenter
    from ghes_setup.runbooks import schedule as runbook

    request = runbook.make_request(
        site=site_path(ctx, site),
        every=every,
        format=fmt.value,
        textfile=textfile,
        smoke=smoke,
        systemd=systemd,
        user=user,
        env_file=env_file,
        name=name,
        executable=executable,
    )
    presenter.notes(state(ctx).err, request.notes)
    result = runbook.build_schedule(request.request)
    if out_dir is not None:
        presenter.written(runbook.write_files(result, out_dir))
    else:
        presenter.files(result)
    raise typer.Exit(0)


app = single_command("schedule", HELP, schedule_cmd, no_args_is_help=True)
