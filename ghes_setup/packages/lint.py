"""Storage lint: what is wrong with the site's Packages storage before anything talks to it.

Pure functions of the site file and the storage secrets: no network, no storage client (the
appliance's own utilities test the storage; this catches what they would refuse, or what
works badly, before a single setting is written):

- Azure connection string with a shared access signature (`SharedAccessSignature=`, or a SAS
  URL with `sig=`): refused. enabling-github-packages-with-azure-blob-storage.md: a SAS token
  or SAS URL is not supported for Packages; it takes the account's connection string.
- Azure connection string without `AccountName` or `AccountKey`: refused (the same page; a
  string with only a `BlobEndpoint` cannot sign requests).
- AWS service URL that is not a regional endpoint `https://s3.<region>.amazonaws.com`
  (the global `s3.amazonaws.com`, the legacy `s3-<region>` and `s3.dualstack.` forms, a
  virtual-hosted `<bucket>.s3...`): warning. The request is signed for us-east-1 and any bucket
  elsewhere answers `AuthorizationHeaderMalformed: the region 'us-east-1' is wrong; expecting
  '<region>'` (enabling-github-packages-with-aws.md asks for the regional endpoint).
- MinIO over plain http: warning: the access keys' signatures and every package blob cross the
  network unencrypted (enabling-github-packages-with-minio.md uses an https URL).

Which rules apply to which backend is its row in `packages.backends` (`lint`), which also
runs them: `backends.lint_storage`, `backends.refuse_bad_storage`. Errors stop `packages
enable` and `up` before anything is read or written (exit 3); both, and `packages status`,
show the findings as the check `packages-storage-config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

CHECK_ID: Final = "packages-storage-config"
_REGIONAL = re.compile(r"^s3\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com$")
_AWS = re.compile(r"(^|\.)amazonaws\.com(\.cn)?$")


@dataclass(frozen=True, slots=True)
class StorageFinding:
    severity: Literal["error", "warning"]
    code: str  # stable short name, in the check's details
    message: str
    hint: str

    def document(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message}


def connection_fields(text: str) -> dict[str, str]:
    """`Key=Value;...` as lower-case key -> value (a value may contain '=', e.g. base64)."""
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            fields[name.strip().lower()] = value.strip()
    return fields


def lint_azure_connection_string(text: str) -> list[StorageFinding]:
    """Refuse what GHES cannot use for Packages: a SAS, or no account name/key."""
    found: list[StorageFinding] = []
    stripped = text.strip()
    fields = connection_fields(stripped)
    is_url = stripped.lower().startswith(("https://", "http://"))
    if "sharedaccesssignature" in fields or (is_url and "sig=" in stripped.lower()):
        found.append(
            StorageFinding(
                "error",
                "azure-sas",
                "the Azure connection string carries a shared access signature (SAS); GHES "
                "does not support SAS for GitHub Packages",
                "use the storage account's connection string with its account key (Azure "
                "portal: the storage account, Access keys, Connection string)",
            )
        )
    missing = [name for name in ("AccountName", "AccountKey") if not fields.get(name.lower())]
    if missing and not found:
        found.append(
            StorageFinding(
                "error",
                "azure-account",
                f"the Azure connection string has no {' and no '.join(missing)}",
                "use the storage account's connection string with its account key "
                "(DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;"
                "EndpointSuffix=core.windows.net)",
            )
        )
    return found


def aws_region_hint(url: str) -> str | None:
    """None for a regional AWS endpoint or a URL that is not AWS; else why it is not one."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if not _AWS.search(host) or _REGIONAL.match(host):
        return None
    return host


def lint_aws_endpoint(url: str) -> list[StorageFinding]:
    """S3: a service URL that is AWS but not a regional endpoint (signed for us-east-1)."""
    host = aws_region_hint(url)
    if host is None:
        return []
    return [
        StorageFinding(
            "warning",
            "aws-endpoint-not-regional",
            f"service_url {url} is not a regional AWS endpoint "
            "(https://s3.<region>.amazonaws.com): requests to it are signed for "
            "us-east-1, and a bucket in any other region answers "
            "\"AuthorizationHeaderMalformed: ... the region 'us-east-1' is wrong; "
            "expecting '<region>'\"",
            "use the bucket's regional endpoint, e.g. https://s3.eu-west-1.amazonaws.com",
        )
    ]


def lint_plain_http(url: str) -> list[StorageFinding]:
    """MinIO: a plain-http service URL (keys' signatures and blobs in clear)."""
    if urlsplit(url.strip()).scheme.lower() != "http":
        return []
    return [
        StorageFinding(
            "warning",
            "minio-no-tls",
            f"service_url {url} is plain http: the access key's signatures and every "
            "package blob cross the network unencrypted",
            "serve MinIO over https (MinIO's TLS certificates) and use an https:// service_url",
        )
    ]
