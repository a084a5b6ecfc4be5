"""`ghes-setup tls`: create, validate and probe the TLS certificate GHES needs.

Parse options, call `ghes_setup.tls.service` / `ghes_setup.tls.issue`, hand the result to its
presenter (`ghes_setup.reporting.tls`, or the check report's), exit. Service
modules are imported inside the commands so that `--help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ghes_setup.cli.bundles import NO_REPORT_ARGS, ReportArgs, seconds, with_report
from ghes_setup.cli.common import (
    CaFileOpt,
    FormatOpt,
    HostnameArg,
    NameserverOpt,
    ResolveOpt,
    SiteOpt,
    VersionOpt,
    abs_path,
    load_site_for,
    make_resolver,
    option,
    parse_version,
    print_plain,
)

app = typer.Typer(
    help="Create, validate and probe the TLS certificate GHES needs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
ca_app = typer.Typer(
    help="Manage a private certificate authority for the appliance's certificate.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(ca_app, name="ca")

OutDirOpt = Annotated[
    Path,
    typer.Option("--out", metavar="DIR", help="Folder to write the files to (created if needed)."),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace existing files instead of refusing.")
]
DaysOpt = Annotated[int, typer.Option("--days", metavar="N", help="Validity in days.")]
HostArg = Annotated[str, typer.Argument(help="The appliance's hostname.")]
_DAYS = "the chain expires within N days (default: the site's, else"
WarnDaysOpt = Annotated[
    int | None, option("--warn-days", metavar="N", help=f"Warn when {_DAYS} 30).")
]
CritDaysOpt = Annotated[
    int | None, option("--crit-days", metavar="N", help=f"Fail when {_DAYS} 7).")
]
CA_CREATE_HELP = """\
Create a private CA (RSA 3072, SHA-256): DIR/ca.pem and DIR/ca.key (mode 0600). Use it to
issue the appliance's certificate with 'tls issue'; clients must trust ca.pem.

Example: ghes-setup tls ca create --out ./ghes-ca --name "Example Corp GHES CA"
"""

ISSUE_HELP = """\
Issue a certificate for HOSTNAME and *.HOSTNAME from the CA in --ca (RSA 2048 key, SHA-256,
serverAuth). Writes HOSTNAME.key (mode 0600), HOSTNAME.crt (the leaf) and HOSTNAME-chain.pem
(leaf, then the CA certificate: the bundle to upload to GHES).

Example: ghes-setup tls issue ghe.example.com --ca ./ghes-ca --out ./certs
"""

CSR_HELP = """\
Write an RSA key (mode 0600) and a certificate signing request for HOSTNAME and *.HOSTNAME,
to send to a public or corporate CA.

Example: ghes-setup tls csr ghe.example.com --out ./certs
"""

CHECK_HELP = """\
Validate a certificate bundle (leaf first, then intermediates, the way GHES takes it) and its
key for HOSTNAME before uploading them. Checks: tls-pem, tls-key-type, tls-key-match,
tls-chain-order, tls-chain-complete, tls-san, tls-expiry, tls-signature.

Defaults come from the site file ([tls] cert, key, warn_days, crit_days; hostname;
[connection] ca_file); flags win.

Example: ghes-setup tls check --cert ghe-chain.pem --key ghe.key --hostname ghe.example.com
"""

PROBE_HELP = """\
Connect to HOSTNAME (and with --subdomains to every isolation subdomain) with SNI, read the
full chain the server presents and verify it for that exact name (check tls-served). All
hosts are probed concurrently.

--address pins HOSTNAME and every name under it to IP (before DNS exists); --resolve and
--nameserver work as in the other network commands.

