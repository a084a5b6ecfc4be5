"""The smoke test's image: generated per run, minimal and valid, never held in memory whole.

- A marker layer (gzip tar) holding `ghes-setup-smoke/run-id` with the run id: pulling it back
  and finding our run id proves the registry returned OUR bytes, not merely consistent ones.
- With `size=N`, a second layer holding one file of N pseudo-random bytes (AES-CTR keystream
  under a fresh key, ~5 GB/s, so every run's layer is new and no blob is ever "already there").
  It is generated in a stream into a temporary file: the tar stream is hashed for the diff_id,
  gzip'ed (stored blocks: random data does not compress, and level 0 keeps the generator
  fast), and the gzip output is hashed for the digest as it is written. Memory stays flat.
- The config (OCI image config, or Docker's for schema 2) has architecture, os and
  rootfs.diff_ids = sha256 of each UNCOMPRESSED tar, in layer order (OCI image spec config.md).

`LayerInspector` is the pull side: fed the compressed bytes as they arrive, it recomputes the
diff_id and keeps the (small) marker tar, so a pull verifies the image without a temp file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ghes_setup import __version__
from ghes_setup.registry.oci import (
    MEDIA_TYPES,
    BlobSource,
    BytesBlob,
    Descriptor,
    FileBlob,
    ManifestFormat,
    build_manifest,
    canonical_json,
    json_object,
)

MARKER_DIR: Final = "ghes-setup-smoke"
MARKER_FILE: Final = f"{MARKER_DIR}/run-id"
RANDOM_FILE: Final = f"{MARKER_DIR}/random.bin"
RUN_ID_ANNOTATION: Final = "dev.ghes-setup.run-id"
_CHUNK: Final = 1024 * 1024
_MARKER_KEEP: Final = 1024 * 1024  # the most of a layer's tar the inspector keeps


def new_run_id(now: datetime | None = None) -> str:
    """`smoke-20261127T104500Z-3fa9c1`: sorts by time, unique per run, a valid tag."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"smoke-{stamp}-{secrets.token_hex(3)}"


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`1048576`, `512K`, `256MiB`, `1G`, `100MB` -> bytes. K/M/G and KiB/MiB/GiB are binary,
    KB/MB/GB decimal. ValueError for anything else."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 1048576, 256MiB, 1GiB)")
    number, unit, suffix = int(m.group(1)), m.group(2).lower(), m.group(3).lower()
    if not unit:
        if suffix not in ("", "b"):
            raise ValueError(f"not a size: {text!r}")
        return number
    power = "kmgt".index(unit) + 1
    base = 1000 if suffix == "b" else 1024
    return int(number * base**power)


@dataclass(frozen=True, slots=True)
class ImageLayer:
    blob: BlobSource
    diff_id: str

    @property
    def descriptor(self) -> Descriptor:
        return self.blob.descriptor


