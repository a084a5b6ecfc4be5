"""`ghes-setup client check`: can this machine (a workstation, a CI runner) use the registry?

Parses options into a `ClientCheckRequest`, calls `client.service.run_client_check`, renders.
The service modules are imported inside the command so that `--help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ghes_setup.cli.appliance_options import TokenFileOpt
from ghes_setup.cli.bundles import NO_REPORT_ARGS, ReportArgs, with_report
from ghes_setup.cli.common import (
    HostnameArg,
    SiteOpt,
    byte_size,
    load_site_for,
    option,
    personal_token,
    token_inputs,
)

app = typer.Typer(
    help="The client side: can this machine use the Container registry (client check).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def client() -> None:
    """The client side: can this machine use the Container registry (client check)."""


CHECK_HELP = """\
Check, read-only and without root, that THIS machine (a workstation or a CI runner) can use
the Container registry at containers.HOSTNAME, with its own resolver, trust store, proxy
environment, token and docker configuration: client-dns (names resolve here, to the
appliance; split-horizon named), client-tls-trust (the served certificate verifies against
the system trust store, not --ca-file), client-ca-paths (a private CA is where docker, podman,
npm, SSL_CERT_FILE/REQUESTS_CA_BUNDLE look), client-proxy (HTTPS_PROXY and NO_PROXY by Go's
and curl's rules), client-token (a classic PAT with read:packages/write:packages; a
github_pat_ fine-grained token is refused by Packages), client-docker (docker or podman,
credentials, the login line). With --smoke, also registry-smoke: push and pull a test image
from here, through the proxy docker would use (--size: a large layer shows a proxy's body
limit, named as HTTP 413).

The site file is optional: it tells the right answers (the appliance's address and DNS
servers, its CA file for the remedies, the enabled ecosystems), never how to reach it. The
token comes from GHES_SETUP_TOKEN (or GHES_SETUP_TOKEN_FILE), --token-file or --token-stdin,
and is never printed.

Exit codes: 0 this machine can use the registry (warnings allowed: 1 with --strict); 1 a check
failed; 3 bad input; 7 a check could not be evaluated. With --format nagios: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN.

Example: ghes-setup client check ghe.example.com --ecosystem npm --token-file ~/.ghes-pat
"""


@app.command("check", help=CHECK_HELP)
@with_report(textfile=False)
def check_cmd(
    ctx: typer.Context,
    hostname: HostnameArg = None,
    site: SiteOpt = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the PAT from standard input.")
    ] = False,
    token_file: TokenFileOpt = None,
    smoke: Annotated[
        bool,
        typer.Option("--smoke", help="Also push and pull a test image from here (needs a token)."),
    ] = False,
    size: Annotated[
        str | None,
        option(
            "--size",
            metavar="BYTES",
            help="With --smoke: add a random layer of this size, e.g. 64MiB, so that a "
            "proxy's body limit shows (default: [smoke] size, else none).",
        ),
    ] = None,
    ecosystem: Annotated[
        list[str] | None,
        option(
            "--ecosystem",
            metavar="NAME",
            help="Also check the subdomain of this Packages ecosystem: npm, maven, nuget, "
            "rubygems, docker (repeatable; default: the site's enabled ones).",
        ),
    ] = None,
    user: Annotated[
        str | None,
        option(
            "--user",
            metavar="USER",
            help="Login for the docker login line and the smoke test (default: the token's "
            "owner, else [smoke] user).",
        ),
    ] = None,
    nameserver: Annotated[
        list[str] | None,
        option(
            "--nameserver",
            metavar="IP[:PORT]",
            help="The appliance's DNS server, to compare this machine's answers with "
            "(repeatable; default: the site's nameservers). Lookups themselves always use "
            "this machine's resolver.",
        ),
    ] = None,
    output: ReportArgs = NO_REPORT_ARGS,
) -> None:

    from ghes_setup.client.service import ClientCheckRequest, parse_ecosystems, run_client_check
    from ghes_setup.config.site import SiteOverrides
    from ghes_setup.net import Nameserver

    out_format = output.format(ctx)
    tokens = token_inputs(token_stdin, token_file)
    size_bytes = byte_size(size, "--size")
    site_obj = load_site_for(
        ctx,
        site,
        overrides=SiteOverrides(hostname=hostname, smoke_user=user, smoke_size=size_bytes),
    )
    enabled = [name for name, state in site_obj.packages.ecosystems.items() if state != "disabled"]
    token = personal_token(tokens)
    address = site_obj.connection.address
    servers = nameserver or list(site_obj.connection.nameservers)
    request = ClientCheckRequest(
        hostname=site_obj.hostname,
        ecosystems=parse_ecosystems([*enabled, *(ecosystem or [])]),
        ghes_version=site_obj.ghes_version,
        https_port=site_obj.connection.https_port,
        expect=(address,) if address else (),
        nameservers=tuple(Nameserver.parse(s) for s in servers),
        ca_file=site_obj.connection.ca_file,
        token=token,
        user=user or site_obj.smoke.user,
        namespace=site_obj.smoke.namespace,
        image=site_obj.smoke.image,
        smoke=smoke,
        size=site_obj.smoke.size,
        timeout=min(site_obj.connection.timeout, 10.0),
    )
    output.exit(ctx, out_format, run_client_check(request))
