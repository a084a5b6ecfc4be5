"""What ghes-setup knows about GHES, in one place, each fact with its source.

Everything the tool assumes about the appliance (ports, version gates, the isolation subdomain
list, `ghe-config` keys, Manage API fields, certificate rules) is a row here, with the document
it comes from (see docs/reference/ghes-facts.md). Rows marked `verified=False` are
UNVERIFIED: no official source confirms them. They live here and nowhere else, so that a site
admin with a real appliance can correct one line. Code elsewhere imports the names below; it
never repeats a port, a key or a version number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import total_ordering
from typing import Final

# --------------------------------------------------------------------------- versions


@total_ordering
@dataclass(frozen=True, slots=True)
class GhesVersion:
    """A GHES feature release (3.17) or patch release (3.17.2)."""

    major: int
    minor: int
    patch: int | None = None

    _PATTERN = re.compile(r"^(?:enterprise-server@)?v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.\-+].*)?$")

    @classmethod
    def parse(cls, text: str) -> GhesVersion:
        """Parse `3.17`, `3.17.2`, `v3.17.2`, `enterprise-server@3.17.2`, `3.11.0.rc1`."""
        match = cls._PATTERN.match(text.strip())
        if not match:
            raise ValueError(f"not a GHES version: {text!r} (expected X.Y or X.Y.Z)")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch) if patch is not None else None)

    @property
    def feature(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, GhesVersion):
            return NotImplemented
        return (self.major, self.minor, self.patch or 0) < (
            other.major,
            other.minor,
            other.patch or 0,
        )

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}"
        return base if self.patch is None else f"{base}.{self.patch}"


def v(text: str) -> GhesVersion:
    return GhesVersion.parse(text)


@dataclass(frozen=True, slots=True)
class Fact:
    value: object
    source: str
    verified: bool = True


# --------------------------------------------------------------------------- ports
# Source: network-ports.md (122 = "Shell access"; 8443 = HTTPS Management Console / Manage API).
ADMIN_SSH_PORT: Final = 122
ADMIN_SSH_USER: Final = "admin"
MANAGE_API_PORT: Final = 8443
# network-ports.md: 8080 is the Management Console over plain HTTP ("HTTP Plain-text web-based
# Management Console. Not required unless TLS is disabled manually"). The admin password then
# travels in clear: ghes-setup refuses it unless the site allows it.
MANAGE_API_HTTP_PORT: Final = 8080
HTTPS_PORT: Final = 443
DNS_PORT: Final = 53


def https_authority(host: str, port: int) -> str:
    """`host`, or `host:port` off the default HTTPS port: the authority of an https:// URL
    (RFC 3986 §3.2.3: a scheme's default port is left out)."""
    return host if port == HTTPS_PORT else f"{host}:{port}"


# --------------------------------------------------------------------------- version gates
# Container registry at containers.HOSTNAME: `ifversion ghes > 3.4`
# (container-registry-hostname.md).
CONTAINER_REGISTRY_SINCE: Final = v("3.5")
# GitHub Packages: "available in GitHub Enterprise Server 3.0 or higher" and "does not currently
# support clustering" (getting-started-with-github-packages-for-your-enterprise.md).
PACKAGES_SINCE: Final = v("3.0")
CLUSTER_TOPOLOGY: Final = "Cluster"  # GET /manage/v1/config/nodes `topology` enum value
# Manage API reached parity with the Management Console API in 3.12
# (data/features/management-console-manage-ghes-parity.yml); /setup/api removed in 3.15.
MANAGE_API_SINCE: Final = v("3.12")
SETUP_API_REMOVED_IN: Final = v("3.15")


@dataclass(frozen=True, slots=True)
class TestedRelease:
    """A GHES feature release ghes-setup supports, and the official API description its client
    (and the lab) are tested against: tests/contract/descriptions/ghes-X.Y.json, the subset of
    `@octokit/openapi`'s generated/ghes-X.Y.deref.json (provenance.json beside it)."""

    version: GhesVersion
    description: str  # path in the repository
    package: str  # the @octokit/openapi release it came from


def _tested(feature: str, package: str) -> TestedRelease:
    return TestedRelease(
        v(feature),
        f"tests/contract/descriptions/ghes-{feature}.json",
        f"@octokit/openapi@{package}",
    )


# The supported releases: 3.12 (Manage API at parity) up to the newest vendored description.
# A test (tests/appliance/test_versions.py) holds this table to the vendored files.
TESTED_RELEASES: Final[tuple[TestedRelease, ...]] = (
    _tested("3.12", "18.2.0"),
    _tested("3.13", "19.1.0"),
    _tested("3.14", "22.0.0"),
    _tested("3.15", "22.0.0"),
    _tested("3.16", "22.0.0"),
    _tested("3.17", "23.0.2"),
    _tested("3.18", "23.0.2"),
    _tested("3.19", "23.0.2"),
)
NEWEST_TESTED: Final = TESTED_RELEASES[-1].version


def tested_release(version: GhesVersion) -> TestedRelease | None:
    """The tested feature release of `version` (3.17.4 -> 3.17), or None when untested."""
    return next((t for t in TESTED_RELEASES if t.version.feature == version.feature), None)


def untested_newer(version: GhesVersion) -> bool:
    """A feature release newer than the newest ghes-setup is tested against."""
    return version.feature > NEWEST_TESTED.feature


# ghe-config-apply applies conditionally from 3.16 (command-line-utilities.md).
CONDITIONAL_APPLY_SINCE: Final = v("3.16")
# A current release for offline checks when neither the site nor the appliance says otherwise.
DEFAULT_GHES_VERSION: Final = v("3.17")

# --------------------------------------------------------------------------- subdomains


@dataclass(frozen=True, slots=True)
class Subdomain:
    label: str
    since: GhesVersion | None = None  # first release that uses it
    until: GhesVersion | None = None  # first release that no longer uses it
    https_only: bool = False


# enabling-subdomain-isolation.md, table "paths replaced by subdomains", with the version gates
# of the older copies: notebooks/viewscreen from 3.7 (feature viewscreen-and-notebooks), render
# before 3.7 only, containers from 3.5. `notebook.` (singular) in one reusable is a doc typo.
ISOLATION_SUBDOMAINS: Final[tuple[Subdomain, ...]] = (
    Subdomain("assets"),
    Subdomain("avatars"),
    Subdomain("codeload"),
    Subdomain("containers", since=CONTAINER_REGISTRY_SINCE, https_only=True),
    Subdomain("docker"),
    Subdomain("gist"),
    Subdomain("maven"),
    Subdomain("media"),
    Subdomain("notebooks", since=v("3.7")),
    Subdomain("npm", https_only=True),
    Subdomain("nuget"),
    Subdomain("pages"),
    Subdomain("raw"),
    Subdomain("render", until=v("3.7")),
    Subdomain("reply"),
    Subdomain("rubygems"),
    Subdomain("uploads"),
    Subdomain("viewscreen", since=v("3.7")),
)


def isolation_subdomains(version: GhesVersion | None) -> tuple[str, ...]:
    """The labels subdomain isolation uses on `version` (default: a current release)."""
    target = version or DEFAULT_GHES_VERSION
    return tuple(
        s.label
        for s in ISOLATION_SUBDOMAINS
        if (s.since is None or target.feature >= s.since.feature)
        and (s.until is None or target.feature < s.until.feature)
    )


def isolation_hosts(hostname: str, version: GhesVersion | None) -> tuple[str, ...]:
    return tuple(f"{label}.{hostname}" for label in isolation_subdomains(version))


CONTAINER_REGISTRY_LABEL: Final = "containers"

# --------------------------------------------------------------------------- settings


class SettingKind(Enum):
    BOOL = "bool"
    STRING = "string"
    PEM = "pem"
    SECRET = "secret"  # noqa: S105 - a kind of setting
    ECOSYSTEM = "ecosystem"  # enabled | readonly | disabled


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One desired setting: its name in ghes-setup, its Manage API field, its ghe-config key.

    `api_field` is a dotted path into the `/manage/v1/config/settings` document, or None when
    the documented schema has no such field (then only SSH `ghe-config` can set it).
    `key_verified` is False when the ghe-config key comes only from unofficial sources.

    The row also says where ghes-setup takes and keeps the value, so that no second table
    repeats it: `site_key` is the dotted path in the site model the desired value comes from
    (a PEM or SECRET path names a file, read at plan time), or None when the value is derived
    (the storage type from the storage backend, the storage secrets from the environment,
    `tls.enabled` from the presence of a certificate); `recorded` says the upgrade snapshot
    records it (`runbooks/upgrade.py`; never a secret).
    """

    name: str
    kind: SettingKind
    ghe_config_key: str
    api_field: str | None
    key_verified: bool
    source: str
    site_key: str | None = None
    recorded: bool = False


def _eco(name: str) -> SettingSpec:
    return SettingSpec(
        name=f"packages.ecosystems.{name}",
        kind=SettingKind.ECOSYSTEM,
        ghe_config_key=f"app.packages.{name}-enabled",
        api_field=None,
        key_verified=False,
        source="UNVERIFIED: only an unofficial copy of Enterprise::ConfigApply::Packages",
        site_key=f"packages.ecosystems.{name}",
        recorded=True,
    )


SETTINGS: Final[tuple[SettingSpec, ...]] = (
    SettingSpec(
        "hostname",
        SettingKind.STRING,
        "core.github-hostname",
        "github_hostname",
        True,
        "command-line-utilities.md (ghe-config example); manage-ghes settings schema",
        site_key="hostname",
    ),
    SettingSpec(
        "subdomain_isolation",
        SettingKind.BOOL,
        "core.subdomain-isolation",
        "subdomain_isolation",
        False,
        "API field documented (manage-ghes); ghe-config key UNVERIFIED (unofficial source)",
        site_key="subdomain_isolation",
        recorded=True,
    ),
    SettingSpec(
        "tls.enabled",
        SettingKind.BOOL,
        "github-ssl.enabled",
        "github_ssl.enabled",
        False,
        "API field documented; ghe-config key from an unofficial source",
        recorded=True,
    ),
    SettingSpec(
        "tls.cert",
        SettingKind.PEM,
        "github-ssl.cert",
        "github_ssl.cert",
        False,
        "API field documented; ghe-config key from a third-party script",
        site_key="tls.cert",
        recorded=True,
    ),
    SettingSpec(
        "tls.key",
        SettingKind.SECRET,
        "github-ssl.key",
        "github_ssl.key",
        False,
        "API field documented; ghe-config key UNVERIFIED (no source at all)",
        site_key="tls.key",
    ),
    SettingSpec(
        "packages.enabled",
        SettingKind.BOOL,
        "app.packages.enabled",
        None,
        True,
        "setting-up-a-staging-instance.md; backup-utils ghe-backup-secrets",
        site_key="packages.enabled",
        recorded=True,
    ),
    SettingSpec(
        "packages.storage_type",
        SettingKind.STRING,
        "secrets.packages.blob-storage-type",
        None,
        True,
        "staging-instance page; backup-utils (s3 or azure; MinIO uses s3)",
        recorded=True,
    ),
    SettingSpec(
        "packages.service_url",
        SettingKind.STRING,
        "secrets.packages.service-url",
        None,
        True,
        "staging-instance page; backup-utils",
        site_key="packages.service_url",
        recorded=True,
    ),
    SettingSpec(
        "packages.bucket",
        SettingKind.STRING,
        "secrets.packages.s3-bucket",
        None,
        True,
        "staging-instance page; backup-utils",
        site_key="packages.bucket",
        recorded=True,
    ),
    SettingSpec(
        "packages.s3_access_key",
        SettingKind.SECRET,
        "secrets.packages.aws-access-key",
        None,
        True,
        "staging-instance page; backup-utils",
    ),
    SettingSpec(
        "packages.s3_secret_key",
        SettingKind.SECRET,
        "secrets.packages.aws-secret-key",
        None,
        True,
        "staging-instance page; backup-utils",
    ),
    SettingSpec(
        "packages.azure_connection_string",
        SettingKind.SECRET,
        "secrets.packages.azure-connection-string",
        None,
        True,
        "staging-instance page; backup-utils (SAS URLs not supported)",
    ),
    SettingSpec(
        "packages.azure_container",
        SettingKind.STRING,
        "secrets.packages.azure-container-name",
        None,
        True,
        "staging-instance page; backup-utils",
        site_key="packages.azure_container",
        recorded=True,
    ),
    *(_eco(e) for e in ("container", "docker", "npm", "maven", "nuget", "rubygems")),
)

SETTINGS_BY_NAME: Final = {s.name: s for s in SETTINGS}

# ghe-config keys that are read to identify the appliance.
PACKAGE_VERSION_KEY: Final = "core.package-version"  # backup-utils bin/ghe-restore

# The provider names ghe-packages-precheck takes (S3, MinIO, Azure; command-line-utilities.md)
# are the `precheck_provider` of each row of ghes_setup/packages/backends.py.
# Success line of ghe-check-blob-connection (command-line-utilities.md).
BLOB_CHECK_SUCCESS: Final = "All Storage tests passed"
# `ghe-packages-precheck -cs` for S3/MinIO: the docs give no format for Packages. This is the
# Actions S3 precheck's (ghe-actions-precheck -p s3 -cs ..., MinIO with ForcePathStyle=true).
PRECHECK_S3_CONNECTION: Final = Fact(
    "BucketName={bucket};AccessKeyId={access_key};SecretAccessKey={secret_key};"
    "ServiceUrl={service_url}",
    "UNVERIFIED: the Actions storage precheck's format; Packages docs show no example",
    verified=False,
)
PRECHECK_MINIO_EXTRA: Final = Fact(
    ";ForcePathStyle=true", "UNVERIFIED: Actions MinIO precheck example", verified=False
)

# --------------------------------------------------------------------------- certificates
# configuring-tls.md / troubleshooting-tls-errors.md: unencrypted PEM, RSA key without a
# passphrase, leaf first then intermediates. The minimum RSA size is not documented:
MIN_RSA_BITS: Final = Fact(
    2048, "UNVERIFIED: not documented; 2048 is the CA/B Forum minimum", verified=False
)
# ECDSA: "not supported per docs" (RSA only); a third-party script installs ECC certs.
ECDSA_ACCEPTED: Final = Fact(
    False, "configuring-tls.md says RSA; UNVERIFIED for new releases", verified=False
)

# --------------------------------------------------------------------------- registry
# containers.HOSTNAME answers /v2/ with a Bearer challenge; its realm and service are not
# documented for GHES: read them from WWW-Authenticate, never hard-code them.
REGISTRY_REALM_GUESS: Final = Fact(
    "https://containers.HOSTNAME/token", "UNVERIFIED: inferred from ghcr.io", verified=False
)
PACKAGE_SCOPES: Final = {
    "pull": "read:packages",
    "push": "write:packages",
    "delete": "delete:packages",
}
# The token page pre-filled with the scope a push needs (docs/reference/ghes-facts.md §5.3, packages
# docs).
NEW_PACKAGES_TOKEN_PATH: Final = "/settings/tokens/new?scopes=write:packages"  # noqa: S105
# GHES REST API root: https://HOSTNAME/api/v3 (docs "Getting started with the REST API").
REST_API_PREFIX: Final = "/api/v3"
# `GET /user` answers a classic PAT with its scopes in this header ("Scopes for OAuth apps");
# fine-grained tokens get no such header, and Packages takes classic PATs only
# (packages-classic-pat-only.md).
OAUTH_SCOPES_HEADER: Final = "X-OAuth-Scopes"
# Choosing write:packages on the token page also grants read:packages; a token listing only
# write:packages is treated as able to pull. UNVERIFIED: the docs do not say it is implied.
SCOPE_IMPLIES: Final = Fact(
    {"write:packages": ("read:packages",)},
    "UNVERIFIED: token page behaviour, not stated in the scopes table",
    verified=False,
)
# Package versions of a container image (REST "Packages" endpoints, GHES 3.x docs and the
# OpenAPI description): GET/DELETE {REST}/orgs/{org}/packages/container/{name}/versions[/{id}]
# for an organization's package; /user/packages/container/{name}/versions[/{id}] for a package
# of the authenticated user (the token's owner); /users/{username}/... lists a user's PUBLIC
# packages only, so it cannot find the smoke test's (private) image of the token's owner.
# A version's `name` is the manifest digest. The package name is URL-encoded ("a/b" -> a%2Fb).
PACKAGE_VERSIONS_PATH: Final = "/{owner_kind}/{owner}/packages/container/{name}/versions"
PACKAGE_PATH: Final = "/{owner_kind}/{owner}/packages/container/{name}"
OWN_PACKAGE_VERSIONS_PATH: Final = "/user/packages/container/{name}/versions"
OWN_PACKAGE_PATH: Final = "/user/packages/container/{name}"
# Deleting a package version needs both scopes: REST docs "Delete a package version for the
# authenticated user": personal access tokens (classic) "need the read:packages and
# delete:packages scopes to use this endpoint".
DELETE_SCOPES: Final = ("read:packages", "delete:packages")
# "You cannot delete the last version of a package. You must delete the package instead."
# (400; seen on github.com, actions/delete-package-versions#231). UNVERIFIED on GHES.
LAST_VERSION_DELETE_REFUSED: Final = Fact(
    "last version of a package", "3P: github.com behaviour, UNVERIFIED on GHES", verified=False
)

# --------------------------------------------------------------------------- admin shell output
# `ghe-version` prints e.g. "GitHub Enterprise Server 3.6.1 ami 2022-08-24 0616a9cb7b";
# backup-utils takes the field after "Server" (bin/ghe-host-check).
GHE_VERSION_PATTERN: Final = re.compile(r"GitHub Enterprise(?: Server)?\s+v?(\d+\.\d+\.\d+\S*)")
# `ghe-config -l` format: probably `key=value` like `git config -l`: UNVERIFIED.
GHE_CONFIG_LIST_FORMAT: Final = Fact("key=value per line", "UNVERIFIED", verified=False)
# A replica says so in /etc/github/repl-state (backup-utils bin/ghe-host-check).
REPLICA_STATE_FILE: Final = "/etc/github/repl-state"
# A cluster node has this file (backup-utils bin/ghe-host-check).
CLUSTER_STATE_FILE: Final = "/etc/github/cluster"
