"""The generated test image: valid OCI data, digests right, memory flat (no sockets)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ghes_setup.registry.image import (
    MARKER_FILE,
    RANDOM_FILE,
    LayerInspector,
    build_image,
    check_config,
    new_run_id,
    parse_size,
    write_oci_layout,
)
from ghes_setup.registry.oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    FileBlob,
    is_tag,
    json_object,
    parse_manifest,
    sha256_digest,
)


def _blob_bytes(blob) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(blob.chunks())


@pytest.mark.parametrize(
    ("fmt", "types"),
    [
        ("oci", (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP)),
        ("docker", (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP)),
    ],
)
def test_image_is_valid_and_config_diff_ids_match_the_uncompressed_layers(
    fmt: str, types: tuple[str, str, str], tmp_path: Path
) -> None:
    with build_image("smoke-x-1", size=200_000, fmt=fmt, workdir=tmp_path) as image:  # type: ignore[arg-type]
        manifest = parse_manifest(image.manifest)
        assert manifest.media_type == types[0] == image.manifest_media_type
        assert manifest.config.media_type == types[1]
        assert all(layer.media_type == types[2] for layer in manifest.layers)
        assert manifest.config.digest == sha256_digest(image.config.data)
        assert manifest.config.size == len(image.config.data)
        config = json.loads(image.config.data)
        assert config["architecture"] and config["os"] == "linux"
        diff_ids = []
        for descriptor, layer in zip(manifest.layers, image.layers, strict=True):
            data = _blob_bytes(layer.blob)
            assert descriptor.digest == sha256_digest(data) and descriptor.size == len(data)
            diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest())
        assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
        assert check_config(image.config.data, diff_ids) is None
        assert (json.loads(image.manifest).get("annotations") is not None) == (fmt == "oci")


def test_marker_layer_holds_the_run_id_and_random_layer_the_requested_bytes(
    tmp_path: Path,
) -> None:
    with build_image("smoke-abc", size=123_457, workdir=tmp_path) as image:
        marker, random_layer = image.layers
        with tarfile.open(fileobj=io.BytesIO(_blob_bytes(marker.blob)), mode="r:gz") as tar:
            member = tar.extractfile(MARKER_FILE)
            assert member is not None and member.read() == b"smoke-abc\n"
        assert isinstance(random_layer.blob, FileBlob)
        with tarfile.open(random_layer.blob.path, mode="r:gz") as tar:
            [info] = tar.getmembers()
            assert info.name == RANDOM_FILE and info.size == 123_457
        assert 123_457 < random_layer.descriptor.size < 123_457 + 4096


def test_each_run_gets_a_new_random_layer(tmp_path: Path) -> None:
    with (
        build_image("a", size=1000, workdir=tmp_path) as one,
        build_image("a", size=1000, workdir=tmp_path) as two,
    ):
        assert one.layers[1].descriptor.digest != two.layers[1].descriptor.digest


def test_temp_files_are_removed_on_close(tmp_path: Path) -> None:
    image = build_image("a", size=1000, workdir=tmp_path)
    assert any(tmp_path.iterdir())
    image.close()
    assert not any(tmp_path.iterdir())


def test_without_size_there_is_only_the_marker_layer_and_no_temp_file(tmp_path: Path) -> None:
    with build_image("a", workdir=tmp_path) as image:
        assert len(image.layers) == 1 and image.workdir is None
        assert not any(tmp_path.iterdir())


def test_generating_a_large_layer_keeps_memory_flat(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        with build_image("big", size=64 * 1024 * 1024, workdir=tmp_path) as image:
            _, peak = tracemalloc.get_traced_memory()
            assert image.layers[1].descriptor.size > 64 * 1024 * 1024
            inspector = LayerInspector()
            for chunk in image.layers[1].blob.chunks():
                inspector(chunk)
            assert inspector.finish() == image.layers[1].diff_id
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak Python allocation {peak} bytes for a 64 MiB layer"


def test_inspector_reports_truncated_or_invalid_gzip() -> None:
    data = gzip.compress(b"x" * 10_000)
    short = LayerInspector()
    short(data[: len(data) // 2])
    assert short.finish() is None and "ends early" in (short.error or "")
    bad = LayerInspector()
    bad(b"not gzip at all")
    assert bad.finish() is None and "gzip" in (bad.error or "")


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (b"nope", "not JSON"),
        (b'{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}', "architecture"),
        (b'{"architecture":"amd64","os":"linux","rootfs":{"type":"x"}}', "rootfs.type"),
        (
            b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["a"]}}',
            "do not match",
        ),
    ],
)
def test_check_config_names_the_problem(config: bytes, problem: str) -> None:
    result = check_config(config, ["b"])
    assert result is not None and problem in result


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"nope", "is not JSON"),
        (b"\xff\xfe{}", "is not JSON"),  # not UTF-8
        (b"[1, 2]", "is not a JSON object"),
        (b'"text"', "is not a JSON object"),
    ],
)
def test_a_document_that_is_not_a_json_object_is_named_by_each_reader(
    body: bytes, problem: str
) -> None:
    with pytest.raises(ValueError, match=f"^the thing {problem}$"):
        json_object(body, "the thing")
    with pytest.raises(ValueError, match=f"^manifest {problem}$"):
        parse_manifest(body)
    assert check_config(body, []) == f"the config blob {problem}"


def test_json_object_returns_the_parsed_object() -> None:
    assert json_object(b'{"a": [1]}', "x") == {"a": [1]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1048576", 1048576),
        ("512K", 512 * 1024),
        ("256MiB", 256 * 1024**2),
        ("1G", 1024**3),
        ("1gib", 1024**3),
        ("100MB", 100 * 10**6),
        ("0", 0),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "1.5G", "12 parsecs", "M"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_run_id_is_a_unique_valid_tag_in_time_order() -> None:
    a = new_run_id(datetime(2026, 11, 27, 10, 45, 0, tzinfo=UTC))
    b = new_run_id(datetime(2026, 11, 27, 10, 45, 0, tzinfo=UTC))
    assert a.startswith("smoke-20261127T104500Z-") and is_tag(a)
    assert a != b


def test_oci_layout_lists_the_manifest_and_holds_every_blob(tmp_path: Path) -> None:
    with build_image("lay", size=5000, workdir=tmp_path) as image:
        write_oci_layout(image, tmp_path / "layout", "v1")
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    blobs = tmp_path / "layout" / "blobs" / "sha256"
    manifest = (blobs / entry["digest"].removeprefix("sha256:")).read_bytes()
    parsed = parse_manifest(manifest)
    for d in (parsed.config, *parsed.layers):
        data = (blobs / d.digest.removeprefix("sha256:")).read_bytes()
        assert sha256_digest(data) == d.digest


def test_temp_files_go_even_when_nobody_closes_the_image(tmp_path: Path) -> None:
    image = build_image("a", size=1000, workdir=tmp_path)
    assert any(tmp_path.iterdir())
    del image  # a script that crashed before close(): the finalizer still cleans up
    assert not any(tmp_path.iterdir())