Example: ghes-setup tls probe ghe.example.com --subdomains --address 10.0.0.5
"""


# ------------------------------------------------------------------ ca create, issue, csr


@ca_app.command("create", help=CA_CREATE_HELP)
def ca_create_cmd(
    ctx: typer.Context,
    out: OutDirOpt,
    name: Annotated[
        str, typer.Option("--name", help="The CA's common name.")
    ] = "ghes-setup private CA",
    days: DaysOpt = 3650,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.reporting.tls import ca_document, ca_human
    from ghes_setup.tls.issue import create_ca

    print_plain(
        ctx, fmt, lambda: create_ca(out, name=name, days=days, force=force), ca_human, ca_document
    )


@app.command("issue", help=ISSUE_HELP)
def issue_cmd(
    ctx: typer.Context,
    hostname: HostArg,
    ca: Annotated[Path, typer.Option("--ca", metavar="DIR", help="Folder with ca.pem and ca.key.")],
    out: OutDirOpt,
    days: DaysOpt = 397,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.reporting.tls import issue_document, issue_human
    from ghes_setup.tls.issue import issue

    print_plain(
        ctx,
        fmt,
        lambda: issue(_hostname(hostname), ca, out, days=days, force=force),
        issue_human,
        issue_document,
    )


@app.command("csr", help=CSR_HELP)
def csr_cmd(
    ctx: typer.Context,
    hostname: HostArg,
    out: OutDirOpt,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.reporting.tls import csr_document, csr_human
    from ghes_setup.tls.issue import make_csr

    print_plain(
        ctx, fmt, lambda: make_csr(_hostname(hostname), out, force=force), csr_human, csr_document
    )


# ------------------------------------------------------------------ check


@app.command("check", help=CHECK_HELP)
@with_report
def check_cmd(
    ctx: typer.Context,
    cert: Annotated[
        Path | None,
        option(
            "--cert",
            metavar="FILE",
            help="PEM bundle: the server certificate first, then the intermediates.",
        ),
    ] = None,
    key: Annotated[
        Path | None, option("--key", metavar="FILE", help="The unencrypted PEM private key.")
    ] = None,
    ca_file: CaFileOpt = None,
    hostname: Annotated[
        str | None, option("--hostname", metavar="H", help="The appliance's hostname.")
    ] = None,
    warn_days: WarnDaysOpt = None,
    crit_days: CritDaysOpt = None,
    ghes_version: VersionOpt = None,
    output: ReportArgs = NO_REPORT_ARGS,
    site: SiteOpt = None,
) -> None:
    from ghes_setup.config.site import SiteOverrides, validate_hostname
    from ghes_setup.tls.service import TlsCheckRequest, run_tls_check

    out = output.format(ctx)
    spec = load_site_for(
        ctx,
        site,
        overrides=SiteOverrides(
            hostname=validate_hostname(hostname) if hostname else None,
            tls_cert=abs_path(cert),
            tls_key=abs_path(key),
            warn_days=warn_days,
            crit_days=crit_days,
            ca_file=abs_path(ca_file),
        ),
        require_hostname=False,
    )
    request = TlsCheckRequest.from_site(spec, ghes_version=parse_version(ghes_version))
    output.exit(ctx, out, run_tls_check(request))


# ------------------------------------------------------------------ probe


@app.command("probe", help=PROBE_HELP, no_args_is_help=False)
@with_report
def probe_cmd(
    ctx: typer.Context,
    hostname: HostnameArg = None,
    address: Annotated[
        str | None,
        option(
            "--address", metavar="IP", help="Connect to IP for HOSTNAME and every name under it."
        ),
    ] = None,
    port: Annotated[
        int | None,
        option("--port", metavar="N", help="HTTPS port (default: the site's, else 443)."),
    ] = None,
    ca_file: CaFileOpt = None,
    subdomains: Annotated[
        bool,
        typer.Option("--subdomains", help="Also probe every subdomain-isolation host."),
    ] = False,
    ghes_version: VersionOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    warn_days: WarnDaysOpt = None,
    crit_days: CritDaysOpt = None,
    timeout: Annotated[float, seconds("Seconds per connection and handshake.")] = 5.0,
    output: ReportArgs = NO_REPORT_ARGS,
    site: SiteOpt = None,
) -> None:
    from ghes_setup.config.site import SiteOverrides, target_hostname, validate_hostname
    from ghes_setup.tls.service import TlsProbeRequest, file_origins, run_tls_probe

    out = output.format(ctx)
    given = validate_hostname(hostname) if hostname else None
    spec = load_site_for(
        ctx,
        site,
        overrides=SiteOverrides(
            warn_days=warn_days, crit_days=crit_days, ca_file=abs_path(ca_file), https_port=port
        ),
        require_hostname=False,
    )
    host = target_hostname(given, spec, "tls probe")
    same_host = spec.hostname == host
    pins = list(resolve or [])
    if address is not None:
        from ghes_setup.net import pins_for

        pins += pins_for(host, address)
    resolver = make_resolver(nameserver, pins, spec if same_host else None)
    version = parse_version(ghes_version) or (spec.ghes_version if same_host else None)
    request = TlsProbeRequest(
        hostname=host,
        resolver=resolver,
        port=spec.connection.https_port,
        ca_file=spec.connection.ca_file,
        subdomains=subdomains,
        ghes_version=version,
        warn_days=spec.tls.warn_days,
        crit_days=spec.tls.crit_days,
        timeout=timeout,
        ca_origin=file_origins(spec, {"ca_file": ("connection.ca_file", "--ca-file")})["ca_file"],
    )
    output.exit(ctx, out, run_tls_probe(request))


# ------------------------------------------------------------------ helpers


def _hostname(given: str) -> str:
    from ghes_setup.config.site import validate_hostname

    return validate_hostname(given)
