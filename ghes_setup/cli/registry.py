"""`ghes-setup registry`: the Container registry at containers.HOSTNAME.

Each command parses options, calls one service in `ghes_setup.registry`, renders, exits.
Service modules are imported inside the commands so that `--help` stays fast. Commands are
self-contained: `smoke` below; `status` and `start` live beside it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from ghes_setup.cli.appliance_options import (
    NO_OPTIONS,
    NO_RUN_ARGS,
    ConnectionArgs,
    RunArgs,
    TokenFileOpt,
    TokenStdinOpt,
    with_connection,
    with_run,
)
from ghes_setup.cli.apply_flow import run_apply
from ghes_setup.cli.bundles import NO_REPORT_ARGS, ReportArgs, seconds, with_report
from ghes_setup.cli.common import (
    CaFileOpt,
    HostnameArg,
    NameserverOpt,
    OutputFormat,
    ResolveOpt,
    SiteOpt,
    abs_path,
    byte_size,
    emit_report,
    load_site_for,
    make_resolver,
    option,
    personal_token,
    state,
    token_inputs,
)

app = typer.Typer(
    help="The Container registry at containers.HOSTNAME: status, start, smoke test.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SMOKE_HELP = """\
Prove the Container registry works: push a generated image to
containers.HOSTNAME/NAMESPACE/IMAGE:smoke-<time>-<id>, pull it back by tag and by digest,
verify every digest (and the image's own diff_ids), then delete it (check registry-smoke).

Before pushing, the token's scopes are read from https://HOSTNAME/api/v3/user: GitHub
Packages takes classic personal access tokens only, with write:packages to push
(delete:packages to clean up). The token comes from GHES_SETUP_TOKEN (or
GHES_SETUP_TOKEN_FILE), --token-file or --token-stdin, never from an option value.

Exit codes: 0 passed (a failed cleanup is a warning: 1 with --strict); 1 the registry
failed (missing scope, refused push, digest mismatch...); 3 bad input or no token; 4 appliance
unreachable or the token refused (401).

Example: GHES_SETUP_TOKEN_FILE=~/.ghes-pat ghes-setup registry smoke ghe.example.com
--namespace octo-org --size 256MiB
"""


@app.command("smoke", help=SMOKE_HELP)
@with_report
def smoke_cmd(
    ctx: typer.Context,
    hostname: HostnameArg = None,
    site: SiteOpt = None,
    user: Annotated[
        str | None,
        option(
            "--user",
            metavar="USER",
            help="User for the registry login (default: [smoke] user, else the token's owner).",
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        option(
            "--namespace",
            metavar="OWNER",
            help="User or organization the image goes under (default: [smoke] namespace, "
            "else the user).",
        ),
    ] = None,
    image: Annotated[
        str | None,
        option(
            "--image",
            metavar="NAME",
            help="Image (package) name (default: [smoke] image, else ghes-setup-smoke).",
        ),
    ] = None,
    size: Annotated[
        str | None,
        option(
            "--size",
            metavar="BYTES",
            help="Add a random layer of this size, e.g. 268435456 or 256MiB "
            "(default: [smoke] size, else none).",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the pushed image in place (no cleanup).")
    ] = False,
    chunk_size: Annotated[
        str | None,
        option(
            "--chunk-size",
            metavar="BYTES",
            help="Upload in PATCH chunks of this size, for proxies that limit request bodies "
            "(default: one monolithic PUT).",
        ),
    ] = None,
    manifest_format: Annotated[
        str,
        typer.Option(
            "--manifest-format",
            metavar="oci|docker",
            help="Manifest media type: OCI image manifest or Docker schema 2.",
        ),
    ] = "oci",
    token_stdin: TokenStdinOpt = False,
    token_file: TokenFileOpt = None,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    output: ReportArgs = NO_REPORT_ARGS,
) -> None:
    from ghes_setup.checks.catalogue import CheckId
    from ghes_setup.checks.failure import error_result
    from ghes_setup.checks.model import Report
    from ghes_setup.config.site import SiteOverrides
    from ghes_setup.errors import ApplianceError
    from ghes_setup.registry.smoke import SmokeRequest, run_smoke
    from ghes_setup.reporting.transfer_progress import TransferProgress
    from ghes_setup.secrets import scrub

    out_format = output.format(ctx)
    tokens = token_inputs(token_stdin, token_file)
    if manifest_format not in ("oci", "docker"):
        raise typer.BadParameter("oci or docker", param_hint="--manifest-format")
    size_bytes = byte_size(size, "--size")
    chunk_bytes = byte_size(chunk_size, "--chunk-size")
    site_obj = load_site_for(
        ctx,
        site,
        overrides=SiteOverrides(
            hostname=hostname,
            smoke_user=user,
            smoke_namespace=namespace,
            smoke_image=image,
            smoke_size=size_bytes,
            ca_file=abs_path(ca_file),  # a flag's path is from the current folder
        ),
    )
    token = personal_token(
        tokens, "the registry smoke test (a classic personal access token with write:packages)"
    )
    request = SmokeRequest.for_site(
        site_obj,
        token,
        make_resolver(nameserver, resolve, site_obj),
        keep=keep,
        chunk_size=chunk_bytes,
        manifest_format="docker" if manifest_format == "docker" else "oci",
    )
    st = state(ctx)
    progress = TransferProgress(st.err, verbose=st.verbose)
    error: ApplianceError | None = None
    try:
        result = run_smoke(request, progress)
    except ApplianceError as exc:  # unreachable, token refused: exit 4, but still a report
        error = exc
        result = error_result(CheckId.REGISTRY_SMOKE.value, "registry", exc)
    finally:
        progress.close()
    report = Report("registry smoke", (result,), target=site_obj.hostname)
    code = emit_report(ctx, report, out_format, textfile=output.textfile, strict=output.strict)
    if error is not None and out_format is not OutputFormat.nagios:
        from ghes_setup.exit_codes import for_error

        if out_format is OutputFormat.human:
            hint = f" Hint: {error.hint}" if error.hint else ""
            st.err.print(
                scrub(f"ghes-setup: {error.message.rstrip('.')}.{hint}"),
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        code = int(for_error(error))
    raise typer.Exit(code)


# ---------------------------------------------------------------------------- status, start

STATUS_HELP = """\
Check that the Container registry answers (registry-ping): https://containers.HOSTNAME/v2/
must answer with a Bearer challenge (realm and service read from WWW-Authenticate and shown
in the details) or 200. A 404, a 5xx, a TLS failure (certificate without *.HOSTNAME) or a
name that does not resolve fails with a remedy; no connection at all is an error.
Read-only, one request: fit for cron.

Exit codes: 0 answering; 1 not answering as a registry; 3 bad input; 7 could not connect.
With --format nagios: 0 OK, 2 CRITICAL, 3 UNKNOWN.

Example: ghes-setup registry status ghe.example.com --format nagios
"""
START_HELP = """\
Get the Container registry running: make sure GitHub Packages (with the site's storage), the
container ecosystem and subdomain isolation are on and applied (and the site's certificate,
if it gives one), in ONE plan/push/config apply, with the storage precheck before anything is
written and the blob storage check after; then wait until https://containers.HOSTNAME/v2/
answers with a Bearer challenge. Nothing to change and nothing pending: no apply, and /v2/ is
probed once (nothing could bring it up by waiting).

Needs GHES 3.5+ (exit 5), the admin SSH shell for the Packages keys, and the storage
credentials in GHES_SETUP_S3_ACCESS_KEY/GHES_SETUP_S3_SECRET_KEY or
GHES_SETUP_AZURE_CONNECTION_STRING (or their _FILE variants).

Exit codes: 0 answering; 1 not answering within --timeout (says what /v2/ last answered) or
the blob storage check failed; 3 site file, secret, certificate or storage precheck refused
(nothing written); 4 unreachable or authentication failed; 5 GHES too old; 6 config apply
failed.

Example: ghes-setup registry start --site site.toml --yes --timeout 300
"""


@app.command("status", help=STATUS_HELP)
@with_report
def status_cmd(
    ctx: typer.Context,
    hostname: HostnameArg = None,
    site: SiteOpt = None,
    ca_file: CaFileOpt = None,
    nameserver: NameserverOpt = None,
    resolve: ResolveOpt = None,
    output: ReportArgs = NO_REPORT_ARGS,
) -> None:
    from ghes_setup.config.site import SiteOverrides
    from ghes_setup.registry.status import PingRequest, run_registry_status

    out = output.format(ctx)
    site_obj = load_site_for(
        ctx, site, overrides=SiteOverrides(hostname=hostname, ca_file=abs_path(ca_file))
    )
    resolver = make_resolver(nameserver, resolve, site_obj)
    request = PingRequest.for_site(site_obj, resolver, site_obj.connection.timeout)
    output.exit(ctx, out, run_registry_status(request))


@app.command("start", help=START_HELP)
@with_connection(tokens=False, name="conn_args")
@with_run(wait=False)
def start_cmd(
    ctx: typer.Context,
    timeout: Annotated[
        float,
        seconds("Seconds to wait for the configuration run, then for /v2/ to answer."),
    ] = 600.0,
    run: RunArgs = NO_RUN_ARGS,
    conn_args: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.reporting import registry as presenter
    from ghes_setup.runbooks.gates import tls_gate
    from ghes_setup.runbooks.registry_start import StartOptions, start_registry

    run = replace(run, timeout=timeout)  # its --timeout bounds the configuration run too
    options = StartOptions(apply=run.options(), wait_s=timeout)
    run_apply(
        ctx,
        "registry start",
        run,
        conn_args,
        lambda conn, confirm, display: start_registry(
            conn, tls_gate=tls_gate, options=options, confirm=confirm, progress=display
        ),
        presenter.human,
        presenter.document,
    )