@dataclass
class SmokeImage:
    """A generated image. Use as a context manager (or call `close()`) to remove temp files."""

    run_id: str
    fmt: ManifestFormat
    config: BytesBlob
    layers: tuple[ImageLayer, ...]
    manifest: bytes
    manifest_media_type: str
    workdir: Path | None = None
    _closed: bool = field(default=False, repr=False)
    _finalizer: weakref.finalize[..., SmokeImage] | None = field(default=None, repr=False)

    @property
    def manifest_digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    @property
    def blobs(self) -> tuple[BlobSource, ...]:
        """What to push before the manifest: the layers, then the config."""
        return (*(layer.blob for layer in self.layers), self.config)

    @property
    def total_size(self) -> int:
        return sum(b.descriptor.size for b in self.blobs)

    def __post_init__(self) -> None:
        # Also removed at interpreter exit if nobody called close() (a crash in a script).
        if self.workdir is not None:
            self._finalizer = weakref.finalize(self, shutil.rmtree, self.workdir, True)

    def close(self) -> None:
        if not self._closed and self._finalizer is not None:
            self._finalizer()
        self._closed = True

    def __enter__(self) -> SmokeImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_image(
    run_id: str,
    *,
    size: int = 0,
    fmt: ManifestFormat = "oci",
    workdir: Path | None = None,
    created: datetime | None = None,
) -> SmokeImage:
    """Generate the image for one run: marker layer, optional random layer of `size` bytes."""
    if size < 0:
        raise ValueError("size must be >= 0")
    when = (created or datetime.now(UTC)).replace(microsecond=0)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    _, config_type, layer_type = MEDIA_TYPES[fmt]
    marker_tar = _marker_tar(run_id, int(when.timestamp()))
    marker_gz = gzip.compress(marker_tar, compresslevel=6, mtime=0)
    layers = [ImageLayer(BytesBlob(marker_gz, layer_type), _sha256(marker_tar))]
    tmp: Path | None = None
    try:
        if size > 0:
            tmp = Path(tempfile.mkdtemp(prefix="ghes-setup-smoke-", dir=workdir))
            path = tmp / "random-layer.tar.gz"
            digest, length, diff_id = write_random_layer(path, size, int(when.timestamp()))
            layers.append(
                ImageLayer(FileBlob(path, Descriptor(layer_type, digest, length)), diff_id)
            )
        history = [{"created": stamp, "created_by": f"ghes-setup {__version__}: run-id marker"}]
        if size > 0:
            history.append(
                {"created": stamp, "created_by": f"ghes-setup {__version__}: {size} random bytes"}
            )
        config_doc = {
            "architecture": "amd64",
            "os": "linux",
            "created": stamp,
            "config": {
                "Labels": {
                    "org.opencontainers.image.title": "ghes-setup registry smoke test",
                    RUN_ID_ANNOTATION: run_id,
                }
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": history,
        }
        config = BytesBlob(canonical_json(config_doc), config_type)
        manifest, media_type = build_manifest(
            config.descriptor,
            [layer.descriptor for layer in layers],
            fmt,
            annotations={"org.opencontainers.image.created": stamp, RUN_ID_ANNOTATION: run_id},
        )
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SmokeImage(run_id, fmt, config, tuple(layers), manifest, media_type, tmp)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tarinfo(name: str, size: int, mtime: int, *, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = mtime
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _marker_tar(run_id: str, mtime: int) -> bytes:
    content = f"{run_id}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_tarinfo(f"{MARKER_DIR}/", 0, mtime, directory=True))
        tar.addfile(_tarinfo(MARKER_FILE, len(content), mtime), io.BytesIO(content))
    return buf.getvalue()


def random_stream(size: int, *, chunk: int = _CHUNK) -> Iterator[bytes]:
    """`size` pseudo-random bytes in chunks: AES-256-CTR keystream under a fresh random key."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    encryptor = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(os.urandom(16))).encryptor()
    zeros = bytes(chunk)
    remaining = size
    while remaining > 0:
        n = min(chunk, remaining)
        yield encryptor.update(zeros if n == chunk else bytes(n))
        remaining -= n


def write_random_layer(path: Path, size: int, mtime: int) -> tuple[str, int, str]:
    """Write a gzip tar layer with one file of `size` random bytes; (digest, length, diff_id)."""
    header = _tarinfo(RANDOM_FILE, size, mtime).tobuf(tarfile.PAX_FORMAT)
    padding = bytes(-size % tarfile.BLOCKSIZE)
    trailer = bytes(2 * tarfile.BLOCKSIZE)  # end-of-archive marker
    tar_hash = hashlib.sha256()
    gz_hash = hashlib.sha256()
    length = 0
    compressor = zlib.compressobj(0, zlib.DEFLATED, 31)  # gzip framing, stored blocks
    with path.open("wb") as fh:

        def emit(data: bytes) -> None:
            nonlocal length
            tar_hash.update(data)
            out = compressor.compress(data)
            if out:
                gz_hash.update(out)
                fh.write(out)
                length += len(out)

        emit(header)
        for piece in random_stream(size):
            emit(piece)
        emit(padding + trailer)
        out = compressor.flush()
        gz_hash.update(out)
        fh.write(out)
        length += len(out)
    return "sha256:" + gz_hash.hexdigest(), length, "sha256:" + tar_hash.hexdigest()


# --------------------------------------------------------------------------- pull side


class LayerInspector:
    """A pull sink for a gzip layer: recomputes its diff_id and keeps a small tar's bytes."""

    def __init__(self, keep: int = _MARKER_KEEP) -> None:
        self._inflate = zlib.decompressobj(31)
        self._hash = hashlib.sha256()
        self._keep = keep
        self._kept = bytearray()
        self.error: str | None = None
        self.uncompressed_size = 0

    def __call__(self, chunk: bytes) -> None:
        if self.error is not None:
            return
        try:
            self._take(self._inflate.decompress(chunk))
        except zlib.error as exc:
            self.error = f"not valid gzip: {exc}"

    def _take(self, data: bytes) -> None:
        self._hash.update(data)
        self.uncompressed_size += len(data)
        room = self._keep - len(self._kept)
        if room > 0:
            self._kept += data[:room]

    def finish(self) -> str | None:
        """The diff_id, or None (see `error`) when the stream was not complete gzip."""
        if self.error is None:
            try:
                self._take(self._inflate.flush())
            except zlib.error as exc:
                self.error = f"not valid gzip: {exc}"
        if self.error is None and not self._inflate.eof:
            self.error = "gzip stream ends early"
        return None if self.error else "sha256:" + self._hash.hexdigest()

    def read_file(self, name: str) -> bytes | None:
        """A file from the kept tar bytes (the marker), or None."""
        try:
            with tarfile.open(fileobj=io.BytesIO(bytes(self._kept)), mode="r:") as tar:
                member = tar.extractfile(name)
                return member.read() if member is not None else None
        except (tarfile.TarError, KeyError, OSError):
            return None


def check_config(config: bytes, diff_ids: list[str]) -> str | None:
    """None when the config is valid image config JSON whose rootfs.diff_ids are `diff_ids`."""
    try:
        doc = json_object(config, "the config blob")
    except ValueError as exc:
        return str(exc)
    for key in ("architecture", "os"):
        if not isinstance(doc.get(key), str):
            return f"the config has no {key}"
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers":
        return 'the config\'s rootfs.type is not "layers"'
    listed = rootfs.get("diff_ids")
    if listed != diff_ids:
        return f"config rootfs.diff_ids {listed} do not match the layers' content {diff_ids}"
    return None


# --------------------------------------------------------------------------- OCI layout


def write_oci_layout(image: SmokeImage, directory: Path, tag: str) -> None:
    """Write the image as an OCI image layout (for skopeo `oci:DIR:TAG`), blobs hard-linked
    or copied from the generated files."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for blob in image.blobs:
        target = blobs / blob.descriptor.digest.removeprefix("sha256:")
        if target.exists():
            continue
        if isinstance(blob, FileBlob):
            try:
                os.link(blob.path, target)
            except OSError:
                shutil.copyfile(blob.path, target)
        else:
            with target.open("wb") as fh:
                for piece in blob.chunks():
                    fh.write(piece)
    (blobs / image.manifest_digest.removeprefix("sha256:")).write_bytes(image.manifest)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": image.manifest_media_type,
                "digest": image.manifest_digest,
                "size": len(image.manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))
