"""`ghes-setup lab`: The lab appliance: a stand-in GHES on loopback, built from real servers.

Each command parses its options, calls one function of `ghes_setup.lab.service`, and prints
the result. The lab package is imported inside the commands (lazy), so `--help` stays fast.

The lab is an extra (`ghes-setup[lab]`): a production install has neither its libraries nor
any need for them. Without them every `lab` command stops with one line saying how to get
them (exit 3, an incomplete environment), instead of an ImportError from deep inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ghes_setup.cli.common import PLAIN_FORMATS, FormatOpt, OutputFormat, option, output_format

app = typer.Typer(
    help=(
        "The lab appliance: a stand-in GHES on loopback, built from real servers "
        "(sshd, nginx, docker-registry, dnsmasq).\n\n"
        'Example: sudo ghes-setup lab up && eval "$(ghes-setup lab env)"'
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

# Modules only the lab needs, each with the extra that brings it (pyproject `lab`).
LAB_MODULES: tuple[str, ...] = (
    "jwt",  # PyJWT: the lab's registry token service
    "botocore",  # the appliance-side S3 storage checks (and moto's server)
    "azure.storage.blob",  # the appliance-side Azure storage checks
)


def missing_lab_modules() -> list[str]:
    """The lab's libraries that cannot be imported here (an install without the extra)."""
    import importlib.util

    missing = []
    for name in LAB_MODULES:
        # find_spec, not an import: azure.storage.blob alone takes ~150 ms to import, and every
        # lab command asks. A module set to None in sys.modules (a stand-in for an install
        # without it) raises ValueError here.
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require_lab_extra() -> None:
    """Called first by every lab command (not a group callback: `lab up --help` must work
    without the extra, and a group's callback runs before its subcommand's --help)."""
    missing = missing_lab_modules()
    if missing:
        from ghes_setup.errors import InputError

        raise InputError(
            "the lab is not installed: it is the optional extra ghes-setup[lab] "
            f"(missing Python module {', '.join(missing)})",
            hint="pipx install --force 'ghes-setup[lab]' (or pip install 'ghes-setup[lab]')",
        )


DirOpt = Annotated[
    Path | None,
    option(
        "--dir",
        help="The lab's folder. Default: $GHES_SETUP_LAB_DIR, else ./.lab",
    ),
]


def _dir(given: Path | None) -> Path:
    from ghes_setup.lab.layout import default_dir

    return given or default_dir()


@app.command("up")
def up(
    directory: DirOpt = None,
    hostname: Annotated[
        str | None, typer.Option("--hostname", help="Appliance hostname. Default: ghe.lab.test")
    ] = None,
    ghes_version: Annotated[
        str | None,
        typer.Option(
            "--ghes-version",
            help="GHES version to imitate, X.Y.Z, from 3.12 to 3.19. Default: 3.17.4",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Loopback address of the lab. Default: 127.77.0.1"),
    ] = None,
    apply_seconds: Annotated[
        float | None,
        typer.Option("--apply-seconds", help="How long a config apply takes. Default: 2"),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Packages storage the lab's site file names: minio, s3 (both the lab's S3 "
            "server) or azure (its Azurite). Default: minio; an existing lab keeps its own.",
        ),
    ] = None,
    from_capture: Annotated[
        Path | None,
        option(
            "--from-capture",
            metavar="CAPTURE",
            help="Start as the appliance of a capture (ghes-setup capture): version, hostname, "
            "topology, settings; redacted secrets become fresh lab secrets (lab env).",
        ),
    ] = None,
) -> None:
    """Start the lab (idempotent): a running part is left alone, a dead one restarted.

    Example: sudo ghes-setup lab up --dir /tmp/lab
    """
    require_lab_extra()
    from ghes_setup.lab.service import UpOptions, admin_user
    from ghes_setup.lab.service import up as start

    extra: list[str] = []
    if from_capture is not None:
        if hostname or ghes_version:
            raise typer.BadParameter(
                "the capture gives the hostname and version", param_hint="--from-capture"
            )
        from ghes_setup.lab.from_capture import up_from_capture

        made = up_from_capture(from_capture, _dir(directory), address, storage)
        result = made.up
        extra = [f"  from capture {from_capture}", *(f"  note: {n}" for n in made.notes)]
    else:
        result = start(
            UpOptions(_dir(directory), hostname, ghes_version, address, apply_seconds, storage)
        )
    c, lay = result.config, result.layout
    how = "created" if result.created else "existing lab"
    lines = [
        f"lab up: {c.hostname} on {c.address} (GHES {c.ghes_version}), ready in "
        f"{result.seconds:.1f} s ({how})",
        f"  started: {', '.join(result.started) or '-'}; "
        f"already running: {', '.join(result.running) or '-'}",
        f"  admin shell  ssh -p {c.ports.ssh} -i {lay.identity} "
        f"-o UserKnownHostsFile={lay.known_hosts} {admin_user()}@{c.address}",
        f"  Manage API   https://{c.hostname}:{c.ports.api}/manage/v1 "
        f"(curl --resolve {c.hostname}:{c.ports.api}:{c.address} --cacert {lay.ca_file})",
        f"  front door   https://{c.https_authority(c.hostname)}/ and, with isolation on, "
        f"https://{c.https_authority(c.registry_host)}/v2/",
        f"  DNS          dig @{c.address} -p {c.ports.dns} {c.hostname}",
        f"  storage      {c.storage} in the site file; S3 {c.service_url} (moto), "
        f"Azure {c.azure_blob_endpoint} (Azurite)",
        f"  site file    {lay.site}",
        *(f"  note: {note}" for note in result.notes),
        *extra,
        f'Next: eval "$(ghes-setup lab env --dir {lay.root})"',
    ]
    typer.echo("\n".join(lines))


