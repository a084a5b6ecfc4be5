"""The storage tests GHES runs against Packages blob storage, done with real storage clients.

`verify()` is what the lab's `ghe-packages-precheck`, `ghe-check-blob-connection` and config
apply's "Preparing storage" step run: write a test object, read it back, delete it, as the GHES
utilities do (command-line-utilities.md: "All Storage tests passed" on success). The lab's
storage servers are real protocol servers (moto's S3 server, Azurite), so every failure is the
server's own answer, printed as the client library words it, which is what GHES shows in
ghe-config.log (updating-the-credentials-for-github-actions-storage.md):

- S3 and MinIO: botocore, SigV4, `addressing_style = path` for MinIO (enabling-github-packages-
  with-minio.md: MinIO is reached path-style); errors such as `An error occurred
  (SignatureDoesNotMatch) when calling the PutObject operation: ...`, `InvalidAccessKeyId`,
  `NoSuchBucket`, or `Could not connect to the endpoint URL: ...`.
- Azure: azure-storage-blob with the connection string; `AuthorizationFailure` (Azurite's code
  for a request signed with another key, where Azure says `AuthenticationFailed`),
  `ContainerNotFound`, or the connection error.

No retries and short timeouts: a check that waits a minute for a server that is down helps
nobody. The clients are imported when a check runs (labd only): the production package has no
storage client (pyproject's `lab` extra brings them).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import LabConfig, Layout
from ghes_setup.packages import backends

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

SUCCESS = "All Storage tests passed"
TEST_PREFIX = ".ghes-storage-test"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
DEFAULT_REGION = "us-east-1"
_DIFFERS = "the object read back differs from the one written"
_AWS_REGIONAL = re.compile(r"^s3[.-]([a-z0-9-]+)\.amazonaws\.com$")


class StorageFailure(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[-1] if lines else "storage test failed")
        self.lines = lines


@dataclass(frozen=True)
class StorageTarget:
    provider: str  # s3 | minio | azure (lower case)
    service_url: str = ""
    bucket: str = ""
    access_key: str = ""
    secret_key: str = ""
    azure_connection: str = ""
    azure_container: str = ""
    path_style: bool = False  # MinIO (ForcePathStyle=true in the precheck's string)


def from_settings(values: dict[str, str]) -> StorageTarget | None:
    """The configured storage. GHES stores MinIO as `s3` (its URL is not AWS's): the backend
    table (`packages.backends.stored`) says which backend a stored type and URL are, and such
    a URL is reached path-style, as GHES does for MinIO."""
    kind = values.get(keys.STORAGE_TYPE, "").strip().lower()
    if not kind:
        return None
    url = values.get(keys.SERVICE_URL, "")
    backend = backends.stored(kind, url) or backends.find(kind)
    return StorageTarget(
        provider=kind,
        service_url=url,
        bucket=values.get(keys.BUCKET, ""),
        access_key=values.get(keys.ACCESS_KEY, ""),
        secret_key=values.get(keys.SECRET_KEY, ""),
        azure_connection=values.get(keys.AZURE_CONNECTION, ""),
        azure_container=values.get(keys.AZURE_CONTAINER, ""),
        path_style=backend is not None and backend.path_style,
    )


def from_connection_string(provider: str, text: str, container: str = "") -> StorageTarget:
    """Parse `-cs` of ghe-packages-precheck.

    S3/MinIO: `BucketName=...;AccessKeyId=...;SecretAccessKey=...;ServiceUrl=...`
    (keys case-insensitive; `ForcePathStyle=true` for MinIO). Lab choice: the Packages
    precheck's S3 format is not documented; this is the format of the Actions S3 precheck
    (ghe-actions-precheck -p s3 -cs ...). Azure: a standard connection string with `-cn`.
    """
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    kind = provider.strip().lower()
    backend = backends.by_provider(kind)
    protocol = backend.storage_type if backend is not None else kind
    return _PARSERS.get(protocol, _parse_s3)(_Given(kind, text, fields, container, backend))


@dataclass(frozen=True)
class _Given:
    """What ghe-packages-precheck was given, for a protocol's parser."""

    kind: str  # -p, lower case
    text: str  # -cs as given
    fields: dict[str, str]  # -cs's NAME=VALUE pairs, names lower case
    container: str  # -cn
    backend: backends.StorageBackend | None  # the row -p names, if any


def _parse_s3(given: _Given) -> StorageTarget:
    fields, backend = given.fields, given.backend
    return StorageTarget(
        provider=given.kind,
        service_url=fields.get("serviceurl", ""),
        bucket=fields.get("bucketname", ""),
        access_key=fields.get("accesskeyid", ""),
        secret_key=fields.get("secretaccesskey", ""),
        path_style=(backend is not None and backend.path_style)
        or fields.get("forcepathstyle", "").lower() == "true",
    )


def _parse_azure(given: _Given) -> StorageTarget:
    return StorageTarget(given.kind, azure_connection=given.text, azure_container=given.container)


def region_of(url: str) -> str:
    """The SigV4 region for `url`: AWS's regional endpoint names it; other services (MinIO,
    the lab's moto) take the default."""
    match = _AWS_REGIONAL.match((urlsplit(url).hostname or "").lower())
    return match.group(1) if match else DEFAULT_REGION


def verify(layout: Layout, config: LabConfig, target: StorageTarget) -> list[str]:
    """Run the storage tests; return the report lines (last one SUCCESS) or raise.

    The appliance trusts the lab CA (on GHES: ghe-ssl-ca-certificate-install), so an https
    storage with a lab certificate verifies; any other certificate does not."""
    del config  # the servers answer for themselves
    backend = backends.find(target.provider) or backends.stored(target.provider)
    verifier = _VERIFIERS.get(backend.storage_type) if backend is not None else None
    if verifier is None:
        known = ", ".join(b.precheck_provider for b in backends.backends())
        raise StorageFailure([f"Error: unknown storage provider {target.provider!r} ({known})"])
    return verifier(target, _trust(layout))


def _test_object() -> tuple[str, bytes]:
    name = f"{TEST_PREFIX}/{uuid.uuid4().hex}.txt"
    return name, f"ghes storage test {name}\n".encode()


def _round_trip(
    lines: list[str],
    payload: bytes,
    *,
    put: Callable[[], object],
    get: Callable[[], bytes],
    delete: Callable[[], object],
) -> None:
    """The storage test every protocol runs on its test object: PUT `payload`, GET it back
    and compare, DELETE it, each step announced in `lines` as the GHES utilities print it,
    then SUCCESS. The protocol's client errors pass through for its caller to word."""
    lines.append("Testing PUT object...")
    put()
    lines.append("Testing GET object...")
    if get() != payload:
        raise StorageFailure([*lines, f"Error: {_DIFFERS}"])
    lines.append("Testing DELETE object...")
    delete()
    lines.append(SUCCESS)


# --------------------------------------------------------------------------- S3 / MinIO

_session_lock = threading.Lock()
_session: Any = None


def _botocore_session() -> Any:
    """One botocore session per process (labd): it loads the S3 service model once, so a
    storage test after the first costs a few requests, not a model load. Its
    create_client is not thread-safe: callers hold the lock (see _s3_client)."""
    global _session
    from botocore.session import get_session

    if _session is None:
        _session = get_session()
    return _session


def _s3_client(
    url: str,
    *,
    trust: str | bool,
    access_key: str,
    secret_key: str,
    path_style: bool,
    attempts: int | None = None,
) -> Any:
    """A botocore S3 client for `url`: SigV4 in the region the URL names, the storage test's
    timeouts, and at most `attempts` requests per call (None: botocore's default retries)."""
    from botocore.config import Config

    with _session_lock:
        return _botocore_session().create_client(
            "s3",
            endpoint_url=url,
            verify=trust,
            region_name=region_of(url),
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if path_style else "auto"},
                retries=None if attempts is None else {"total_max_attempts": attempts},
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
            ),
        )


