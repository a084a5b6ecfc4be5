"""The lab's blob storage: its stand-in for S3/MinIO, and the storage checks GHES runs.

A bucket is a folder DIR/storage/<bucket>; the credentials are the lab's access and secret key
(`lab env` prints them); the service URL is http://ADDRESS:9000, where labd answers every
unsigned request with S3's 403 AccessDenied (the lab does not implement the S3 API: only the
appliance's own checks and the registry use the storage, and they do so through the folder).

`verify()` is what `ghe-packages-precheck`, `ghe-check-blob-connection` and config apply run:
provider, endpoint, credentials and bucket are compared with the lab's, then a test object is
written, read back and deleted, as the GHES utilities do against real storage
(command-line-utilities.md: "All Storage tests passed" on success). Failures use the wording
of the storage service (S3's `Access Denied`, `NoSuchBucket`), which is what GHES shows in
ghe-config.log (updating-the-credentials-for-github-actions-storage.md).
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from ghes_setup.lab import settings as keys
from ghes_setup.lab.layout import LabConfig, Layout

SUCCESS = "All Storage tests passed"


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


def from_settings(values: dict[str, str]) -> StorageTarget | None:
    kind = values.get(keys.STORAGE_TYPE, "").strip().lower()
    if not kind:
        return None
    return StorageTarget(
        provider=kind,
        service_url=values.get(keys.SERVICE_URL, ""),
        bucket=values.get(keys.BUCKET, ""),
        access_key=values.get(keys.ACCESS_KEY, ""),
        secret_key=values.get(keys.SECRET_KEY, ""),
        azure_connection=values.get(keys.AZURE_CONNECTION, ""),
        azure_container=values.get(keys.AZURE_CONTAINER, ""),
    )


def from_connection_string(provider: str, text: str, container: str = "") -> StorageTarget:
    """Parse `-cs` of ghe-packages-precheck.

    S3/MinIO: `BucketName=...;AccessKeyId=...;SecretAccessKey=...;ServiceUrl=...`
    (keys case-insensitive; `ForcePathStyle` and others ignored). Lab choice: the Packages
    precheck's S3 format is not documented; this is the format of the Actions S3 precheck
    (ghe-actions-precheck -p s3 -cs ...). Azure: a standard connection string with `-cn`.
    """
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    kind = provider.strip().lower()
    if kind == "azure":
        return StorageTarget("azure", azure_connection=text, azure_container=container)
    return StorageTarget(
        provider=kind,
        service_url=fields.get("serviceurl", ""),
        bucket=fields.get("bucketname", ""),
        access_key=fields.get("accesskeyid", ""),
        secret_key=fields.get("secretaccesskey", ""),
    )


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def verify(layout: Layout, config: LabConfig, target: StorageTarget) -> list[str]:
    """Run the storage tests; return the report lines (last one SUCCESS) or raise."""
    lines: list[str] = []
    if target.provider == "azure":
        raise StorageFailure(
            [
                "Testing connection to Azure Blob Storage...",
                "Error: could not connect to the storage account in the connection string "
                "(the lab's storage is S3-compatible: use S3 or MinIO)",
            ]
        )
    if target.provider not in ("s3", "minio"):
        raise StorageFailure(
            [f"Error: unknown storage provider {target.provider!r} (S3, MinIO, Azure)"]
        )
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
    url = target.service_url.rstrip("/")
    lines.append(f"Testing connection to {url}...")
    if url != config.service_url:
        raise StorageFailure([*lines, f'Error: Could not connect to the endpoint URL: "{url}"'])
    if not (
        _same(target.access_key, config.s3_access_key)
        and _same(target.secret_key, config.s3_secret_key)
    ):
        raise StorageFailure(
            [
                *lines,
                f"Error: Access Denied (Service: S3, Status Code: 403) for bucket {target.bucket}",
            ]
        )
    bucket = layout.bucket(target.bucket)
    if "/" in target.bucket or target.bucket.startswith(".") or not bucket.is_dir():
        raise StorageFailure(
            [*lines, f"Error: NoSuchBucket: The specified bucket does not exist ({target.bucket})"]
        )
    probe_dir = bucket / ".ghes-storage-test"
    name = f"{uuid.uuid4().hex}.txt"
    payload = f"ghes storage test {name}\n".encode()
    try:
        probe_dir.mkdir(exist_ok=True)
        lines.append("Testing PUT object...")
        (probe_dir / name).write_bytes(payload)
        lines.append("Testing GET object...")
        if (probe_dir / name).read_bytes() != payload:
            raise StorageFailure(
                [*lines, "Error: the object read back differs from the one written"]
            )
        lines.append("Testing DELETE object...")
        (probe_dir / name).unlink()
    except OSError as exc:
        raise StorageFailure([*lines, f"Error: {exc.strerror}"]) from None
    lines.append(SUCCESS)
    return lines
