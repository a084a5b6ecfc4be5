"""The check catalogue: ONE table of every check, its area, its context and its pipelines.

Each row says which check object measures an id (`<area>/check_<topic>.py`, a `@check(...)`
function), the context type that function takes, the `PipelineContext` accessor that builds
that context in the cross-area pipelines, and which commands run it. Every pipeline
(`check`, `up`, `verify`) and every area command (`dns check`, `tls check`, `appliance check`,
...) takes its checks from here, in the table's order, which is the order of the reports.

Why module paths, not the objects: this module is in the core layer (docs/architecture.md),
below the areas, so that the areas' own commands can read the table; importing the check
modules here would turn the layering upside down and load every area (httpx, paramiko,
cryptography) for a command that needs one. `load` imports a check's module when a
pipeline asks for it; tests/unit/test_check_catalogue.py proves every row resolves, agrees
with its module (id, area, context) and that no check module is missing from the table.

Adding a check: its module, its row here (its `CheckId` member and its `CATALOGUE` row), its
page docs/checks/<id>.md and its tests (docs/architecture.md, "Adding a check").

This module imports no area and no library: `ghes-setup --help` lists the ids from it.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ghes_setup.checks.protocol import FunctionCheck


class CheckId(StrEnum):
    """Every stable check id, the public contract of the reports: the JSON document (its schema
    enumerates them), the Nagios line, the Prometheus labels and the hints (`ghes-setup
    explain ID`); docs/checks/<id>.md explains each. Only ever added, never renamed or removed.
    The value is the id as printed (a `str`: it compares equal to the plain id)."""

    DNS_HOSTNAME = "dns-hostname"
    DNS_WILDCARD = "dns-wildcard"
    DNS_SUBDOMAINS = "dns-subdomains"
    DNS_CONSISTENCY = "dns-consistency"
    DNS_CNAME_TARGET = "dns-cname-target"
    TLS_PEM = "tls-pem"
    TLS_KEY_TYPE = "tls-key-type"
    TLS_KEY_MATCH = "tls-key-match"
    TLS_CHAIN_ORDER = "tls-chain-order"
    TLS_SIGNATURE = "tls-signature"
    TLS_CHAIN_COMPLETE = "tls-chain-complete"
    TLS_SAN = "tls-san"
    TLS_EXPIRY = "tls-expiry"
    TLS_SERVED = "tls-served"
    STATUS_ENDPOINT = "status-endpoint"
    APPLIANCE_REACHABLE = "appliance-reachable"
    APPLIANCE_VERSION = "appliance-version"
    APPLIANCE_CONFIG_APPLY = "appliance-config-apply"
    APPLIANCE_PENDING = "appliance-pending"
    SUBDOMAIN_ISOLATION = "subdomain-isolation"
    TLS_ENABLED = "tls-enabled"
    PACKAGES_STORAGE_CONFIG = "packages-storage-config"
    PACKAGES_ENABLED = "packages-enabled"
    PACKAGES_STORAGE = "packages-storage"
    REGISTRY_PING = "registry-ping"
    REGISTRY_SMOKE = "registry-smoke"
    CLIENT_DNS = "client-dns"
    CLIENT_TLS_TRUST = "client-tls-trust"
    CLIENT_CA_PATHS = "client-ca-paths"
    CLIENT_PROXY = "client-proxy"
    CLIENT_TOKEN = "client-token"  # noqa: S105 - a check id, not a password
    CLIENT_DOCKER = "client-docker"


class Pipeline(StrEnum):
    """The commands that run checks. A `--smoke` variant adds its rows to the plain command's."""

    CHECK = "check"
    CHECK_SMOKE = "check --smoke"
    UP = "up"
    VERIFY = "verify"
    DNS_CHECK = "dns check"
    TLS_CHECK = "tls check"
    TLS_PROBE = "tls probe"
    APPLIANCE_CHECK = "appliance check"
    PACKAGES_STATUS = "packages status"
    REGISTRY_STATUS = "registry status"
    REGISTRY_SMOKE = "registry smoke"
    CLIENT_CHECK = "client check"
    CLIENT_SMOKE = "client check --smoke"