def _trust(layout: Layout) -> str | bool:
    return str(layout.ca_file) if layout.ca_file.exists() else True


def _verify_s3(target: StorageTarget, trust: str | bool = True) -> list[str]:
    missing = [
        name
        for name, value in (
            ("service URL", target.service_url),
            ("bucket", target.bucket),
            ("access key", target.access_key),
            ("secret key", target.secret_key),
        )
        if not value
    ]
    if missing:
        raise StorageFailure([f"Error: incomplete storage configuration: no {', '.join(missing)}"])
    from botocore.exceptions import BotoCoreError, ClientError

    url = target.service_url.rstrip("/")
    lines = [f"Testing connection to {url}..."]
    try:
        client = _s3_client(
            url,
            trust=trust,
            access_key=target.access_key,
            secret_key=target.secret_key,
            path_style=target.path_style,
            attempts=1,
        )
    except (BotoCoreError, ValueError) as exc:
        raise StorageFailure([*lines, f"Error: {exc}"]) from None
    name, payload = _test_object()
    try:
        _round_trip(
            lines,
            payload,
            put=lambda: client.put_object(Bucket=target.bucket, Key=name, Body=payload),
            get=lambda: client.get_object(Bucket=target.bucket, Key=name)["Body"].read(),
            delete=lambda: client.delete_object(Bucket=target.bucket, Key=name),
        )
    except ClientError as exc:
        # botocore's own words, less its note on retries (this client makes none).
        text = str(exc).replace(" (reached max retries: 0)", "")
        raise StorageFailure([*lines, f"Error: {text}"]) from None
    except BotoCoreError as exc:
        raise StorageFailure([*lines, f"Error: {exc}"]) from None
    finally:
        client.close()
    return lines


