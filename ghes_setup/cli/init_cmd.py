"""`ghes-setup init HOSTNAME`: write a commented site file to start from.

The file lists every key of the site model with its meaning and default
(`config.template`, generated from the model so it cannot drift from the loader), and says
where each secret goes instead. Connection values given as flags or `GHES_SETUP_*` variables
are written in, so the file reaches the appliance the way this command did.

With `--from-appliance` it first connects read-only (the same reads as `config show`: no
write, no configuration run) and fills in what the appliance says: its GHES release, subdomain
isolation, TLS state (as a comment: the certificate files are the admin's), and the Packages
storage kind and non-secret values. Before any SSH login it shows the SSH host key's
fingerprint and asks before pinning it in the file (`host_key`), as OpenSSH asks on first
contact; without a terminal `--yes` pins it only together with `--accept-new-host-key`, so a
script never trusts a key by accident. known_hosts is never written.

The file is written 0600 (it holds no secret, but it describes the appliance) and never over
an existing file without `--force`; nothing is written when anything before it fails.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ghes_setup.cli.appliance_options import (
    NO_OPTIONS,
    ConnectionArgs,
    YesOpt,
    with_connection,
)
from ghes_setup.cli.common import FLAG_NAMES, abs_path, make_resolver, single_command, state

if TYPE_CHECKING:
    from ghes_setup.appliance.transport import ApplianceInfo
    from ghes_setup.config.site import Site

INIT_HELP = """\
Write a commented site file for HOSTNAME: every key with its meaning and default, and where
the secrets go instead. With --from-appliance, connect read-only first and fill in what the
appliance says (version, isolation, TLS state, Packages storage); the SSH host key's
fingerprint is shown and pinned only when you agree (--yes pins it only with
--accept-new-host-key). Refuses to overwrite a file without --force.

Example: ghes-setup init ghe.example.com --out site.toml --from-appliance
"""


@with_connection(tokens=False)
def init_cmd(
    ctx: typer.Context,
    hostname: Annotated[str, typer.Argument(metavar="HOSTNAME", help="The appliance's hostname.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the site file.")] = Path(
        "site.toml"
    ),
    from_appliance: Annotated[
        bool,
        typer.Option(
            "--from-appliance",
            help="Connect read-only and fill in what the appliance says.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    yes: YesOpt = False,
    conn: ConnectionArgs = NO_OPTIONS,
) -> None:
    from ghes_setup.config.site import validate_hostname
    from ghes_setup.config.template import render
    from ghes_setup.errors import InputError
    from ghes_setup.files import write_file

    target = out.expanduser().absolute()
    if target.exists() and not force:  # say so before connecting anywhere
        raise InputError(f"refusing to overwrite {out}", hint="pass --force to replace it")
    if not target.parent.is_dir():
        raise InputError(
            f"{out}: folder {target.parent} does not exist", hint="create it or pick another path"
        )
    name = validate_hostname(hostname, where="HOSTNAME")
    site = _site(ctx, name, conn)
    values = _given_values(site)
    notes: dict[str, list[str]] = {}
    header: list[str] = []
    if from_appliance:
        appliance_values, notes, header = _from_appliance(ctx, site, conn, yes=yes)
        values.update(appliance_values)
    text = render(name, values, notes=notes, header=header)
    write_file(target, text, overwrite=force, what="site file")
    if not state(ctx).quiet:
        from ghes_setup.reporting.init import human

        human(sys.stdout, out)
    raise typer.Exit(0)


app = single_command("init", INIT_HELP, init_cmd)


def _site(ctx: typer.Context, hostname: str, conn: ConnectionArgs) -> Site:
    """The site as flags and GHES_SETUP_* variables make it (no site file is read)."""
    from ghes_setup.config.site import ENV_PREFIX, SiteOverrides, load_site

    overrides = SiteOverrides(
        hostname=hostname,
        transport=conn.transport.value if conn.transport else None,
        host_key=conn.host_key,
        known_hosts=abs_path(conn.known_hosts),
        ssh_identity=abs_path(conn.identity),
        ca_file=abs_path(conn.ca_file),
        nameservers=tuple(conn.nameserver) if conn.nameserver else None,
        resolve=tuple(conn.resolve) if conn.resolve else None,
    )
    environ = {k: v for k, v in os.environ.items() if k != f"{ENV_PREFIX}SITE"}
    return load_site(None, environ=environ, overrides=overrides, flag_names=FLAG_NAMES)


def _given_values(site: Site) -> dict[str, Any]:
    """Every key whose value (from a flag or the environment) differs from its default."""
    from ghes_setup.config.template import model_keys

    values: dict[str, Any] = {}
    for key, (default, _has) in model_keys().items():
        if key == "hostname":
            continue
        section, _, field = key.rpartition(".")
        holder = getattr(site, section) if section else site
        value = getattr(holder, field)
        if value != default and value not in (None, (), {}):
            values[key] = dict(value) if isinstance(value, dict) else value
    return values


def _from_appliance(
    ctx: typer.Context, site: Site, conn: ConnectionArgs, *, yes: bool
) -> tuple[dict[str, Any], dict[str, list[str]], list[str]]:
    from ghes_setup.appliance.service import Connect, config_show
    from ghes_setup.cli.appliance_options import admin_password, progress

    resolver = make_resolver(conn.nameserver, conn.resolve, site)
    values: dict[str, Any] = {}
    pinned = None
    if site.connection.transport != "api":
        pinned = _pin_host_key(ctx, site, resolver, yes=yes, accept_new=conn.accept_new_host_key)
    if pinned is not None:
        values["connection.host_key"] = pinned
        site = dataclasses.replace(
            site,
            connection=dataclasses.replace(
                site.connection, host_key=pinned, accept_new_host_key=False
            ),
        )
    elif conn.accept_new_host_key:  # known already: nothing to add to known_hosts
        site = dataclasses.replace(
            site, connection=dataclasses.replace(site.connection, accept_new_host_key=False)
        )
    connect = Connect(site=site, resolver=resolver, password=admin_password(conn))
    with progress(ctx, steps=False) as sink:
        shown = config_show(connect, progress=sink)
    info, settings = shown.info, shown.settings
    appliance, notes = appliance_values(info, dict(settings))
    values.update(appliance)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"Read from {site.hostname} on {when} (read-only, via {info.via}): the values set below",
        "describe the appliance as it is now; change them to what it should become.",
        "",
    ]
    return values, notes, header


def appliance_values(
    info: ApplianceInfo, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Site values and section notes from what the appliance reported (no secret: a secret
    setting is only ever said to be set or not)."""
    from ghes_setup import facts
    from ghes_setup.appliance.plan import describe
    from ghes_setup.packages import backends

    values: dict[str, Any] = {"ghes_version": f"{info.version.major}.{info.version.minor}"}
    notes: dict[str, list[str]] = {
        "": [f"The appliance: GHES {info.version}, {info.topology}"
             + (", a replica" if info.is_replica else "") + "."],
    }  # fmt: skip
    if settings.get("subdomain_isolation") is not None:
        values["subdomain_isolation"] = bool(settings["subdomain_isolation"])
    tls = ["The appliance: TLS " + ("enabled" if settings.get("tls.enabled") else "not enabled")]
    if settings.get("tls.cert"):
        tls.append(f"  serving {describe('tls.cert', settings['tls.cert'])}")
    tls.append("Set cert and key to the files to install (the key never leaves this host).")
    notes["tls"] = tls
    if settings.get("packages.enabled") is not None:
        values["packages.enabled"] = bool(settings["packages.enabled"])
    kind = settings.get("packages.storage_type")
    url = settings.get("packages.service_url")
    packages: list[str] = []
    # Which backend the stored type (and URL) is: the storage backend table says.
    backend = backends.stored(kind, str(url) if url else None) if isinstance(kind, str) else None
    if backend is not None:
        values["packages.storage"] = backend.name
        alike = backends.storing(backend.storage_type)
        if len(alike) > 1:
            labels = " and ".join(b.label for b in alike)
            packages.append(
                f'The appliance stores "{backend.storage_type}" for {labels} alike; '
                + backend.recognised
            )
        envs = ", ".join(s.env for s in backend.secrets)
        packages.append(f"Storage secret{'s' if len(backend.secrets) > 1 else ''}: {envs}.")
    for setting in backends.every_storage_setting():
        key = facts.SETTINGS_BY_NAME[setting].site_key
        if key is not None and settings.get(setting):
            values[key] = str(settings[setting])
    if packages:
        notes["packages"] = packages
    return values, notes


