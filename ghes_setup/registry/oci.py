"""OCI / Docker image data: media types, descriptors, digests, manifests, blob sources.

Pure data and hashing, no I/O beyond reading a blob's own file. Specs:
OCI image spec (manifest.md, config.md, descriptor.md) and Docker Image Manifest V2 Schema 2;
GHES's Container registry accepts both (docs/reference/ghes-facts.md §5.3 "Formats").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# What we accept when pulling a manifest: both single-image formats first, then the lists.
MANIFEST_ACCEPT: Final = (OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST)

ManifestFormat = Literal["oci", "docker"]

MEDIA_TYPES: Final[Mapping[ManifestFormat, tuple[str, str, str]]] = {
    # manifest, config, gzip layer
    "oci": (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP),
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP),
}

# Largest manifest we read into memory (the OCI spec's suggested registry limit is 4 MiB).
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# distribution-spec: <name> path components, and tags.
_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


def is_repository_name(name: str) -> bool:
    return bool(_NAME.match(name)) and len(name) <= 255


def is_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Descriptor:
        media_type, digest, size = doc.get("mediaType"), doc.get("digest"), doc.get("size")
        if not isinstance(media_type, str) or not isinstance(digest, str):
            raise ValueError("descriptor without mediaType or digest")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"descriptor {digest} has no valid size")
        return cls(media_type, digest, size)


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """`body` parsed as the JSON object every document of the specs is (manifest, image
    config, error body); a ValueError worded `{what} is not JSON` or `... not a JSON object`."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{what} is not a JSON object")
    return doc


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """Stable bytes for a JSON document (sorted keys, no spaces): its digest is reproducible."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def build_manifest(
    config: Descriptor,
    layers: Sequence[Descriptor],
    fmt: ManifestFormat = "oci",
    annotations: Mapping[str, str] | None = None,
) -> tuple[bytes, str]:
    """(manifest bytes, media type). Docker schema 2 has no annotations: they are dropped."""
    media_type = MEDIA_TYPES[fmt][0]
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    if annotations and fmt == "oci":
        doc["annotations"] = dict(annotations)
    return canonical_json(doc), media_type


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def parse_manifest(body: bytes, content_type: str | None = None) -> ParsedManifest:
    """An image manifest (OCI or Docker schema 2). Lists/indexes are refused (ValueError)."""
    doc = json_object(body, "manifest")
    media_type = doc.get("mediaType") or (content_type or "").split(";")[0].strip()
    if media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST):
        raise ValueError(f"expected an image manifest, got an index ({media_type})")
    if doc.get("schemaVersion") != 2:
        raise ValueError("manifest schemaVersion is not 2")
    config = doc.get("config")
    layers = doc.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise ValueError("manifest has no config or layers")
    return ParsedManifest(
        media_type=str(media_type),
        config=Descriptor.from_json(config),
        layers=tuple(Descriptor.from_json(layer) for layer in layers if isinstance(layer, dict)),
    )


# --------------------------------------------------------------------------- blob sources

READ_SIZE: Final = 1024 * 1024


class BlobSource(Protocol):
    """A blob to push: its descriptor, and its bytes from any offset, in chunks.

    `chunks(start, end)` yields bytes [start, end) and can be called again (a retry or a
    resumed upload starts a fresh iteration); it never holds the whole blob in memory.
    """

    @property
    def descriptor(self) -> Descriptor: ...

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class BytesBlob:
    """A small blob held in memory (config, manifest-sized layers)."""

    data: bytes
    media_type: str

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, sha256_digest(self.data), len(self.data))

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        stop = len(self.data) if end is None else end
        view = memoryview(self.data)
        for pos in range(start, stop, READ_SIZE):
            yield bytes(view[pos : min(pos + READ_SIZE, stop)])


@dataclass(frozen=True, slots=True)
class FileBlob:
    """A blob streamed from a file whose digest and size are already known."""

    path: Path
    descriptor: Descriptor
    read_size: int = READ_SIZE

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        stop = self.descriptor.size if end is None else end
        with self.path.open("rb") as fh:
            fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                data = fh.read(min(self.read_size, remaining))
                if not data:
                    raise OSError(f"{self.path} is shorter than its descriptor says")
                remaining -= len(data)
                yield data


# --------------------------------------------------------------------------- verifying reader


class DigestVerifier:
    """Hash bytes as they pass; `check()` says whether they are what the descriptor says."""

    def __init__(self, expected: Descriptor) -> None:
        if not expected.digest.startswith("sha256:"):
            raise ValueError(f"unsupported digest algorithm in {expected.digest}")
        self.expected = expected
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    @property
    def too_long(self) -> bool:
        return self.size > self.expected.size

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def problem(self) -> str | None:
        """None when size and digest match; else what is wrong, in words."""
        if self.size != self.expected.size:
            return f"size {self.size} bytes, expected {self.expected.size}"
        actual = self.digest
        if actual != self.expected.digest:
            return f"content hashes to {actual}"
        return None