# --------------------------------------------------------------------------- Azure


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")>]+")


def _azure_reason(exc: Exception) -> str:
    """`ErrorCode: first line of the message` for a service error; the socket error for a
    connection that failed (the SDK's text carries object reprs around it)."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    if isinstance(exc, HttpResponseError):
        # The service's x-ms-error-code (the SDK wraps known codes in an enum).
        raw = getattr(exc, "error_code", None)
        code = str(getattr(raw, "value", raw) or exc.reason or "")
        first = (exc.message or str(exc)).strip().splitlines()[0]
        if first.startswith(f"{code}") or not code:
            return first
        return f"{code}: {first}"
    if isinstance(exc, ServiceRequestError):
        found = _ERRNO.search(str(exc))
        return f"could not connect to the storage account: {found.group(0) if found else exc}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _azure_service(connection_string: str) -> BlobServiceClient:
    """A Blob service client that makes no retries, with the storage test's timeouts."""
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(
        connection_string,
        retry_total=0,
        connection_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )


def _verify_azure(target: StorageTarget, trust: str | bool = True) -> list[str]:
    del trust  # Azurite is plain http on loopback; a real account's https verifies by default
    if not target.azure_connection or not target.azure_container:
        what = "connection string" if not target.azure_connection else "container name"
        raise StorageFailure([f"Error: incomplete storage configuration: no {what}"])
    from azure.core.exceptions import AzureError

    lines = ["Testing connection to Azure Blob Storage..."]
    try:
        service = _azure_service(target.azure_connection)
    except (ValueError, AzureError) as exc:
        raise StorageFailure([*lines, f"Error: {_azure_reason(exc)}"]) from None
    name, payload = _test_object()
    try:
        blob = service.get_blob_client(target.azure_container, name)
        _round_trip(
            lines,
            payload,
            put=lambda: blob.upload_blob(payload, overwrite=True),
            get=lambda: blob.download_blob().readall(),
            delete=blob.delete_blob,
        )
    except (AzureError, ValueError) as exc:
        raise StorageFailure([*lines, f"Error: {_azure_reason(exc)}"]) from None
    finally:
        service.close()
    return lines


# --------------------------------------------------------------------------- lab housekeeping


def create_azure_container(config: LabConfig) -> None:
    """The lab's container in Azurite (`lab up`); an existing one is kept.

    One Create Container request signed with the account key (Shared Key, as the Azure
    Storage REST reference defines it), with the standard library: `lab up` does not pay for
    importing the Azure SDK."""
    import email.utils
    import hashlib
    import hmac
    import http.client

    account, container = config.azure_account, config.azure_container
    path = f"/{account}/{container}"
    headers = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    # VERB, 11 standard headers (all empty: no body), x-ms-* headers, the resource.
    to_sign = "PUT\n" + "\n" * 11 + canonical_headers + f"/{account}{path}\nrestype:container"
    key = base64.b64decode(config.azure_key)
    signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest())
    headers["Authorization"] = f"SharedKey {account}:{signature.decode()}"
    headers["Content-Length"] = "0"
    conn = http.client.HTTPConnection(config.address, config.internal.azure, timeout=10)
    try:
        conn.request("PUT", f"{path}?restype=container", headers=headers)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
    except OSError as exc:
        raise StorageFailure([f"Error: {exc}"]) from None
    finally:
        conn.close()
    if response.status not in (201, 409):  # 409: ContainerAlreadyExists
        code = response.getheader("x-ms-error-code") or str(response.status)
        raise StorageFailure([f"Error: {code}: {body.strip()[:200]}"])


def reset_azure(config: LabConfig) -> None:
    """Azurite back to the lab's one empty container (`lab reset`)."""
    from azure.core.exceptions import AzureError, ResourceExistsError

    service = _azure_service(config.azure_connection_string)
    try:
        for container in service.list_containers():
            if container.name != config.azure_container:
                service.delete_container(container.name)
        client = service.get_container_client(config.azure_container)
        if client.exists():
            for blob in client.list_blobs():
                client.delete_blob(blob.name)
        else:
            with contextlib.suppress(ResourceExistsError):
                client.create_container()
    except AzureError as exc:
        raise StorageFailure([f"Error: {_azure_reason(exc)}"]) from None
    finally:
        service.close()


# --------------------------------------------------------------------------- registry storage


