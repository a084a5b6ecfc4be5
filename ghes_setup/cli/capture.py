"""`ghes-setup capture`: record a read-only, redacted picture of the appliance.

Parse options, call `ghes_setup.capture.service.capture`, write the file (0600, through
`ghes_setup.files`), say what was recorded and where (`ghes_setup.reporting.capture`). Exit 0
when the file is written (failed probes are part of the record, listed on the way out), 3 for
bad input, 74 when the file cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ghes_setup.cli.appliance_options import (
    NO_OPTIONS,
    ConnectionArgs,
    connect_with,
    with_connection,
)
from ghes_setup.cli.common import (
    SiteOpt,
    abs_path,
    option,
    personal_token,
    state,
    token_inputs,
)

CAPTURE_HELP = """\
Record what the appliance says, read-only and redacted, as versioned JSON (mode 0600;
`ghes-setup explain capture`): ghe-version, the Manage API's version, nodes, settings and last
configuration run, the ghe-config -l listing and its format, the UNVERIFIED ghe-config keys,
maintenance, ghe-packages-precheck --help, /status, the certificates served, the registry's
/v2/ challenge, the REST API's version and the PAT's scope names, and DNS answers. Every
secret becomes a `<redacted:KIND>` marker. Nothing is written to the appliance and no
configuration run starts. A probe that fails is recorded and the others go on.

\b
Examples:
  ghes-setup capture --site site.toml --out capture.json
  ghes-setup facts verify capture.json
"""

app = typer.Typer(rich_markup_mode=None)


@app.command("capture", help=CAPTURE_HELP)
@with_connection
def capture_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path, option("--out", metavar="FILE", help="Where to write the capture (mode 0600).")
    ],
    site: SiteOpt = None,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.capture.service import CaptureRequest, capture_to, refuse_unwritable
    from ghes_setup.cli.appliance_options import progress
    from ghes_setup.reporting.capture import human

    target = abs_path(out)
    assert target is not None
    refuse_unwritable(target)
    connect = connect_with(ctx, site, conn)
    token = personal_token(token_inputs(conn.token_stdin, conn.token_file))
    request = CaptureRequest(
        site=connect.site,
        resolver=connect.resolver,
        password=connect.password,
        token=token,
        environ=connect.environ,
        mode=conn.transport.value if conn.transport else None,
    )
    with progress(ctx, steps=False) as sink:
        written = capture_to(request, target, progress=sink)
    human(state(ctx).console, written)
    raise typer.Exit(0)
