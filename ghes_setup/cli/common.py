"""What every command shares: global state, common options, the console, report output.

The consoles (`reporting.console`) are made when first used: human output goes to standard
output; progress and diagnostics go to standard error. Off a terminal the human report is
`reporting.human.plain`. `--quiet` silences progress and notes (standard error's
console) and keeps only the failed checks; errors still print (cli.main writes them).
`--debug`/`--log-file` start the debug trace (`ghes_setup.trace`, docs/debug.md).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    NoReturn,
    TextIO,
    TypedDict,
    TypeVar,
    overload,
)

import typer

if TYPE_CHECKING:
    from ghes_setup.checks.model import Report
    from ghes_setup.config.site import Site, SiteOverrides
    from ghes_setup.facts import GhesVersion
    from ghes_setup.net import AddressResolver
    from ghes_setup.progress import RecordingProgress
    from ghes_setup.reporting.console import Console
    from ghes_setup.secrets import Secret


class OutputFormat(StrEnum):
    human = "human"
    json = "json"
    nagios = "nagios"
    prometheus = "prometheus"


CHECK_FORMATS = tuple(OutputFormat)
PLAIN_FORMATS = (OutputFormat.human, OutputFormat.json)


@dataclass
class AppState:
    format: OutputFormat | None = None
    verbose: bool = False
    site: Path | None = None
    quiet: bool = False
    debug: bool = False
    _console: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        if self._console is None:
            from ghes_setup.reporting.console import make_console

            self._console = make_console(stderr=False)
        return self._console

    @property
    def err(self) -> Console:
        """Progress and notes; silent with --quiet (errors do not go through it)."""
        if self._err is None:
            from ghes_setup.reporting.console import make_console

            self._err = make_console(stderr=True)
            self._err.quiet = self.quiet
        return self._err


_TRACE_FILES: list[Any] = []


def start_trace(*, debug: bool, log_file: Path | None) -> None:
    """`--debug`: trace lines on standard error; `--log-file FILE`: also (or only) into FILE,
    opened 0600 without following links (files.open_private_log)."""
    from ghes_setup import __version__, trace
    from ghes_setup.files import open_private_log

    sinks: list[trace.Sink] = []
    if debug:
        sinks.append(_stderr_sink)
    if log_file is not None:
        handle = open_private_log(log_file.expanduser().absolute(), what="--log-file")
        _TRACE_FILES.append(handle)
        sinks.append(handle.write)
    if sinks:
        trace.enable(*sinks)
        trace.event("run", f"ghes-setup {__version__}, python {sys.version.split()[0]}")


def _stderr_sink(line: str) -> None:
    sys.stderr.write("debug " + line)
    sys.stderr.flush()


def stop_trace() -> None:
    """End the trace and close the log file (cli.main, after the run's last line)."""
    from ghes_setup import trace

    trace.disable()
    while _TRACE_FILES:
        handle = _TRACE_FILES.pop()
        with contextlib.suppress(OSError):
            handle.close()


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


_JOURNAL: list[RecordingProgress] = []


def run_journal(*, reset: bool = False) -> RecordingProgress:
    """The progress events of this run (every `ConsoleProgress` records into it), read by
    `cli.main` when the run is interrupted to say where it stopped and what it left."""
    from ghes_setup.progress import RecordingProgress

    if reset or not _JOURNAL:
        _JOURNAL[:] = [RecordingProgress()]
    return _JOURNAL[0]


def single_command(
    name: str, help_text: str, function: Callable[..., Any], **kw: Any
) -> typer.Typer:
    """A Typer holding one top-level command (`up`, `schedule`, `explain`...): the root builds
    it only when it is used (cli/app.py). `kw` goes to `Typer.command`."""
    sub = typer.Typer(add_completion=False, rich_markup_mode=None)
    sub.command(name, help=help_text, **kw)(function)
    return sub


# ---------------------------------------------------------------- shared options


def option(*flags: str, help: str, metavar: str | None = None) -> Any:
    """An option whose default the help text states (so Typer shows none)."""
    return typer.Option(*flags, metavar=metavar, help=help, show_default=False)


FormatOpt = Annotated[
    OutputFormat | None,
    typer.Option("--format", help="Output: human, json, nagios or prometheus (check commands)."),
]
SiteOpt = Annotated[
    Path | None, option("--site", help="Site file (TOML). Default: $GHES_SETUP_SITE.")
]
NameserverOpt = Annotated[
    list[str] | None,
    option("--nameserver", help="Resolve through this DNS server, IP[:PORT] (repeatable)."),
]
ResolveOpt = Annotated[
    list[str] | None,
    option(
        "--resolve",
        help="Pin HOST:IP like curl (repeatable); .DOMAIN:IP pins every name under DOMAIN.",
    ),
]
CaFileOpt = Annotated[
    Path | None, option("--ca-file", help="Also trust this CA (PEM) when verifying TLS.")
]
TextfileOpt = Annotated[
    Path | None,
    option(
        "--textfile",
        help="With --format prometheus: write here atomically (node_exporter textfile collector).",
    ),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings too.")]
HostnameArg = Annotated[
    str | None,
    typer.Argument(
        metavar="HOSTNAME",
        help="The appliance's hostname (default: the site file's).",
        show_default=False,
    ),
]
VersionOpt = Annotated[
    str | None,
    option(
        "--ghes-version",
        metavar="X.Y",
        help="GHES release whose isolation subdomains to use (default: the site's, else 3.17).",
    ),
]


def parse_version(text: str | None) -> GhesVersion | None:
    """--ghes-version's value; an invalid one is an input error (exit 3)."""
    from ghes_setup.errors import InputError
    from ghes_setup.facts import GhesVersion

    if text is None:
        return None
    try:
        return GhesVersion.parse(text)
    except ValueError as exc:
        raise InputError(f"--ghes-version: {exc}", hint="e.g. --ghes-version 3.17") from None


def abs_path(path: Path | None) -> Path | None:
    """Flag paths are relative to the current folder (the site file's are to its folder)."""
    return path.expanduser().absolute() if path is not None else None


class TokenInputs(TypedDict):
    """Where the PAT may come from, as `secrets.from_env` / `secrets.require` take it."""

    file: Path | None
    stdin: TextIO | None
    file_option: str
    stdin_option: str


def token_inputs(token_stdin: bool, token_file: Path | str | None) -> TokenInputs:
    """The PAT's `--token-stdin` / `--token-file` options, for every command that takes them:
    both at once is a usage error; a flag's path is from the current folder."""
    if token_stdin and token_file is not None:
        raise typer.BadParameter("give --token-stdin or --token-file, not both")
    from ghes_setup import secrets

    return TokenInputs(
        file=abs_path(Path(token_file)) if token_file is not None else None,
        stdin=secrets.stdin_stream() if token_stdin else None,
        file_option="--token-file",
        stdin_option="--token-stdin",
    )


@overload
def personal_token(tokens: TokenInputs, purpose: str) -> Secret: ...


@overload
def personal_token(tokens: TokenInputs, purpose: None = None) -> Secret | None: ...


def personal_token(tokens: TokenInputs, purpose: str | None = None) -> Secret | None:
    """The PAT from `tokens` (`token_inputs`), else $GHES_SETUP_TOKEN or its _FILE. None when
    there is none, unless `purpose` says what needs it: then that is an input error (exit 3)."""
    from ghes_setup import secrets

    if purpose is None:
        return secrets.from_env("GHES_SETUP_TOKEN", **tokens)
    return secrets.require("GHES_SETUP_TOKEN", **tokens, purpose=purpose)


def byte_size(text: str | None, option: str) -> int | None:
    """A size option's value (`268435456`, `256MiB`); a bad one is a usage error naming it."""
    if text is None:
        return None
    from ghes_setup.registry.image import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def output_format(
    ctx: typer.Context,
    given: OutputFormat | None,
    allowed: tuple[OutputFormat, ...] = CHECK_FORMATS,
) -> OutputFormat:
    fmt = given or state(ctx).format or OutputFormat.human
    if fmt not in allowed:
        names = ", ".join(f.value for f in allowed)
        raise typer.BadParameter(f"this command supports {names}", param_hint="--format")
    return fmt


def check_seconds(
    ctx: typer.Context, param: typer.CallbackParam, value: float | None
) -> float | None:
    """Callback of every `--timeout`-like option: NaN, infinity, 0 and below are an input
    error (exit 3) that names the flag, like the site file's and the environment's."""
    from ghes_setup.config.site import positive_seconds

    if value is None or ctx.resilient_parsing:
        return value
    name = param.opts[0] if param.opts else f"--{param.name}"
    return positive_seconds(value, name)


# Which flag sets which override, so that a bad value is blamed on the flag (config/site.py).
FLAG_NAMES: dict[str, str] = {
    "hostname": "HOSTNAME",
    "transport": "--transport",
    "host_key": "--host-key",
    "known_hosts": "--known-hosts",
    "accept_new_host_key": "--accept-new-host-key",
    "ssh_identity": "--identity",
    "ca_file": "--ca-file",
    "https_port": "--port",
    "tls_cert": "--cert",
    "tls_key": "--key",
    "warn_days": "--warn-days",
    "crit_days": "--crit-days",
    "smoke_user": "--user",
    "smoke_namespace": "--namespace",
    "smoke_image": "--image",
    "smoke_size": "--size",
}


def site_path(ctx: typer.Context, given: Path | None) -> Path | None:
    return given or state(ctx).site


def load_site_for(
    ctx: typer.Context,
    given: Path | None,
    *,
    overrides: SiteOverrides | None = None,
    require_hostname: bool = True,
) -> Site:
    from ghes_setup.config.site import NO_OVERRIDES, load_site

    return load_site(
        site_path(ctx, given),
        overrides=overrides or NO_OVERRIDES,
        require_hostname=require_hostname,
        flag_names=FLAG_NAMES,
    )


def emit_report(
    ctx: typer.Context,
    report: Report,
    fmt: OutputFormat,
    *,
    textfile: Path | None = None,
    strict: bool = False,
) -> int:
    """Write the report in `fmt` and return the exit code for it."""
    from ghes_setup import exit_codes

    code = int(exit_codes.for_status(report.status, strict=strict))
    if textfile is not None and fmt is not OutputFormat.prometheus:
        raise typer.BadParameter(
            "--textfile goes with --format prometheus", param_hint="--textfile"
        )
    if fmt is OutputFormat.json:
        from ghes_setup.reporting import json_report

        sys.stdout.write(json_report.render(report))
    elif fmt is OutputFormat.nagios:
        from ghes_setup.reporting import nagios

        text, code = nagios.render(report)
        sys.stdout.write(text)
        return int(code)
    elif fmt is OutputFormat.prometheus:
        from ghes_setup.reporting import prometheus

        text = prometheus.render(report, exit_code=code)
        if textfile is not None:
            prometheus.write_textfile(textfile, text)
        else:
            sys.stdout.write(text)
    else:
        print_human(ctx, report)
    return code


R = TypeVar("R")


def present(
    ctx: typer.Context,
    fmt: OutputFormat,
    result: R,
    human: Callable[[Console, R], None],
    document: Callable[[R], dict[str, Any]],
) -> None:
    """Hand a command's typed result to its presenters (`reporting/<topic>.py`): the JSON
    document with --format json, else the human one on standard output's console (made only
    then, so the JSON path never loads rich)."""
    if fmt is OutputFormat.json:
        from ghes_setup.reporting.jsondoc import write

        write(document(result))
    else:
        human(state(ctx).console, result)


def print_plain(
    ctx: typer.Context,
    fmt: OutputFormat | None,
    make: Callable[[], R],
    human: Callable[[TextIO, R], None],
    document: Callable[[R], dict[str, Any]],
) -> NoReturn:
    """A command whose result is not a check report (the files `tls issue` wrote, the records
    `dns records` prints): its --format first (human or json: no report formats), then
    `make()` it, present it on standard output, exit 0."""
    from ghes_setup.reporting.jsondoc import emit

    as_json = output_format(ctx, fmt, allowed=PLAIN_FORMATS) is OutputFormat.json
    emit(as_json, sys.stdout, make(), human, document)
    raise typer.Exit(0)


def print_human(ctx: typer.Context, report: Report) -> None:
    """The human report: a table on a terminal, aligned plain text anywhere else."""
    from ghes_setup.reporting import human

    st = state(ctx)
    human.write(report, console=lambda: st.console, verbose=st.verbose, quiet=st.quiet)


def make_resolver(
    nameservers: list[str] | None,
    resolve: list[str] | None,
    site: Site | None = None,
) -> AddressResolver:
    """The run's name resolution from the options and the site (dns.resolver.for_site)."""
    from ghes_setup.dns.resolver import for_site

    return for_site(site, nameservers or (), resolve or ())
