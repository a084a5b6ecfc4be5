"""The TLS area's entry points: validate certificate material, probe what a server presents.

`run_tls_check(TlsCheckRequest(...)) -> Report` (command "tls check") loads the bundle and the
key and runs the eight certificate checks of docs/reference/architecture.md §4. Bad *content* is a
check result (`tls-pem` fails, the rest are skipped); a file that does not exist or cannot be read,
an unusable `--ca-file` or an invalid host name raise `MaterialError`/`InputError` (exit 3),
naming where the path came from (docs/exit-codes.md): the flag, the `GHES_SETUP_*` variable or
the site file and key (`TlsCheckRequest.origins`, filled in by `from_site`).
The appliance work calls it before pushing a certificate.

`run_tls_probe(TlsProbeRequest(...)) -> Report` (command "tls probe") runs `tls-served`:
handshakes with SNI for HOSTNAME (and every isolation host), verifying what each presents.
`served_fingerprints(...)` returns the served leaf's SHA-256 per host (upgrade runbooks
compare them before and after).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ghes_setup.checks import Check, Report, run_checks
from ghes_setup.checks.catalogue import Pipeline, checks
from ghes_setup.config.site import Site, validate_hostname
from ghes_setup.errors import InputError, MaterialError
from ghes_setup.facts import HTTPS_PORT, GhesVersion, isolation_hosts
from ghes_setup.net import AddressResolver
from ghes_setup.tls.check_served import ChainFetcher, TlsProbeContext
from ghes_setup.tls.check_served import served_fingerprints as fingerprints_of
from ghes_setup.tls.context import DEFAULT_CRIT_DAYS, DEFAULT_WARN_DAYS, TlsMaterialContext
from ghes_setup.tls.material import LoadFailure, load_bundle, load_key
from ghes_setup.tls.trust import load_trust

# The catalogue's rows of `tls check` (checks.catalogue), in report order: what the admin fixes
# first comes first, a check after the checks it requires.
MATERIAL_CHECKS: tuple[Check[TlsMaterialContext], ...] = checks(Pipeline.TLS_CHECK)
PROBE_CHECKS: tuple[Check[TlsProbeContext], ...] = checks(Pipeline.TLS_PROBE)


@dataclass(frozen=True, slots=True)
class TlsCheckRequest:
    cert: Path
    key: Path
    hostname: str
    ca_file: Path | None = None
    warn_days: int = DEFAULT_WARN_DAYS
    crit_days: int = DEFAULT_CRIT_DAYS
    now: datetime | None = None
    # The GHES release whose isolation subdomains `tls-san` counts (default: a current one).
    ghes_version: GhesVersion | None = None
    # Where "cert", "key" and "ca_file" came from, for errors: a flag ("--key"), a variable
    # ("GHES_SETUP_TLS_KEY") or the site file's key ("site.toml: [tls] key"). Default: the flag.
    origins: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_site(
        cls,
        site: Site,
        *,
        ghes_version: GhesVersion | None = None,
    ) -> TlsCheckRequest:
        """The site's [tls] cert and key for its hostname; InputError (exit 3) without them.
        Errors about the files name where their paths came from (`Site.origins`)."""
        if not site.hostname:
            raise InputError(
                "no hostname given", hint="pass --hostname ghe.example.com or use a site file"
            )
        if site.tls.cert is None or site.tls.key is None:
            raise InputError(
                "no certificate and key given",
                hint="pass --cert FILE --key FILE, or set [tls] cert and key in the site file",
            )
        return cls(
            cert=site.tls.cert,
            key=site.tls.key,
            hostname=site.hostname,
            ca_file=site.connection.ca_file,
            warn_days=site.tls.warn_days,
            crit_days=site.tls.crit_days,
            ghes_version=ghes_version or site.ghes_version,
            origins=file_origins(
                site,
                {
                    "cert": ("tls.cert", "--cert"),
                    "key": ("tls.key", "--key"),
                    "ca_file": ("connection.ca_file", "--ca-file"),
                },
            ),
        )


def file_origins(site: Site, keys: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """For each name -> (site key such as "tls.key", its flag): where the site's path came
    from, for an error about that file: the site file and key, its `GHES_SETUP_*` variable,
    else the flag (`Site.origins`, recorded as the site was loaded)."""
    found: dict[str, str] = {}
    for label, (key, flag) in keys.items():
        origin = site.origins.get(key)
        found[label] = flag if origin is None or origin.startswith("command line") else origin
    return found


def check_thresholds(warn_days: int, crit_days: int) -> None:
    if crit_days < 0 or warn_days < crit_days:
        raise InputError(
            f"--warn-days {warn_days} / --crit-days {crit_days}: need warn >= crit >= 0",
            hint="e.g. --warn-days 30 --crit-days 7",
        )


def material_context(request: TlsCheckRequest) -> TlsMaterialContext:
    hostname = validate_hostname(request.hostname)
    check_thresholds(request.warn_days, request.crit_days)
    trust = load_trust(request.ca_file, source=request.origins.get("ca_file", "--ca-file"))
    bundle = load_bundle(request.cert)
    key = load_key(request.key)
    for name, flag, loaded in (("cert", "--cert", bundle), ("key", "--key", key)):
        if isinstance(loaded, LoadFailure) and loaded.unreadable:
            error = loaded.as_error()
            origin = request.origins.get(name, flag)
            raise MaterialError(f"{origin}: {error.message}", hint=error.hint)
    return TlsMaterialContext(
        hostname=hostname,
        bundle=bundle,
        key=key,
        trust=trust,
        now=_aware(request.now) if request.now else datetime.now(UTC),
        warn_days=request.warn_days,
        crit_days=request.crit_days,
        ghes_version=request.ghes_version,
    )


def run_tls_check(
    request: TlsCheckRequest, *, checks: Sequence[Check[TlsMaterialContext]] = MATERIAL_CHECKS
) -> Report:
    """Validate a certificate bundle and key for `request.hostname` (command "tls check")."""
    ctx = material_context(request)
    return Report("tls check", run_checks(checks, ctx), target=ctx.hostname)


@dataclass(frozen=True, slots=True)
class TlsProbeRequest:
    hostname: str
    resolver: AddressResolver
    port: int = HTTPS_PORT
    ca_file: Path | None = None
    subdomains: bool = False
    ghes_version: GhesVersion | None = None
    warn_days: int = DEFAULT_WARN_DAYS
    crit_days: int = DEFAULT_CRIT_DAYS
    timeout: float = 5.0
    now: datetime | None = None
    # Where `ca_file` came from, for errors (`file_origins(site, {"ca_file":
    # ("connection.ca_file", "--ca-file")})["ca_file"]`); None: the variable when it holds
    # that path, else "--ca-file (or [connection] ca_file)".
    ca_origin: str | None = None


def probe_context(
    request: TlsProbeRequest, *, fetch: ChainFetcher | None = None
) -> TlsProbeContext:
    hostname = validate_hostname(request.hostname)
    check_thresholds(request.warn_days, request.crit_days)
    if not 0 < request.port < 65536:
        raise InputError(f"--port {request.port}: must be 1-65535")
    if request.timeout <= 0:
        raise InputError(f"--timeout {request.timeout:g}: must be more than 0 seconds")
    hosts: tuple[str, ...] = (hostname,)
    if request.subdomains:
        hosts += isolation_hosts(hostname, request.ghes_version)
    return TlsProbeContext(
        hostname=hostname,
        hosts=hosts,
        resolver=request.resolver,
        trust=load_trust(request.ca_file, source=_probe_ca_origin(request)),
        now=_aware(request.now) if request.now else datetime.now(UTC),
        port=request.port,
        timeout=request.timeout,
        warn_days=request.warn_days,
        crit_days=request.crit_days,
        **({"fetch": fetch} if fetch is not None else {}),
    )


def run_tls_probe(request: TlsProbeRequest, *, fetch: ChainFetcher | None = None) -> Report:
    """Handshake with every SNI host and verify what it serves (command "tls probe")."""
    ctx = probe_context(request, fetch=fetch)
    return Report("tls probe", run_checks(PROBE_CHECKS, ctx), target=ctx.hostname)


def served_fingerprints(
    request: TlsProbeRequest, *, fetch: ChainFetcher | None = None
) -> dict[str, str | None]:
    """SNI host -> SHA-256 fingerprint (`AB:CD:...`) of the served leaf, None if none."""
    return fingerprints_of(probe_context(request, fetch=fetch))


def _probe_ca_origin(request: TlsProbeRequest) -> str:
    return request.ca_origin or "--ca-file"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = [
    "MATERIAL_CHECKS",
    "TlsCheckRequest",
    "TlsProbeRequest",
    "file_origins",
    "run_tls_check",
    "run_tls_probe",
    "served_fingerprints",
]