@app.command("env")
def env(directory: DirOpt = None) -> None:
    """Print `export` lines for the lab (site file, admin password, PATs, storage secrets).

    Example: eval "$(ghes-setup lab env)"
    """
    require_lab_extra()
    from ghes_setup.lab.service import env as env_text

    typer.echo(env_text(_dir(directory)), nl=False)


@app.command("status")
def status(ctx: typer.Context, directory: DirOpt = None, fmt: FormatOpt = None) -> None:
    """Show each part: running?, PID, address:port, answering? Exit 1 if one is down.

    Example: ghes-setup lab status --format json
    """
    require_lab_extra()
    import sys

    from ghes_setup.lab.service import status as lab_status
    from ghes_setup.reporting.jsondoc import emit
    from ghes_setup.reporting.lab import document, human

    as_json = output_format(ctx, fmt, PLAIN_FORMATS) is OutputFormat.json
    result = lab_status(_dir(directory))
    emit(as_json, sys.stdout, result, human, document)
    raise typer.Exit(0 if result.healthy else 1)


@app.command("down")
def down(
    directory: DirOpt = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the lab's folder.")] = False,
) -> None:
    """Stop every process the lab started (by PID) and remove its folder unless --keep.

    Example: ghes-setup lab down
    """
    require_lab_extra()
    from ghes_setup.lab.service import down as stop

    result = stop(_dir(directory), keep)
    stopped = ", ".join(f"{name} ({pid})" for name, pid in result.stopped) or "nothing was running"
    removed = "removed" if result.removed else "kept"
    typer.echo(f"lab down: stopped {stopped}; {result.dir} {removed} ({result.seconds:.1f} s)")


@app.command("fault")
def fault(
    name: Annotated[
        str,
        typer.Argument(
            help=(
                "ssh-drop, api-503, apply-fail, apply-fail-node2, registry-503, "
                "dns-no-wildcard, cert-expired, or clear"
            )
        ),
    ],
    count: Annotated[
        int, typer.Option("--count", min=1, help="How many times a one-shot fault fires.")
    ] = 1,
    directory: DirOpt = None,
) -> None:
    """Inject a fault into the lab, or `clear` them all.

    Example: ghes-setup lab fault api-503 --count 2
    """
    require_lab_extra()
    from ghes_setup.lab.service import clear_faults, set_fault

    if name == "clear":
        clear_faults(_dir(directory))
        typer.echo("lab fault: all faults cleared")
        return
    active = set_fault(_dir(directory), name, count)
    typer.echo(f"lab fault: {name} armed; active: {', '.join(active)}")


@app.command("topology")
def topology(
    name: Annotated[
        str, typer.Argument(help="SingleNode, Ha (primary + replica) or Cluster (3 nodes)")
    ],
    replica: Annotated[
        bool,
        typer.Option("--replica", help="The node the tool talks to is a replica (Ha, Cluster)."),
    ] = False,
    directory: DirOpt = None,
) -> None:
    """Present a topology in the Manage API (config/nodes, apply status and events per node).

    Only the lab's own node has real servers. `lab reset` returns to SingleNode.

    Example: ghes-setup lab topology Ha --replica
    """
    require_lab_extra()
    from ghes_setup.lab.service import set_topology

    value = set_topology(_dir(directory), name, replica)
    role = " (the tool talks to a replica)" if value.replica else ""
    typer.echo(f"lab topology: {value.name}{role}")