@dataclass(frozen=True, slots=True)
class Row:
    """One check object. `check` and `context` are `module:name`; `via` is the name of the
    `PipelineContext` method that builds `context` (None: no cross-area pipeline runs this
    check object); `also_requires` adds ordering inside the `check` pipeline only."""

    id: CheckId
    area: str
    check: str
    context: str
    pipelines: frozenset[Pipeline]
    via: str | None = None
    also_requires: tuple[CheckId, ...] = ()

    @property
    def module(self) -> str:
        return self.check.partition(":")[0]


def _row(
    check_id: CheckId,
    area: str,
    check: str,
    context: str,
    pipelines: tuple[Pipeline, ...],
    *,
    via: str | None = None,
    also_requires: tuple[CheckId, ...] = (),
) -> Row:
    return Row(check_id, area, check, context, frozenset(pipelines), via, also_requires)


P = Pipeline
_DNS = "ghes_setup.dns.context:DnsContext"
_TLS = "ghes_setup.tls.context:TlsMaterialContext"
_APPLIANCE = "ghes_setup.appliance.context:ApplianceContext"
_PACKAGES = "ghes_setup.packages.context:PackagesContext"
_CLIENT = "ghes_setup.client.context:ClientContext"
_DNS_PIPELINES = (P.CHECK, P.UP, P.DNS_CHECK)
_APPLIANCE_PIPELINES = (P.CHECK, P.APPLIANCE_CHECK)

