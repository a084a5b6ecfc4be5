"""The root `ghes-setup` command and its groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ghes_setup.cli import config_cmd, dns, lab, packages, pipeline, registry, tls
from ghes_setup.cli.common import AppState, FormatOpt, OutputFormat

EXIT_CODES = """\
Exit codes: 0 success; 1 a check failed; 2 usage error; 3 site file, environment or input
file invalid; 4 appliance unreachable, authentication failed or host key not trusted; 5 the
appliance's version cannot do it; 6 configuration apply failed; 7 a check could not be
evaluated; 70 internal error; 130 interrupted. With --format nagios: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN.
"""

app = typer.Typer(
    name="ghes-setup",
    help=(
        "Set up and keep proving subdomain isolation, TLS, GitHub Packages and the Container "
        "registry on GitHub Enterprise Server.\n\n"
        "Example: ghes-setup up --site site.toml"
    ),
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
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
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = AppState(format=fmt, verbose=verbose, site=site)


app.add_typer(dns.app, name="dns")
app.add_typer(tls.app, name="tls")
app.add_typer(config_cmd.app, name="config")
app.add_typer(packages.app, name="packages")
app.add_typer(registry.app, name="registry")
app.add_typer(lab.app, name="lab")
pipeline.register(app)

__all__ = ["OutputFormat", "app"]
