"""What the site's `[packages]` asks of the appliance: the settings, and the storage secrets.

GitHub Packages is set with `ghe-config` over the admin SSH shell: the Manage API settings
document has no Packages fields (ghes-facts §3.4), so every name in `PACKAGES_SCOPE` has
`api_field=None` in `facts.SETTINGS` and routes to SSH.

- `read_storage_secrets(site)`: the storage credentials from the environment (never the site
  file): `GHES_SETUP_S3_ACCESS_KEY` / `GHES_SETUP_S3_SECRET_KEY` for s3 and minio,
  `GHES_SETUP_AZURE_CONNECTION_STRING` for azure, or their `_FILE` variants.
- `desired_packages(site, secrets)`: the settings, by ghes-setup name. MinIO is written as
  blob-storage-type `s3` with its service URL (enabling-github-packages-with-minio.md: "enter
  MinIO in the S3 fields"; ghes-facts §2.2).
- `precheck_argv(site, secrets)`: `ghe-packages-precheck -p {S3,MinIO,Azure} -cs CONN
  [-cn CONTAINER]` (command-line-utilities.md). The connection string is a `Secret`.

This module reads nothing over the network; errors are `SiteFileError`/`SecretMissing` (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ghes_setup import facts
from ghes_setup.appliance.transport import Settings, SettingValue, validate
from ghes_setup.config.site import Site, env_name
from ghes_setup.errors import SiteFileError
from ghes_setup.facts import SettingKind
from ghes_setup.secrets import Secret, require

# Every Packages setting ghes-setup manages, in facts.SETTINGS order.
PACKAGES_SCOPE: Final[tuple[str, ...]] = tuple(
    s.name for s in facts.SETTINGS if s.name.startswith("packages.")
)
ECOSYSTEM_PREFIX: Final = "packages.ecosystems."
ECOSYSTEMS: Final[tuple[str, ...]] = tuple(
    s.name.removeprefix(ECOSYSTEM_PREFIX) for s in facts.SETTINGS if s.kind is SettingKind.ECOSYSTEM
)
CONTAINER: Final = "container"
CONTAINER_SETTING: Final = f"{ECOSYSTEM_PREFIX}{CONTAINER}"
# What config apply's storage step reads: a change to one of these is what the precheck checks.
STORAGE_SETTINGS: Final = frozenset(n for n in PACKAGES_SCOPE if not n.startswith(ECOSYSTEM_PREFIX))

S3_ACCESS_KEY_ENV: Final = "GHES_SETUP_S3_ACCESS_KEY"
S3_SECRET_KEY_ENV: Final = "GHES_SETUP_S3_SECRET_KEY"  # noqa: S105 - a variable name
AZURE_CONNECTION_ENV: Final = "GHES_SETUP_AZURE_CONNECTION_STRING"


def ecosystem_setting(name: str) -> str:
    return f"{ECOSYSTEM_PREFIX}{name}"


@dataclass(frozen=True, slots=True)
class StorageSecrets:
    """The storage credentials; each None when the site's storage does not use it."""

    access_key: Secret | None = None
    secret_key: Secret | None = None
    azure_connection_string: Secret | None = None


def storage_type(site: Site) -> str:
    """The site's storage, required: "s3", "minio" or "azure" (SiteFileError otherwise)."""
    kind = site.packages.storage
    if kind is None:
        raise SiteFileError(
            f"{_label(site)}: [packages] storage is not set",
            hint=(
                'set storage = "s3", "minio" or "azure" and its keys (ghes-setup explain packages)'
            ),
        )
    return kind


def read_storage_secrets(site: Site, environ: Mapping[str, str] | None = None) -> StorageSecrets:
    """The credentials the site's storage needs, from the environment (SecretMissing: exit 3).

    Nothing is read when the site turns Packages off."""
    if site.packages.enabled is False:
        return StorageSecrets()
    kind = storage_type(site)
    if kind == "azure":
        return StorageSecrets(
            azure_connection_string=require(
                AZURE_CONNECTION_ENV,
                environ,
                purpose="GitHub Packages with Azure Blob storage (the connection string)",
            )
        )
    purpose = f"GitHub Packages with {'MinIO' if kind == 'minio' else 'S3'} storage"
    return StorageSecrets(
        access_key=require(S3_ACCESS_KEY_ENV, environ, purpose=f"{purpose} (the access key)"),
        secret_key=require(S3_SECRET_KEY_ENV, environ, purpose=f"{purpose} (the secret key)"),
    )


