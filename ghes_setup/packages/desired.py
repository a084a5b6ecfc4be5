"""What the site's `[packages]` asks of the appliance: the settings, and the storage secrets.

GitHub Packages is set with `ghe-config` over the admin SSH shell: the Manage API settings
document has no Packages fields (docs/reference/ghes-facts.md §3.4), so every name in
`PACKAGES_SCOPE` has `api_field=None` in `facts.SETTINGS` and routes to SSH.

Every per-backend decision is the storage backend's row (`packages.backends`):

- `read_storage_secrets(site)`: the secrets the backend's row lists, from the environment
  (never the site file): `GHES_SETUP_S3_ACCESS_KEY` / `GHES_SETUP_S3_SECRET_KEY` for s3 and
  minio, `GHES_SETUP_AZURE_CONNECTION_STRING` for azure, or their `_FILE` variants.
- `desired_packages(site, secrets)`: the settings, by ghes-setup name, built by the one pass
  over `facts.SETTINGS` (`appliance.plan.desired_settings`): the storage type the row stores
  (MinIO is written as blob-storage-type `s3` with its service URL,
  enabling-github-packages-with-minio.md: "enter MinIO in the S3 fields"), its site settings
  (required), its secrets and the ecosystems the site lists.
- `precheck_argv(site, secrets)`: `ghe-packages-precheck -p PROVIDER -cs CONN
  [-cn CONTAINER]` (command-line-utilities.md). The connection string is a `Secret`.

This module reads nothing over the network; errors are `SiteFileError`/`SecretMissing` (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ghes_setup import facts
from ghes_setup.appliance.plan import desired_settings
from ghes_setup.appliance.transport import Settings, SettingValue
from ghes_setup.config.site import Site, env_name, storage_choices
from ghes_setup.errors import SiteFileError
from ghes_setup.facts import SettingKind
from ghes_setup.packages import backends
from ghes_setup.packages.backends import StorageBackend
from ghes_setup.packages.storage import PRECHECK
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

# The variables the built-in backends read (their rows in `packages.backends`).
S3_ACCESS_KEY_ENV: Final = backends.S3_ACCESS_KEY_ENV
S3_SECRET_KEY_ENV: Final = backends.S3_SECRET_KEY_ENV
AZURE_CONNECTION_ENV: Final = backends.AZURE_CONNECTION_ENV


def ecosystem_setting(name: str) -> str:
    return f"{ECOSYSTEM_PREFIX}{name}"


@dataclass(frozen=True, slots=True)
class StorageSecrets:
    """The storage credentials read for the site's backend, by setting name (empty when
    Packages is off)."""

    values: Mapping[str, Secret] = field(default_factory=dict)

    def get(self, setting: str) -> Secret | None:
        return self.values.get(setting)


def storage_type(site: Site) -> str:
    """The site's storage, required: a backend's name (SiteFileError otherwise)."""
    kind = site.packages.storage
    if kind is None:
        raise SiteFileError(
            f"{_label(site)}: [packages] storage is not set",
            hint=f"set storage = {storage_choices()} and its keys (ghes-setup explain packages)",
        )
    return kind


def storage_backend(site: Site) -> StorageBackend:
    """The row of the site's storage (SiteFileError when it is not set)."""
    return backends.backend(storage_type(site))


def read_storage_secrets(site: Site, environ: Mapping[str, str] | None = None) -> StorageSecrets:
    """The credentials the site's storage needs, from the environment (SecretMissing: exit 3).

    Nothing is read when the site turns Packages off."""
    if site.packages.enabled is False:
        return StorageSecrets()
    backend = storage_backend(site)
    purpose = f"GitHub Packages with {backend.product} storage"
    return StorageSecrets(
        {
            s.setting: require(s.env, environ, purpose=f"{purpose} ({s.what})")
            for s in backend.secrets
        }
    )


def desired_packages(site: Site, secrets: StorageSecrets) -> Settings:
    """The Packages settings the site asks for (names from `PACKAGES_SCOPE`).

    `[packages] enabled = false`: only `packages.enabled = false`. Otherwise (true, or not
    given: enabling is what was asked) Packages on, the storage, its credentials and the
    ecosystems the site lists. Settings the site does not mention are left as they are.
    """
    if site.packages.enabled is False:
        return Settings({"packages.enabled": False})
    backend = storage_backend(site)
    given: dict[str, SettingValue] = {
        "packages.enabled": True,
        "packages.storage_type": backend.storage_type,
    }
    for s in backend.secrets:
        given[s.setting] = _secret(secrets.get(s.setting), s.env)
    # Only this backend's storage settings: another backend's keys in the file are ignored.
    others = set(backends.every_storage_setting()) - set(backend.settings)
    scope = [n for n in PACKAGES_SCOPE if n not in others]
    desired = desired_settings(site, scope=scope, given=given)
    for name in backend.site_settings:
        if name not in desired:
            raise _missing(site, backend, name)
    check_ecosystems(site)  # after the storage keys: a missing key is named first
    # The order a plan shows them in: Packages, the storage (its site keys, then its
    # secrets), the ecosystems as the site lists them.
    order = (
        "packages.enabled",
        "packages.storage_type",
        *backend.site_settings,
        *backend.secret_settings,
        *(ecosystem_setting(name) for name in site.packages.ecosystems),
    )
    return Settings({name: desired[name] for name in order if name in desired})


def check_ecosystems(site: Site) -> None:
    """SiteFileError for an ecosystem the site lists that GHES has no setting for."""
    for name in site.packages.ecosystems:
        if name not in ECOSYSTEMS:
            raise SiteFileError(
                f"{_label(site)}: [packages] ecosystems: unknown ecosystem {name!r}",
                hint=f"known: {', '.join(ECOSYSTEMS)} (Gradle uses maven)",
            )


def precheck_argv(site: Site, secrets: StorageSecrets) -> list[str | Secret]:
    """`ghe-packages-precheck -p PROVIDER -cs CONN [-cn CONTAINER]`; CONN is a `Secret`."""
    backend = storage_backend(site)
    values: dict[str, str | Secret] = {}
    for name in backend.site_settings:
        value = getattr(site.packages, backend.site_key(name))
        if not value:
            raise _missing(site, backend, name)
        values[name] = value
    for s in backend.secrets:
        values[s.setting] = _secret(secrets.get(s.setting), s.env)
    return [PRECHECK, "-p", backend.precheck_provider, *backend.precheck(backend, values)]


def _missing(site: Site, backend: StorageBackend, setting: str) -> SiteFileError:
    key = backend.site_key(setting)
    return SiteFileError(
        f"{_label(site)}: [packages] storage {backend.name!r} needs {key}",
        hint=f"set [packages] {key} in the site file (or {env_name('packages.' + key)})",
    )


def _secret(value: Secret | None, env: str) -> Secret:
    if value is None:  # read_storage_secrets was not asked for this storage: a wiring bug
        raise ValueError(f"the storage secret {env} was not read")
    return value


def _label(site: Site) -> str:
    return str(site.source) if site.source else "site"
