"""The storage backends GitHub Packages can use, one row each: `StorageBackend`.

GHES stores Packages blobs in AWS S3, MinIO or Azure Blob Storage
(enabling-github-packages-with-aws.md, -with-minio.md, -with-azure-blob-storage.md). Everything
ghes-setup decides per backend is a field of its row here, so no code elsewhere branches on a
backend's name:

- `storage_type`: what the appliance stores in `packages.storage_type`
  (`secrets.packages.blob-storage-type`): MinIO is written in the S3 fields, as `s3`
  (enabling-github-packages-with-minio.md; docs/reference/ghes-facts.md §2.2);
- `site_settings`: the `facts.SETTINGS` rows whose values come from the site's `[packages]`
  keys (each row's `site_key`), all required; `location` is the one that says where the blobs
  go (shown by `packages-enabled`);
- `secrets`: the secret settings, each read from its `GHES_SETUP_*` variable (or `*_FILE`),
  never from the site file;
- `precheck_provider` and `precheck`: what `ghe-packages-precheck -p PROVIDER ...` is told
  (command-line-utilities.md);
- `lint` and `lint_secret`: the storage lint's rules (`packages.lint`) and the secret they
  read, if any (`packages-storage-config`);
- `claims_url`: which of the backends sharing a stored `storage_type` a stored service URL is
  (`ghes-setup init` reading an appliance; the lab), with `recognised` saying why.

The site file's `storage` values are the site model's `StorageType` literal
(`config/site.py`, with the `[packages]` keys each needs); a test holds that literal, its keys
and this table to the same names. Adding a backend: docs/architecture.md, "Adding a storage
backend".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlsplit

from ghes_setup import facts
from ghes_setup.config.site import PackagesSettings, Site
from ghes_setup.errors import SiteFileError
from ghes_setup.packages.lint import (
    StorageFinding,
    lint_aws_endpoint,
    lint_azure_connection_string,
    lint_plain_http,
)
from ghes_setup.secrets import Secret

# What `ghe-packages-precheck` gets after `-p PROVIDER`, from the desired settings by name.
PrecheckArgs = Callable[["StorageBackend", Mapping[str, str | Secret]], list[str | Secret]]
# The storage lint of one backend: the site's [packages] and the secret `lint_secret` names.
Lint = Callable[[PackagesSettings, str | None], list[StorageFinding]]


@dataclass(frozen=True, slots=True)
class StorageSecret:
    """One secret a backend needs: its setting, where it is read from, what it is."""

    setting: str  # a SECRET row of facts.SETTINGS
    env: str  # GHES_SETUP_... (or the file named by GHES_SETUP_..._FILE)
    what: str  # "the access key", shown when it is missing


@dataclass(frozen=True, slots=True)
class StorageBackend:
    name: str  # the site file's `storage` value
    label: str  # how messages name it: "S3", "MinIO", "Azure"
    product: str  # the storage it is, in "GitHub Packages with ... storage"
    storage_type: str  # the value GHES stores in packages.storage_type
    site_settings: tuple[str, ...]  # facts.SETTINGS names taken from [packages], required
    location: str  # the site setting naming where the blobs go (bucket, container)
    secrets: tuple[StorageSecret, ...]
    precheck_provider: str  # ghe-packages-precheck -p
    precheck: PrecheckArgs
    lint: Lint
    lint_secret: StorageSecret | None = None  # the secret the lint reads, when it reads one
    path_style: bool = False  # reached path-style (MinIO: ForcePathStyle=true)
    # Of the backends sharing `storage_type`, the one a stored service URL belongs to; the
    # backend without it takes the URLs no other claims.
    claims_url: Callable[[str], bool] | None = None
    recognised: str = ""  # why a stored URL is this backend (`ghes-setup init`)

    @property
    def secret_settings(self) -> tuple[str, ...]:
        return tuple(s.setting for s in self.secrets)

    @property
    def settings(self) -> tuple[str, ...]:
        """Every storage setting this backend writes, in facts.SETTINGS order."""
        mine = {"packages.storage_type", *self.site_settings, *self.secret_settings}
        return tuple(s.name for s in facts.SETTINGS if s.name in mine)

    def site_key(self, setting: str) -> str:
        """`bucket` for packages.bucket: the key under [packages] in the site file."""
        key = facts.SETTINGS_BY_NAME[setting].site_key or setting
        return key.removeprefix("packages.")


# ---------------------------------------------------------------------------- precheck


def _s3_precheck(backend: StorageBackend, values: Mapping[str, str | Secret]) -> list[str | Secret]:
    """`-cs BucketName=...;...;ServiceUrl=...` (UNVERIFIED format: facts.PRECHECK_S3_CONNECTION)
    with `ForcePathStyle=true` for a path-style backend."""
    fields = {
        "bucket": _text(values["packages.bucket"]),
        "service_url": _text(values["packages.service_url"]),
        "access_key": _text(values["packages.s3_access_key"]),
        "secret_key": _text(values["packages.s3_secret_key"]),
    }
    for name, value in fields.items():
        if ";" in value:  # the connection string's separator
            raise SiteFileError(
                f"the storage {name.replace('_', ' ')} contains ';', which the precheck's "
                "connection string cannot carry",
                hint="check the value (S3 keys and bucket names have no ';')",
            )
    template = str(facts.PRECHECK_S3_CONNECTION.value)
    if backend.path_style:
        template += str(facts.PRECHECK_MINIO_EXTRA.value)
    return ["-cs", Secret(template.format(**fields), "storage connection string")]


def _azure_precheck(
    backend: StorageBackend, values: Mapping[str, str | Secret]
) -> list[str | Secret]:
    """`-cs CONNECTION_STRING -cn CONTAINER` (command-line-utilities.md)."""
    del backend
    conn = values["packages.azure_connection_string"]
    assert isinstance(conn, Secret)
    return ["-cs", conn, "-cn", _text(values["packages.azure_container"])]


def _text(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


# ---------------------------------------------------------------------------- lint


def _lint_aws(pk: PackagesSettings, secret: str | None) -> list[StorageFinding]:
    del secret
    return lint_aws_endpoint(pk.service_url or "")


def _lint_minio(pk: PackagesSettings, secret: str | None) -> list[StorageFinding]:
    del secret
    return lint_plain_http(pk.service_url or "")


def _lint_azure(pk: PackagesSettings, secret: str | None) -> list[StorageFinding]:
    del pk
    return [] if secret is None else lint_azure_connection_string(secret)


def is_aws(url: str) -> bool:
    """An AWS endpoint (`*.amazonaws.com`): S3 proper, not MinIO."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "amazonaws.com" or host.endswith(".amazonaws.com")