def desired_packages(site: Site, secrets: StorageSecrets) -> Settings:
    """The Packages settings the site asks for (names from `PACKAGES_SCOPE`).

    `[packages] enabled = false`: only `packages.enabled = false`. Otherwise (true, or not
    given: enabling is what was asked) Packages on, the storage, its credentials and the
    ecosystems the site lists. Settings the site does not mention are left as they are.
    """
    pk = site.packages
    if pk.enabled is False:
        return Settings({"packages.enabled": False})
    kind = storage_type(site)
    desired: dict[str, SettingValue] = {"packages.enabled": True}
    if kind in ("s3", "minio"):
        desired["packages.storage_type"] = "s3"  # MinIO goes in the S3 fields (ghes-facts §2.2)
        desired["packages.service_url"] = _need(site, pk.service_url, "service_url", kind)
        desired["packages.bucket"] = _need(site, pk.bucket, "bucket", kind)
        desired["packages.s3_access_key"] = _secret(secrets.access_key, S3_ACCESS_KEY_ENV)
        desired["packages.s3_secret_key"] = _secret(secrets.secret_key, S3_SECRET_KEY_ENV)
    else:
        desired["packages.storage_type"] = "azure"
        desired["packages.azure_container"] = _need(
            site, pk.azure_container, "azure_container", kind
        )
        desired["packages.azure_connection_string"] = _secret(
            secrets.azure_connection_string, AZURE_CONNECTION_ENV
        )
    desired.update(desired_ecosystems(site))
    return Settings({n: validate(n, v) for n, v in desired.items()})


def desired_ecosystems(site: Site) -> dict[str, SettingValue]:
    """The ecosystems the site lists, by setting name (SiteFileError for an unknown one)."""
    out: dict[str, SettingValue] = {}
    for name, state in site.packages.ecosystems.items():
        if name not in ECOSYSTEMS:
            raise SiteFileError(
                f"{_label(site)}: [packages] ecosystems: unknown ecosystem {name!r}",
                hint=f"known: {', '.join(ECOSYSTEMS)} (Gradle uses maven)",
            )
        out[ecosystem_setting(name)] = state
    return out


def precheck_argv(site: Site, secrets: StorageSecrets) -> list[str | Secret]:
    """`ghe-packages-precheck -p PROVIDER -cs CONN [-cn CONTAINER]`; CONN is a `Secret`."""
    kind = storage_type(site)
    provider = facts.PRECHECK_PROVIDERS[kind]
    if kind == "azure":
        conn = _secret(secrets.azure_connection_string, AZURE_CONNECTION_ENV)
        container = _need(site, site.packages.azure_container, "azure_container", kind)
        return ["ghe-packages-precheck", "-p", provider, "-cs", conn, "-cn", container]
    fields = {
        "bucket": _need(site, site.packages.bucket, "bucket", kind),
        "service_url": _need(site, site.packages.service_url, "service_url", kind),
        "access_key": _secret(secrets.access_key, S3_ACCESS_KEY_ENV).reveal(),
        "secret_key": _secret(secrets.secret_key, S3_SECRET_KEY_ENV).reveal(),
    }
    for name, value in fields.items():
        if ";" in value:  # the connection string's separator
            raise SiteFileError(
                f"the storage {name.replace('_', ' ')} contains ';', which the precheck's "
                "connection string cannot carry",
                hint="check the value (S3 keys and bucket names have no ';')",
            )
    template = str(facts.PRECHECK_S3_CONNECTION.value)
    if kind == "minio":
        template += str(facts.PRECHECK_MINIO_EXTRA.value)
    conn = Secret(template.format(**fields), "storage connection string")
    return ["ghe-packages-precheck", "-p", provider, "-cs", conn]


def _need(site: Site, value: str | None, key: str, kind: str) -> str:
    if not value:
        raise SiteFileError(
            f"{_label(site)}: [packages] storage {kind!r} needs {key}",
            hint=f"set [packages] {key} in the site file (or {env_name('packages.' + key)})",
        )
    return value


def _secret(value: Secret | None, env: str) -> Secret:
    if value is None:  # read_storage_secrets was not asked for this storage: a wiring bug
        raise ValueError(f"the storage secret {env} was not read")
    return value


def _label(site: Site) -> str:
    return str(site.source) if site.source else "site"
