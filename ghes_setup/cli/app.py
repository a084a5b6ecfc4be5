"""The root `ghes-setup` command, whose groups and commands are built only when used.

Typer turns every command's signature into click parameters when the command tree is built;
for ~35 commands that costs more than everything else `--help` does (~100 ms here, mostly
evaluating annotations). `LazyGroup` builds a subcommand only when it is invoked or its own
help is asked for; the root's help lists each one's first help line, read without building it
(docs/reference/architecture.md §7: `--version` and `--help` start in under 200 ms).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from typer.core import TyperGroup

from ghes_setup.cli.common import AppState, FormatOpt, OutputFormat, option

# name -> (module, attribute): a `typer.Typer`, or a function of no arguments returning one.
# Listed in the order `ghes-setup --help` shows them: the main jobs first, then the areas.
SUBCOMMANDS: Final[dict[str, tuple[str, str]]] = {
    "init": ("ghes_setup.cli.init_cmd", "app"),
    "up": ("ghes_setup.cli.pipeline", "up_app"),
    "check": ("ghes_setup.cli.pipeline", "check_app"),
    "snapshot": ("ghes_setup.cli.pipeline", "snapshot_app"),
    "verify": ("ghes_setup.cli.pipeline", "verify_app"),
    "schedule": ("ghes_setup.cli.schedule", "app"),
    "capture": ("ghes_setup.cli.capture", "app"),
    "facts": ("ghes_setup.cli.facts", "app"),
    "dns": ("ghes_setup.cli.dns", "app"),
    "tls": ("ghes_setup.cli.tls", "app"),
    "config": ("ghes_setup.cli.config_cmd", "app"),
    "packages": ("ghes_setup.cli.packages", "app"),
    "registry": ("ghes_setup.cli.registry", "app"),
    "client": ("ghes_setup.cli.client", "app"),
    "explain": ("ghes_setup.cli.explain", "app"),
    "monitoring": ("ghes_setup.cli.monitoring", "app"),
    "lab": ("ghes_setup.cli.lab", "app"),
}


def _typer_for(name: str) -> typer.Typer:
    module, attribute = SUBCOMMANDS[name]
    obj = getattr(importlib.import_module(module), attribute)
    return obj if isinstance(obj, typer.Typer) else obj()


def _help_text(app: typer.Typer) -> str:
    """A sub-app's help (a group's own, or its single command's) without building it."""
    if app.info.help:
        return str(app.info.help)
    for command in app.registered_commands:
        return str(command.help or "")
    return ""


def _click_short_help() -> Callable[[str, int], str]:
    """click's `make_default_short_help`, the one private piece of typer this module uses.

    typer 0.28 vendors click as `typer._click` (a private module); the root's help must shorten
    the first help lines exactly as click does for the commands already built. Should a typer
    outside pyproject's range move it, the tool says which versions it needs instead of an
    AttributeError from deep inside click's help formatter.
    """
    try:
        from typer._click.utils import make_default_short_help
    except ImportError:
        from importlib.metadata import version

        from ghes_setup.errors import InputError

        raise InputError(
            f"typer {version('typer')} is not supported: this ghes-setup needs typer>=0.28,<0.29",
            hint="reinstall ghes-setup (pipx install --force ghes-setup) to get its dependencies",
        ) from None
    return make_default_short_help


class LazyGroup(TyperGroup):
    """A group whose subcommands (`SUBCOMMANDS`) are built on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(n for n in SUBCOMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            command = typer.main.get_command(_typer_for(cmd_name))
            command.name = cmd_name
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        make_default_short_help = _click_short_help()
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, make_default_short_help(_help_text(_typer_for(name)), limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


EXIT_CODES = """\
Exit codes: 0 success; 1 a check failed; 2 usage error; 3 site file, environment or input
file invalid; 4 appliance unreachable, authentication failed or host key not trusted; 5 the
appliance's version cannot do it; 6 configuration apply failed; 7 a check could not be
evaluated; 70 internal error; 74 output could not be written (standard output closed,
disk full); 130 interrupted, 143 terminated (SIGTERM). With --format nagios: 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""

app = typer.Typer(
    name="ghes-setup",
    cls=LazyGroup,
    help=(
        "Set up and keep proving subdomain isolation, TLS, GitHub Packages and the Container "
        "registry on GitHub Enterprise Server.\n\n"
        "Example: ghes-setup up --site site.toml"
    ),
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from ghes_setup import __version__

        typer.echo(f"ghes-setup {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    fmt: FormatOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail; tracebacks for internal errors.")
    ] = False,
    site: Annotated[
        Path | None, typer.Option("--site", help="Site file (TOML). Default: $GHES_SETUP_SITE.")
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only errors: no progress, only failed checks."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Trace every HTTP request and response, SSH command and DNS query on "
            "standard error, secrets scrubbed.",
        ),
    ] = False,
    log_file: Annotated[
        Path | None,
        option(
            "--log-file",
            metavar="FILE",
            help="Append the debug trace to FILE (created 0600), with or without --debug.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose contradict each other", param_hint="-q")
    ctx.obj = AppState(format=fmt, verbose=verbose, site=site, quiet=quiet, debug=debug)
    if ctx.resilient_parsing:  # shell completion: no trace, no file
        return
    from ghes_setup.cli.common import start_trace

    start_trace(debug=debug, log_file=log_file)


__all__ = ["OutputFormat", "app"]
