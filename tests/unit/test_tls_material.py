"""Loading certificate bundles and keys: each problem has its own kind and a precise message."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ghes_setup.errors import MaterialError
from ghes_setup.tls.material import (
    CertBundle,
    KeyFile,
    LoadFailure,
    ProblemKind,
    leaf_of,
    load_bundle,
    load_key,
    read_certificates,
)
from tests.tls.corpus import cert_pem, ec_key, key_pem, pki, rsa_key


def test_missing_file_is_unreadable_not_bad_material(tmp_path: Path) -> None:
    loaded = load_bundle(tmp_path / "nope.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.MISSING
    assert loaded.unreadable
    assert "does not exist" in loaded.message


def test_directory_given_as_key_is_unreadable(tmp_path: Path) -> None:
    loaded = load_key(tmp_path)
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.UNREADABLE
    assert "directory" in loaded.message


def test_bundle_keeps_file_order_and_ignores_text_around_blocks(tmp_path: Path) -> None:
    p = pki()
    leaf = p.leaf()
    text = b"subject=CN = ghe.example.com\r\n" + cert_pem(leaf).replace(b"\n", b"\r\n")
    text += b"\nissuer text\n" + cert_pem(p.inter.cert)
    (tmp_path / "b.pem").write_bytes(text)
    loaded = load_bundle(tmp_path / "b.pem")
    assert isinstance(loaded, CertBundle)
    assert loaded.certs == (leaf, p.inter.cert)
    assert not loaded.contains_private_key


def test_traditional_ec_key_with_parameters_block_loads(tmp_path: Path) -> None:
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    (tmp_path / "k.pem").write_bytes(params + key_pem(ec_key(), legacy=True))
    loaded = load_key(tmp_path / "k.pem")
    assert isinstance(loaded, KeyFile)
    assert isinstance(loaded.key, ec.EllipticCurvePrivateKey)
    assert loaded.pkcs.startswith("PKCS#1/SEC1")


def test_two_private_keys_in_one_file_fail(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(key_pem(rsa_key()) + key_pem(rsa_key(2048, slot=3)))
    loaded = load_key(tmp_path / "k.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.MULTIPLE_KEYS


def test_der_certificate_given_as_key_says_so(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "k.der").write_bytes(pki().leaf().public_bytes(Encoding.DER))
    loaded = load_key(tmp_path / "k.der")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.CERT_AS_KEY


def test_der_remedy_never_overwrites_the_input(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "chain.pem").write_bytes(pki().leaf().public_bytes(Encoding.DER))
    loaded = load_bundle(tmp_path / "chain.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.DER
    assert "-out chain-pem.pem" in loaded.remedy


def test_read_certificates_raises_material_error_naming_the_option(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a cert\n")
    with pytest.raises(MaterialError, match="--ca-file") as info:
        read_certificates(tmp_path / "ca.pem", what="--ca-file")
    assert info.value.hint


def test_leaf_of_finds_the_server_certificate_wherever_it_is() -> None:
    p = pki()
    leaf = p.leaf()
    assert leaf_of((p.inter.cert, p.root.cert, leaf)) is leaf
    # Only CA certificates: the first one is what the appliance would take.
    assert leaf_of((p.inter.cert, p.root.cert)) is p.inter.cert


def test_truncated_pem_block_says_so(tmp_path: Path) -> None:
    text = cert_pem(pki().leaf()).decode()
    (tmp_path / "cut.pem").write_text(text[: len(text) // 2])
    loaded = load_bundle(tmp_path / "cut.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.CORRUPT
    assert "truncated" in loaded.message


def test_a_bundle_whose_last_block_is_cut_off_says_so_rather_than_drop_it(tmp_path: Path) -> None:
    p = pki()
    inter = cert_pem(p.inter.cert).decode()
    (tmp_path / "cut.pem").write_bytes(cert_pem(p.leaf()) + inter[: len(inter) // 2].encode())
    loaded = load_bundle(tmp_path / "cut.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.CORRUPT
    assert "PEM block 2 is truncated" in loaded.message