# ---------------------------------------------------------------------------- the table

S3_ACCESS_KEY_ENV: Final = "GHES_SETUP_S3_ACCESS_KEY"
S3_SECRET_KEY_ENV: Final = "GHES_SETUP_S3_SECRET_KEY"  # noqa: S105 - a variable name
AZURE_CONNECTION_ENV: Final = "GHES_SETUP_AZURE_CONNECTION_STRING"

_S3_SECRETS: Final = (
    StorageSecret("packages.s3_access_key", S3_ACCESS_KEY_ENV, "the access key"),
    StorageSecret("packages.s3_secret_key", S3_SECRET_KEY_ENV, "the secret key"),
)
_AZURE_SECRET: Final = StorageSecret(
    "packages.azure_connection_string", AZURE_CONNECTION_ENV, "the connection string"
)

_BACKENDS: dict[str, StorageBackend] = {}


def register(backend: StorageBackend) -> StorageBackend:
    """Add a row (the built-in ones below; a test's throwaway one). A name is taken once."""
    if backend.name in _BACKENDS:
        raise ValueError(f"storage backend {backend.name!r} is already registered")
    unknown = [
        s
        for s in (*backend.site_settings, *backend.secret_settings)
        if s not in facts.SETTINGS_BY_NAME
    ]
    if unknown or backend.location not in backend.site_settings:
        raise ValueError(f"storage backend {backend.name!r}: bad settings {unknown}")
    _BACKENDS[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Drop a row a test registered."""
    del _BACKENDS[name]


_S3 = register(
    StorageBackend(
        name="s3",
        label="S3",
        product="S3",
        storage_type="s3",
        site_settings=("packages.service_url", "packages.bucket"),
        location="packages.bucket",
        secrets=_S3_SECRETS,
        precheck_provider="S3",
        precheck=_s3_precheck,
        lint=_lint_aws,
        claims_url=is_aws,
        recognised="the endpoint is AWS.",
    )
)
# "Enter MinIO in the S3 fields" (enabling-github-packages-with-minio): S3's type, settings,
# secrets and precheck; MinIO's own lint, path-style, and the URLs AWS does not claim.
register(
    replace(
        _S3,
        name="minio",
        label="MinIO",
        product="MinIO",
        precheck_provider="MinIO",
        lint=_lint_minio,
        path_style=True,
        claims_url=None,
        recognised='the endpoint is not AWS, so "minio".',
    )
)
register(
    StorageBackend(
        name="azure",
        label="Azure",
        product="Azure Blob",
        storage_type="azure",
        site_settings=("packages.azure_container",),
        location="packages.azure_container",
        secrets=(_AZURE_SECRET,),
        precheck_provider="Azure",
        precheck=_azure_precheck,
        lint=_lint_azure,
        lint_secret=_AZURE_SECRET,
    )
)


# ---------------------------------------------------------------------------- look-ups


def backends() -> tuple[StorageBackend, ...]:
    return tuple(_BACKENDS.values())


def names() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def backend(name: str) -> StorageBackend:
    """The row of a site file's `storage` value (the site model admits only known names)."""
    try:
        return _BACKENDS[name]
    except KeyError:
        raise SiteFileError(
            f"unknown storage {name!r}", hint=f"one of: {', '.join(_BACKENDS)}"
        ) from None


def find(name: str) -> StorageBackend | None:
    """The row named `name` (any case), or None."""
    return _BACKENDS.get(name.strip().lower())


def by_provider(provider: str) -> StorageBackend | None:
    """The row `ghe-packages-precheck -p PROVIDER` names (any case), or None."""
    low = provider.strip().lower()
    return next((b for b in _BACKENDS.values() if b.precheck_provider.lower() == low), None)


def stored(storage_type: str, service_url: str | None = None) -> StorageBackend | None:
    """The backend an appliance's stored `packages.storage_type` (and service URL) is: of the
    rows storing that type, the one whose `claims_url` takes the URL, else the one without a
    `claims_url`. None for a type no row stores."""
    rows = [b for b in _BACKENDS.values() if b.storage_type == storage_type]  # as stored
    url = service_url or ""
    claimed = [b for b in rows if b.claims_url is not None and url and b.claims_url(url)]
    fallback = [b for b in rows if b.claims_url is None]
    found = claimed or fallback or rows
    return found[0] if found else None


def storing(storage_type: str) -> tuple[StorageBackend, ...]:
    """Every row stored as `storage_type`."""
    return tuple(b for b in _BACKENDS.values() if b.storage_type == storage_type)


def every_storage_setting() -> tuple[str, ...]:
    """The storage settings of every backend, in facts.SETTINGS order."""
    mine = {n for b in _BACKENDS.values() for n in b.settings}
    return tuple(s.name for s in facts.SETTINGS if s.name in mine)


# ---------------------------------------------------------------------------- storage lint


def lint_storage(site: Site, secret: str | None = None) -> list[StorageFinding]:
    """Every finding for the site's Packages storage (nothing when Packages is off or the
    storage is not set). `secret` is the value of the backend's `lint_secret`, when read."""
    pk = site.packages
    if pk.enabled is False or pk.storage is None:
        return []
    return backend(pk.storage).lint(pk, secret)


def refuse_bad_storage(site: Site, secret: str | None) -> list[StorageFinding]:
    """Raise SiteFileError (exit 3) for an error finding; return the warnings."""
    findings = lint_storage(site, secret)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise SiteFileError(
            "GitHub Packages storage: "
            + "; ".join(f.message for f in errors)
            + "; nothing was written",
            hint=errors[0].hint,
        )
    return findings
