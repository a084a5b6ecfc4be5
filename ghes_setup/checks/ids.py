"""`CheckId`: every stable check id, the public contract of the reports.

An id names a promise (docs/checks/<id>.md explains each one); it appears in the JSON document
(docs/schema/report-v1.json lists them), the Nagios line, the Prometheus labels and the hints
(`ghes-setup explain ID`). Ids are only ever added, never renamed or removed.

This module imports nothing: the CLI's `--help` lists the ids without loading any check.
"""

from __future__ import annotations

from enum import StrEnum


class CheckId(StrEnum):
    """One member per id; the value is the id as printed (a `str`: compares equal to it)."""

    DNS_HOSTNAME = "dns-hostname"
    DNS_WILDCARD = "dns-wildcard"
    DNS_SUBDOMAINS = "dns-subdomains"
    DNS_CONSISTENCY = "dns-consistency"
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


def sorted_ids() -> tuple[str, ...]:
    """Every id as a plain string, sorted (`explain --list`, the schema's enumeration)."""
    return tuple(sorted(str(i) for i in CheckId))