# The order of every report: what the admin fixes first comes first (names, certificate,
# appliance, Packages, registry), and a check after the checks it requires.
CATALOGUE: Final[tuple[Row, ...]] = (
    # --- dns: HOSTNAME, *.HOSTNAME and every isolation subdomain resolve to the appliance
    _row(
        CheckId.DNS_HOSTNAME,
        "dns",
        "ghes_setup.dns.check_hostname:hostname_resolves",
        _DNS,
        _DNS_PIPELINES,
        via="dns",
    ),
    _row(
        CheckId.DNS_WILDCARD,
        "dns",
        "ghes_setup.dns.check_wildcard:wildcard_resolves",
        _DNS,
        _DNS_PIPELINES,
        via="dns",
    ),
    _row(
        CheckId.DNS_SUBDOMAINS,
        "dns",
        "ghes_setup.dns.check_subdomains:subdomains_resolve",
        _DNS,
        _DNS_PIPELINES,
        via="dns",
    ),
    _row(
        CheckId.DNS_CONSISTENCY,
        "dns",
        "ghes_setup.dns.check_consistency:nameservers_agree",
        _DNS,
        _DNS_PIPELINES,
        via="dns",
    ),
    # Warn-only: copies of a CNAME target's addresses that will not follow it.
    _row(
        CheckId.DNS_CNAME_TARGET,
        "dns",
        "ghes_setup.dns.check_cname_target:cname_target_followed",
        _DNS,
        _DNS_PIPELINES,
        via="dns",
    ),
    # --- tls: the certificate and key files (`tls check`, and the gate of `up`/`tls push`)
    _row(CheckId.TLS_PEM, "tls", "ghes_setup.tls.check_pem:tls_pem", _TLS, (P.TLS_CHECK, P.UP)),
    _row(
        CheckId.TLS_KEY_TYPE,
        "tls",
        "ghes_setup.tls.check_key_type:tls_key_type",
        _TLS,
        (P.TLS_CHECK, P.UP),
    ),
    _row(
        CheckId.TLS_KEY_MATCH,
        "tls",
        "ghes_setup.tls.check_key_match:tls_key_match",
        _TLS,
        (P.TLS_CHECK, P.UP),
    ),
    _row(
        CheckId.TLS_CHAIN_ORDER,
        "tls",
        "ghes_setup.tls.check_chain_order:tls_chain_order",
        _TLS,
        (P.TLS_CHECK, P.UP),
    ),
    _row(
        CheckId.TLS_SIGNATURE,
        "tls",
        "ghes_setup.tls.check_signature:tls_signature",
        _TLS,
        (P.TLS_CHECK, P.UP),
    ),
    _row(
        CheckId.TLS_CHAIN_COMPLETE,
        "tls",
        "ghes_setup.tls.check_chain_complete:tls_chain_complete",
        _TLS,
        (P.TLS_CHECK, P.UP),
    ),
    _row(CheckId.TLS_SAN, "tls", "ghes_setup.tls.check_san:tls_san", _TLS, (P.TLS_CHECK, P.UP)),
    _row(
        CheckId.TLS_EXPIRY,
        "tls",
        "ghes_setup.tls.check_expiry:tls_expiry",
        _TLS,
        (P.TLS_CHECK, P.UP),
    ),
    # --- tls: what the appliance serves for every SNI host
    _row(
        CheckId.TLS_SERVED,
        "tls",
        "ghes_setup.tls.check_served:tls_served",
        "ghes_setup.tls.check_served:TlsProbeContext",
        (P.CHECK, P.TLS_PROBE, P.VERIFY),
        via="tls_served",
    ),
    # --- appliance
    _row(
        CheckId.STATUS_ENDPOINT,
        "appliance",
        "ghes_setup.appliance.check_status_endpoint:status_endpoint",
        "ghes_setup.appliance.check_status_endpoint:StatusEndpointContext",
        (P.CHECK,),
        via="status_endpoint",
    ),
    _row(
        CheckId.APPLIANCE_REACHABLE,
        "appliance",
        "ghes_setup.appliance.check_reachable:appliance_reachable",
        _APPLIANCE,
        (*_APPLIANCE_PIPELINES, P.UP),
        via="appliance",
    ),
    _row(
        CheckId.APPLIANCE_VERSION,
        "appliance",
        "ghes_setup.appliance.check_version:appliance_version",
        _APPLIANCE,
        (*_APPLIANCE_PIPELINES, P.UP, P.VERIFY),
        via="appliance",
    ),
    _row(
        CheckId.APPLIANCE_CONFIG_APPLY,
        "appliance",
        "ghes_setup.appliance.check_config_apply:appliance_config_apply",
        _APPLIANCE,
        (*_APPLIANCE_PIPELINES, P.UP),
        via="appliance",
    ),
    # Stored but not applied: Packages settings do not work yet either (`packages status`).
    _row(
        CheckId.APPLIANCE_PENDING,
        "appliance",
        "ghes_setup.appliance.check_pending:appliance_pending",
        _APPLIANCE,
        (*_APPLIANCE_PIPELINES, P.PACKAGES_STATUS),
        via="appliance",
    ),
    _row(
        CheckId.SUBDOMAIN_ISOLATION,
        "appliance",
        "ghes_setup.appliance.check_subdomain_isolation:subdomain_isolation",
        _APPLIANCE,
        (*_APPLIANCE_PIPELINES, P.VERIFY),
        via="appliance",
    ),
    _row(
        CheckId.TLS_ENABLED,
        "appliance",
        "ghes_setup.appliance.check_tls_enabled:tls_enabled",
        _APPLIANCE,
        _APPLIANCE_PIPELINES,
        via="appliance",
    ),
    # --- packages
    _row(
        CheckId.PACKAGES_STORAGE_CONFIG,
        "packages",
        "ghes_setup.packages.check_storage_config:packages_storage_config",
        _PACKAGES,
        (P.PACKAGES_STATUS, P.UP),
        via="packages",
    ),
    # In `check`, after the appliance answered: its identify read the Packages settings too.
    _row(
        CheckId.PACKAGES_ENABLED,
        "packages",
        "ghes_setup.packages.check_enabled:packages_enabled",
        _PACKAGES,
        # `up`: only when the site names Packages storage but leaves Packages as it is.
        (P.CHECK, P.PACKAGES_STATUS, P.VERIFY, P.UP),
        via="packages",
        also_requires=(CheckId.APPLIANCE_REACHABLE,),
    ),
    # The appliance's own storage test: a revoked key or a storage outage fails here.
    _row(
        CheckId.PACKAGES_STORAGE,
        "packages",
        "ghes_setup.packages.check_storage:packages_storage",
        _PACKAGES,
        (P.CHECK, P.PACKAGES_STATUS),
        via="packages",
    ),
    # --- registry
    _row(
        CheckId.REGISTRY_PING,
        "registry",
        "ghes_setup.registry.check_ping:registry_ping",
        "ghes_setup.registry.check_ping:PingRequest",
        (P.CHECK, P.UP, P.VERIFY, P.REGISTRY_STATUS),
        via="registry_ping",
    ),
    _row(
        CheckId.REGISTRY_SMOKE,
        "registry",
        "ghes_setup.registry.check_smoke:registry_smoke",
        "ghes_setup.registry.smoke:SmokeRequest",
        (P.CHECK_SMOKE, P.UP, P.VERIFY, P.REGISTRY_SMOKE),
        via="smoke",
    ),
    # --- client: from a runner's host, with its resolver, proxies, CAs and docker
    _row(
        CheckId.CLIENT_DNS,
        "client",
        "ghes_setup.client.check_dns:client_dns",
        _CLIENT,
        (P.CLIENT_CHECK,),
    ),
    _row(
        CheckId.CLIENT_TLS_TRUST,
        "client",
        "ghes_setup.client.check_tls_trust:client_tls_trust",
        _CLIENT,
        (P.CLIENT_CHECK,),
    ),
    _row(
        CheckId.CLIENT_CA_PATHS,
        "client",
        "ghes_setup.client.check_ca_paths:client_ca_paths",
        _CLIENT,
        (P.CLIENT_CHECK,),
    ),
    _row(
        CheckId.CLIENT_PROXY,
        "client",
        "ghes_setup.client.check_proxy:client_proxy",
        _CLIENT,
        (P.CLIENT_CHECK,),
    ),
    _row(
        CheckId.CLIENT_TOKEN,
        "client",
        "ghes_setup.client.check_token:client_token",
        _CLIENT,
        (P.CLIENT_CHECK,),
    ),
    _row(
        CheckId.CLIENT_DOCKER,
        "client",
        "ghes_setup.client.check_docker:client_docker",
        _CLIENT,
        (P.CLIENT_CHECK,),
    ),
    # The same promise as the registry's smoke test, measured the way docker on the runner
    # would reach the registry (its proxy, its CAs): one id, a second check object.
    _row(
        CheckId.REGISTRY_SMOKE,
        "registry",
        "ghes_setup.client.check_smoke:client_smoke",
        _CLIENT,
        (P.CLIENT_SMOKE,),
    ),
)


def rows(
    pipeline: Pipeline, *, area: str | None = None, only: CheckId | None = None
) -> tuple[Row, ...]:
    """The rows `pipeline` runs (of one `area`, or the one check `only`), in report order."""
    return tuple(
        r
        for r in CATALOGUE
        if pipeline in r.pipelines
        and (area is None or r.area == area)
        and (only is None or r.id == only)
    )


def checks(
    pipeline: Pipeline, *, area: str | None = None, only: CheckId | None = None
) -> tuple[FunctionCheck[Any], ...]:
    """The check objects of `rows(...)`, in report order; their modules are imported now."""
    return tuple(load(r) for r in rows(pipeline, area=area, only=only))


def load(row: Row) -> FunctionCheck[Any]:
    """The check object of `row` (its module imported on first use)."""
    return _resolve(row.check, row.id)


def resolve(ref: str) -> Any:
    """`module:name` -> the object (a row's context type, its check)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@functools.cache
def _resolve(ref: str, check_id: CheckId) -> FunctionCheck[Any]:
    found = resolve(ref)
    if not isinstance(found, FunctionCheck) or found.id != check_id:
        raise TypeError(f"catalogue row {check_id}: {ref} is not the check {check_id}")
    return found