def _pin_host_key(
    ctx: typer.Context, site: Site, resolver: Any, *, yes: bool, accept_new: bool
) -> str | None:
    """None when known_hosts (or a given pin) already trusts the key; the fingerprint to pin
    when the admin agrees; HostKeyNotTrusted (exit 4) otherwise."""
    from ghes_setup.appliance.known_hosts import KnownHosts, decide, host_entry
    from ghes_setup.appliance.ssh_connection import presented_host_key
    from ghes_setup.errors import HostKeyNotTrusted

    c = site.connection
    presented = presented_host_key(
        site.hostname, c.ssh_port, address=c.address, resolver=resolver, timeout=c.timeout
    )
    known = KnownHosts.load(c.known_hosts)
    aliases = (c.address,) if c.address else ()
    try:
        decide(
            presented,
            host=site.hostname,
            port=c.ssh_port,
            aliases=aliases,
            known_hosts=known,
            pin=c.host_key,
        )
        return None  # pinned by --host-key or known: nothing to ask
    except HostKeyNotTrusted:
        names = [host_entry(n, c.ssh_port) for n in (site.hostname, *aliases)]
        if c.host_key is not None or known.for_names(names):
            raise  # a different pin, a changed or revoked key: never offer to pin it
    fp = presented.fingerprint
    where = f"{site.hostname}:{c.ssh_port}"
    state(ctx).err.print(
        f"The SSH host key of {where} is not known: {presented.type} {fp}\n"
        "Compare it with the appliance's own (on its console: "
        "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before trusting it.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    hint = f"compare it with the appliance's console, then pass --host-key {fp}"
    if yes:
        if accept_new:
            return fp
        raise HostKeyNotTrusted(
            f"host key {fp} of {where} is not known and --yes alone does not pin it",
            hint=f"add --accept-new-host-key to pin it, or {hint}",
        )
    if not sys.stdin.isatty():
        raise HostKeyNotTrusted(
            f"host key {fp} of {where} is not known and there is no terminal to ask on",
            hint=f"pass --yes --accept-new-host-key to pin it, or {hint}",
        )
    if typer.confirm(f"Pin {fp} in the site file (host_key)?", default=False, err=True):
        return fp
    raise HostKeyNotTrusted(f"host key {fp} of {where} not pinned; nothing written", hint=hint)
