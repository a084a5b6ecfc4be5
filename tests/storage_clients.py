"""Independent clients for the lab's storage servers, for assertions behind the tool's back.

boto3 (not the lab's botocore code path) lists what moto's S3 server holds; the Azure SDK lists
what Azurite holds. Both with the lab's own credentials, straight to the servers.
"""

from __future__ import annotations

from typing import Any

from ghes_setup.lab.handle import LabHandle


def s3_client(lab: LabHandle) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=lab.service_url,
        verify=str(lab.ca_file),  # the S3 server's certificate is from the lab CA
        region_name="us-east-1",
        aws_access_key_id=lab.s3_access_key,
        aws_secret_access_key=lab.s3_secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}),
    )


def s3_keys(lab: LabHandle, prefix: str = "") -> list[str]:
    """Every object key in the lab's bucket under `prefix`."""
    client = s3_client(lab)
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=lab.bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    client.close()
    return keys


def s3_object(lab: LabHandle, key: str) -> bytes:
    client = s3_client(lab)
    try:
        return bytes(client.get_object(Bucket=lab.bucket, Key=key)["Body"].read())
    finally:
        client.close()


def azure_blobs(lab: LabHandle) -> list[str]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(lab.azure_connection_string)
    try:
        return [b.name for b in service.get_container_client(lab.azure_container).list_blobs()]
    finally:
        service.close()
