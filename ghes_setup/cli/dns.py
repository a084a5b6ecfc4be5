"""`ghes-setup dns`: check the DNS records subdomain isolation needs; print the records to create.

Parse options, call `ghes_setup.dns.service`, hand the result to its presenter
(`ghes_setup.reporting.dns`, or the check report's), exit. Service modules are imported inside
the commands so that `--help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from ghes_setup.checks.catalogue import Pipeline, rows
from ghes_setup.cli.bundles import NO_REPORT_ARGS, ReportArgs, seconds, with_report
from ghes_setup.cli.common import (
    FormatOpt,
    HostnameArg,
    NameserverOpt,
    ResolveOpt,
    SiteOpt,
    VersionOpt,
    load_site_for,
    option,
    parse_version,
    print_plain,
)

app = typer.Typer(
    help="Check the DNS records subdomain isolation needs; print the records to create.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class RecordStyle(StrEnum):
    bind = "bind"
    hosts = "hosts"


# The ids come from the check catalogue: a new DNS check is listed without editing this text.
_CHECK_IDS = ", ".join(row.id for row in rows(Pipeline.DNS_CHECK))
CHECK_HELP = f"""\
Check that HOSTNAME, a wildcard under it and every subdomain-isolation name resolve to the
appliance, and that all nameservers agree (checks {_CHECK_IDS}).

HOSTNAME defaults to the site file's hostname; the site's nameservers, address (as --expect)
and ghes_version are defaults that flags override. --resolve pins never answer these lookups;
a pin for HOSTNAME is the expected address set when --expect is not given.

Example: ghes-setup dns check ghe.example.com --expect 10.0.0.5 --nameserver 10.0.0.53
"""

RECORDS_HELP = """\
Print the DNS records to create for HOSTNAME: BIND zone lines for HOSTNAME and *.HOSTNAME
(default), or /etc/hosts lines listing every subdomain-isolation name (--style hosts).

Example: ghes-setup dns records ghe.example.com --address 10.0.0.5 --address 2001:db8::5
"""


@app.command("check", help=CHECK_HELP, no_args_is_help=False)
@with_report
def check_cmd(
    ctx: typer.Context,
    hostname: HostnameArg = None,
    expect: Annotated[
        list[str] | None,
        option(
            "--expect",
            metavar="IP",
            help="HOSTNAME must resolve to exactly these addresses (repeatable).",
        ),
    ] = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    ghes_version: VersionOpt = None,
    timeout: Annotated[float, seconds("Seconds to wait for each answer.")] = 3.0,
    output: ReportArgs = NO_REPORT_ARGS,
    site: SiteOpt = None,
) -> None:
    from ghes_setup.config.site import validate_hostname
    from ghes_setup.dns.service import request_for_site, run_dns_check

    out = output.format(ctx)
    given = validate_hostname(hostname, where="HOSTNAME") if hostname else None
    spec = load_site_for(ctx, site, require_hostname=False)
    request = request_for_site(
        spec,
        hostname=given,
        expect=expect or (),
        nameservers=nameserver or (),
        resolve=resolve or (),
        ghes_version=parse_version(ghes_version),
        timeout=timeout,
    )
    output.exit(ctx, out, run_dns_check(request))


@app.command("records", help=RECORDS_HELP)
def records_cmd(
    ctx: typer.Context,
    hostname: Annotated[str, typer.Argument(metavar="HOSTNAME", help="The appliance's hostname.")],
    address: Annotated[
        list[str],
        option(
            "--address",
            metavar="IP",
            help="The appliance's (or load balancer's) IPv4 or IPv6 address (repeatable).",
        ),
    ],
    style: Annotated[
        RecordStyle, typer.Option("--style", help="bind: zone-file lines; hosts: /etc/hosts.")
    ] = RecordStyle.bind,
    ttl: Annotated[int, typer.Option("--ttl", help="TTL of the records, in seconds.")] = 300,
    ghes_version: VersionOpt = None,
    all_subdomains: Annotated[
        bool,
        typer.Option(
            "--all-subdomains",
            help="One record per isolation subdomain instead of the wildcard (bind style).",
        ),
    ] = False,
    fmt: FormatOpt = None,
) -> None:
    from ghes_setup.config.site import validate_hostname
    from ghes_setup.dns.service import dns_records
    from ghes_setup.reporting.dns import document, human

    print_plain(
        ctx,
        fmt,
        lambda: dns_records(
            validate_hostname(hostname, where="HOSTNAME"),
            address,
            style="hosts" if style is RecordStyle.hosts else "bind",
            version=parse_version(ghes_version),
            ttl=ttl,
            all_subdomains=all_subdomains,
        ),
        human,
        document,
    )
