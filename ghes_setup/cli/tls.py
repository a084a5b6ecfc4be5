"""`ghes-setup tls`: create, validate and probe the TLS certificate GHES needs.

Parse options, call `ghes_setup.tls.service` / `ghes_setup.tls.issue`, render, exit. Service
modules are imported inside the commands so that `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ghes_setup.cli.common import (
    CaFileOpt,
    FormatOpt,
    HostnameArg,
    NameserverOpt,
    OutputFormat,
    ResolveOpt,
    SiteOpt,
    StrictOpt,
    TextfileOpt,
    VersionOpt,
    abs_path,
    check_seconds,
    emit_report,
    load_site_for,
    make_resolver,
    output_format,
    parse_version,
)

if TYPE_CHECKING:
    from ghes_setup.tls.issue import WrittenFile

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

PLAIN = (OutputFormat.human, OutputFormat.json)

OutDirOpt = Annotated[
    Path,
    typer.Option("--out", metavar="DIR", help="Folder to write the files to (created if needed)."),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace existing files instead of refusing.")
]
WarnDaysOpt = Annotated[
    int | None,
    typer.Option(
        "--warn-days",
        metavar="N",
        help="Warn when the chain expires within N days (default: the site's, else 30).",
        show_default=False,
    ),
]
CritDaysOpt = Annotated[
    int | None,
    typer.Option(
        "--crit-days",
        metavar="N",
        help="Fail when the chain expires within N days (default: the site's, else 7).",
        show_default=False,
    ),
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
    days: Annotated[int, typer.Option("--days", metavar="N", help="Validity in days.")] = 3650,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.tls.issue import create_ca

    mode = output_format(ctx, fmt, allowed=PLAIN)
    result = create_ca(out, name=name, days=days, force=force)
    if mode is OutputFormat.json:
        _json(
            {
                "subject": result.subject,
                "not_after": result.not_after.isoformat(),
                "files": _files(result.files),
            }
        )
    else:
        _lines(
            f"Created CA {result.subject} (valid until {result.not_after:%Y-%m-%d}).",
            f"  {result.cert}  CA certificate: clients and --ca-file use it",
            f"  {result.key}  CA private key (mode 0600): keep it private, ideally offline",
            f"Next: ghes-setup tls issue HOSTNAME --ca {out} --out DIR",
        )
    raise typer.Exit(0)


@app.command("issue", help=ISSUE_HELP)
def issue_cmd(
    ctx: typer.Context,
    hostname: Annotated[str, typer.Argument(help="The appliance's hostname.")],
    ca: Annotated[Path, typer.Option("--ca", metavar="DIR", help="Folder with ca.pem and ca.key.")],
    out: OutDirOpt,
    days: Annotated[int, typer.Option("--days", metavar="N", help="Validity in days.")] = 397,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.config.site import validate_hostname
    from ghes_setup.tls.issue import issue

    mode = output_format(ctx, fmt, allowed=PLAIN)
    host = validate_hostname(hostname)
    result = issue(host, ca, out, days=days, force=force)
    if mode is OutputFormat.json:
        _json(
            {
                "hostname": result.hostname,
                "names": list(result.names),
                "issuer": result.issuer,
                "not_after": result.not_after.isoformat(),
                "files": _files(result.files),
            }
        )
    else:
        _lines(
            f"Issued a certificate for {', '.join(result.names)} by {result.issuer} "
            f"(valid until {result.not_after:%Y-%m-%d}).",
            f"  {result.key}  private key (mode 0600): upload as the key",
            f"  {result.cert}  server certificate",
            f"  {result.chain}  bundle, leaf first: upload as the certificate",
            "Check it: ghes-setup tls check "
            f"--cert {result.chain} --key {result.key} --hostname {result.hostname} "
            f"--ca-file {ca / 'ca.pem'}",
        )
    raise typer.Exit(0)


@app.command("csr", help=CSR_HELP)
def csr_cmd(
    ctx: typer.Context,
    hostname: Annotated[str, typer.Argument(help="The appliance's hostname.")],
    out: OutDirOpt,
    force: ForceOpt = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.config.site import validate_hostname
    from ghes_setup.tls.issue import make_csr

    mode = output_format(ctx, fmt, allowed=PLAIN)
    host = validate_hostname(hostname)
    result = make_csr(host, out, force=force)
    csr_text = result.csr.read_text(encoding="ascii")
    if mode is OutputFormat.json:
        _json(
            {
                "hostname": result.hostname,
                "names": list(result.names),
                "csr": csr_text,
                "files": _files(result.files),
            }
        )
    else:
        _lines(
            f"  {result.key}  private key (mode 0600): keep it; GHES needs it with the certificate",
            f"  {result.csr}  certificate signing request",
            "",
            f"Send {result.csr} to your CA. Ask for a server certificate (serverAuth, "
            f"SHA-256) with the subject alternative names {' and '.join(result.names)}, "
            "and for the full chain (your certificate first, then the intermediates).",
            "",
            csr_text.rstrip("\n"),
            "",
            "When it arrives: ghes-setup tls check --cert BUNDLE.pem "
            f"--key {result.key} --hostname {result.hostname}",
        )
    raise typer.Exit(0)


# ------------------------------------------------------------------ check


@app.command("check", help=CHECK_HELP)
def check_cmd(
    ctx: typer.Context,
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert",
            metavar="FILE",
            help="PEM bundle: the server certificate first, then the intermediates.",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", metavar="FILE", help="The unencrypted PEM private key.", show_default=False
        ),
    ] = None,
    ca_file: CaFileOpt = None,
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname", metavar="H", help="The appliance's hostname.", show_default=False
        ),
    ] = None,
    warn_days: WarnDaysOpt = None,
    crit_days: CritDaysOpt = None,
    ghes_version: VersionOpt = None,
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
    strict: StrictOpt = False,
    site: SiteOpt = None,
) -> None:
    from ghes_setup.config.site import SiteOverrides, validate_hostname
    from ghes_setup.tls.service import TlsCheckRequest, run_tls_check

    out = output_format(ctx, fmt)
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
    report = run_tls_check(request)
    raise typer.Exit(emit_report(ctx, report, out, textfile=textfile, strict=strict))


# ------------------------------------------------------------------ probe


@app.command("probe", help=PROBE_HELP, no_args_is_help=False)
def probe_cmd(
    ctx: typer.Context,
    hostname: HostnameArg = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            metavar="IP",
            help="Connect to IP for HOSTNAME and every name under it.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="N",
            help="HTTPS port (default: the site's, else 443).",
            show_default=False,
        ),
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
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="S",
            help="Seconds per connection and handshake.",
            callback=check_seconds,
        ),
    ] = 5.0,
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
    strict: StrictOpt = False,
    site: SiteOpt = None,
) -> None:
    from ghes_setup.config.site import SiteOverrides, validate_hostname
    from ghes_setup.errors import InputError
    from ghes_setup.tls.service import TlsProbeRequest, run_tls_probe

    out = output_format(ctx, fmt)
    given = validate_hostname(hostname) if hostname else None
    spec = load_site_for(
        ctx,
        site,
        overrides=SiteOverrides(
            warn_days=warn_days, crit_days=crit_days, ca_file=abs_path(ca_file), https_port=port
        ),
        require_hostname=False,
    )
    host = given or spec.hostname
    if not host:
        raise InputError(
            "no HOSTNAME given",
            hint="pass it (ghes-setup tls probe ghe.example.com) or use a site file with hostname",
        )
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
    )
    report = run_tls_probe(request)
    raise typer.Exit(emit_report(ctx, report, out, textfile=textfile, strict=strict))


# ------------------------------------------------------------------ helpers


def _files(files: tuple[WrittenFile, ...]) -> list[dict[str, Any]]:
    return [{"path": str(f.path), "kind": f.kind, "secret": f.secret} for f in files]


def _json(document: object) -> None:
    from ghes_setup.reporting.json_report import dumps

    sys.stdout.write(dumps(document))


def _lines(*lines: str) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