def applied_protocol(applied: dict[str, str]) -> str | None:
    """The protocol (`StorageBackend.storage_type`) of the applied `packages.storage_type`:
    the backend table says which backend a stored value is (the lab also takes a backend's
    name, as `minio`), or None for none or one it does not know."""
    kind = applied.get(keys.STORAGE_TYPE, "").strip().lower()
    backend = backends.stored(kind) or backends.find(kind)
    return backend.storage_type if backend is not None else None


def registry_in_storage(applied: dict[str, str]) -> bool:
    """The registry keeps its blobs in the storage server (its driver speaks the applied
    protocol: S3 and MinIO), else on the filesystem (Azure, or no storage): the protocols with
    a revision reader below."""
    return applied_protocol(applied) in _REVISION_READERS


@dataclass(frozen=True)
class ManifestRevision:
    """A manifest the registry keeps for a repository, and the tags pointing at it."""

    digest: str
    modified: dt.datetime
    tags: tuple[str, ...]


_REPOSITORIES = "docker/registry/v2/repositories"


def registry_revisions(
    layout: Layout, config: LabConfig, applied: dict[str, str], repository: str
) -> list[ManifestRevision] | None:
    """The manifests of `repository` in the registry's storage (the lab's package versions
    API reads them), or None when the repository is not there. Read where the registry keeps
    them: the S3 server when Packages uses S3 or MinIO, else the filesystem."""
    if ".." in repository.split("/"):
        return None
    reader = _REVISION_READERS.get(applied_protocol(applied) or "")
    if reader is not None:
        return reader(layout, config, applied, repository)
    from ghes_setup.lab.parts import registry_root

    repo_dir = registry_root(layout, config, applied) / _REPOSITORIES / repository
    if not repo_dir.is_dir():
        return None
    tags: dict[str, list[str]] = {}
    tags_dir = repo_dir / "_manifests" / "tags"
    if tags_dir.is_dir():
        for tag in sorted(tags_dir.iterdir()):
            link = tag / "current" / "link"
            if link.exists():
                tags.setdefault(link.read_text(encoding="ascii").strip(), []).append(tag.name)
    found = []
    revisions = repo_dir / "_manifests" / "revisions" / "sha256"
    if revisions.is_dir():
        for rev in revisions.iterdir():
            link = rev / "link"
            if link.exists():
                digest = f"sha256:{rev.name}"
                when = dt.datetime.fromtimestamp(link.stat().st_mtime, dt.UTC)
                found.append(ManifestRevision(digest, when, tuple(tags.get(digest, []))))
    return found


def _s3_revisions(
    layout: Layout, config: LabConfig, applied: dict[str, str], repository: str
) -> list[ManifestRevision] | None:
    url = (applied.get(keys.SERVICE_URL) or config.service_url).rstrip("/")
    bucket = applied.get(keys.BUCKET) or config.bucket
    client = _s3_client(
        url,
        trust=_trust(layout),
        access_key=applied.get(keys.ACCESS_KEY, ""),
        secret_key=applied.get(keys.SECRET_KEY, ""),
        path_style=True,
    )
    prefix = f"{_REPOSITORIES}/{repository}/"
    try:
        objects: list[dict[str, Any]] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects += page.get("Contents", [])
        if not objects:
            return None
        tags: dict[str, list[str]] = {}
        revisions: list[tuple[str, dt.datetime]] = []
        for item in objects:
            rest = str(item["Key"])[len(prefix) :].split("/")
            # _manifests/tags/<tag>/current/link, _manifests/revisions/sha256/<hex>/link
            if rest[:2] == ["_manifests", "tags"] and rest[3:] == ["current", "link"]:
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                tags.setdefault(body.decode("ascii").strip(), []).append(rest[2])
            elif rest[:3] == ["_manifests", "revisions", "sha256"] and rest[4:] == ["link"]:
                revisions.append((f"sha256:{rest[3]}", item["LastModified"]))
    finally:
        client.close()
    return [
        ManifestRevision(digest, when, tuple(sorted(tags.get(digest, []))))
        for digest, when in revisions
    ]


# --------------------------------------------------------------------------- per protocol
# The lab's servers speak one protocol per stored storage type (`StorageBackend.storage_type`):
# moto's S3 server for s3 and minio, Azurite for azure. A backend with a new protocol adds its
# connection-string parser, its storage test and (if the registry keeps blobs there) its
# revision reader here, and its server in lab/parts.py.

_PARSERS: Final[dict[str, Callable[[_Given], StorageTarget]]] = {
    "s3": _parse_s3,
    "azure": _parse_azure,
}
_VERIFIERS: Final[dict[str, Callable[[StorageTarget, str | bool], list[str]]]] = {
    "s3": _verify_s3,
    "azure": _verify_azure,
}
_REVISION_READERS: Final[
    dict[str, Callable[[Layout, LabConfig, dict[str, str], str], list[ManifestRevision] | None]]
] = {"s3": _s3_revisions}
