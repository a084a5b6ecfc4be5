"""`tls.material` against what OpenSSL (so nginx, so the appliance) really does: PEM layout it
refuses or misreads, certificates with malformed extensions, leaf key usages TLS clients
refuse, RSA-PSS keys (`tls-key-type`)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtensionOID

from ghes_setup.tls.check_served import judge
from ghes_setup.tls.material import (
    CertBundle,
    LoadFailure,
    ProblemKind,
    extensions_problem,
    load_bundle,
    load_key,
    purpose_problem,
)
from ghes_setup.tls.probe import ServedChain
from ghes_setup.tls.trust import Trust
from tests.conftest import CliRunner, assert_no_traceback
from tests.tls.corpus import (
    DAY,
    HOST,
    NOW,
    Issuer,
    build_cert,
    cert_pem,
    key_pem,
    key_usage,
    name,
    pki,
    rsa_key,
)

# ------------------------------------------------------------------ PEM layout


@cache
def _certs() -> tuple[x509.Certificate, x509.Certificate]:
    p = pki()
    return p.leaf(), p.inter.cert


def _chain() -> bytes:
    return cert_pem(*_certs())


def _missing_newline(chain: bytes) -> bytes:
    """`cat server.crt intermediate.crt` where server.crt has no final newline."""
    return chain.replace(b"-----END CERTIFICATE-----\n", b"-----END CERTIFICATE-----", 1)


def _indent_all(chain: bytes) -> bytes:
    return b"".join(b"    " + line for line in chain.splitlines(keepends=True))


def _indent_first_line(chain: bytes) -> bytes:
    return b"  " + chain


def _indent_second_begin(chain: bytes) -> bytes:
    end = b"-----END CERTIFICATE-----\n"
    return chain.replace(end + b"-----BEGIN", end + b"\t-----BEGIN", 1)


def _indent_first_end(chain: bytes) -> bytes:
    return chain.replace(b"-----END CERTIFICATE-----\n", b" -----END CERTIFICATE-----\n", 1)


def _text_after_end(chain: bytes) -> bytes:
    return chain.replace(b"-----END CERTIFICATE-----\n", b"-----END CERTIFICATE----- x\n", 1)


def _text_before_begin(chain: bytes) -> bytes:
    return b"subject=CN = ghe.example.com " + chain


def _empty_line_in_body(chain: bytes) -> bytes:
    lines = chain.split(b"\n")
    lines.insert(4, b"")
    return b"\n".join(lines)


def _blank_line_in_body(chain: bytes) -> bytes:
    lines = chain.split(b"\n")
    lines.insert(4, b"   ")
    return b"\n".join(lines)


def _first_block_cut_off(chain: bytes) -> bytes:
    first, rest = chain.split(b"-----END CERTIFICATE-----\n", 1)
    return first[: len(first) // 2] + b"\n" + rest


def _end_of_another_type(chain: bytes) -> bytes:
    return chain.replace(b"-----END CERTIFICATE-----", b"-----END X509 CRL-----", 1)


REFUSED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "missing newline between files": (
        _missing_newline,
        "the END line of PEM block 1 (CERTIFICATE) is followed by the next BEGIN line",
    ),
    "bundle indented throughout": (
        _indent_all,
        "line 1: the BEGIN line of PEM block 1 (CERTIFICATE) is indented",
    ),
    "first BEGIN line indented": (
        _indent_first_line,
        "line 1: the BEGIN line of PEM block 1 (CERTIFICATE) is indented",
    ),
    "second BEGIN line indented": (
        _indent_second_begin,
        "the BEGIN line of PEM block 2 (CERTIFICATE) is indented",
    ),
    "first END line indented": (
        _indent_first_end,
        "the END line of PEM block 1 (CERTIFICATE) is indented",
    ),
    "text after an END line": (
        _text_after_end,
        "the END line of PEM block 1 (CERTIFICATE) is followed by text on the same line",
    ),
    "text before a BEGIN line": (
        _text_before_begin,
        "the BEGIN line of PEM block 1 (CERTIFICATE) has text before it on the same line",
    ),
    "empty line inside a block": (
        _empty_line_in_body,
        "line 5: an empty line inside PEM block 1 (CERTIFICATE)",
    ),
    "blank line inside a block": (
        _blank_line_in_body,
        "line 5: an empty line inside PEM block 1 (CERTIFICATE)",
    ),
    "first block cut off before the next": (
        _first_block_cut_off,
        "PEM block 1 (CERTIFICATE) is truncated: block 2 begins before its END line",
    ),
    "END line of another type": (
        _end_of_another_type,
        "PEM block 1 begins as CERTIFICATE but ends as X509 CRL",
    ),
}

ACCEPTED: dict[str, Callable[[bytes], bytes]] = {
    "as written": lambda chain: chain,
    "trailing spaces and tabs": lambda chain: chain.replace(b"-----\n", b"-----  \t\n"),
    "CRLF line ends": lambda chain: chain.replace(b"\n", b"\r\n"),
    "UTF-8 byte order mark": lambda chain: b"\xef\xbb\xbf" + chain,
    "no final newline": lambda chain: chain.rstrip(b"\n"),
    "indented base64 lines": lambda chain: b"\n".join(
        line if line.startswith(b"-----") or not line else b"  " + line
        for line in chain.split(b"\n")
    ),
    "an empty line right after BEGIN": lambda chain: chain.replace(
        b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN CERTIFICATE-----\n\n"
    ),
    "text between blocks": lambda chain: b"subject=CN = x\n" + chain + b"\n# comment\n",
    # OpenSSL strips every byte <= ' ' as a signed char from a line's end: 0x80 and up too.
    "a no-break space after BEGIN": lambda chain: chain.replace(
        b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN CERTIFICATE-----\xc2\xa0\n", 1
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_pem_laid_out_as_openssl_refuses_fails_with_the_line_and_why(
    tmp_path: Path, case: str
) -> None:
    alter, says = REFUSED[case]
    (tmp_path / "bundle.pem").write_bytes(alter(_chain()))
    loaded = load_bundle(tmp_path / "bundle.pem")
    assert isinstance(loaded, LoadFailure), case
    assert loaded.kind is ProblemKind.CORRUPT
    assert says in loaded.message
    assert "\n" not in loaded.message and "\n" not in loaded.remedy
    assert "-----BEGIN" in loaded.remedy or "copy" in loaded.remedy


def test_missing_newline_between_files_names_the_cause(tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(_missing_newline(_chain()))
    loaded = load_bundle(tmp_path / "bundle.pem")
    assert isinstance(loaded, LoadFailure)
    assert "line break is missing" in loaded.remedy and "cat" in loaded.remedy


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_pem_laid_out_as_openssl_accepts_loads(tmp_path: Path, case: str) -> None:
    (tmp_path / "bundle.pem").write_bytes(ACCEPTED[case](_chain()))
    loaded = load_bundle(tmp_path / "bundle.pem")
    assert isinstance(loaded, CertBundle), loaded
    assert loaded.certs == _certs()


def _openssl_loads(cert: Path, key: Path) -> bool:
    """What nginx does with the pair: SSL_CTX_use_certificate_chain_file, then the key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError:
        return False
    return True


@pytest.mark.parametrize(
    "case",
    [
        "missing newline between files",
        "bundle indented throughout",
        "first BEGIN line indented",
        "text after an END line",
        "text before a BEGIN line",
        "empty line inside a block",
        "blank line inside a block",
        "END line of another type",
        "first block cut off before the next",
    ],
)
def test_the_layouts_refused_are_those_openssl_cannot_load(tmp_path: Path, case: str) -> None:
    """The same files through the OpenSSL the Python `ssl` module links (nginx's loader)."""
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "bundle.pem").write_bytes(REFUSED[case][0](_chain()))
    assert not _openssl_loads(tmp_path / "bundle.pem", tmp_path / "key.pem")


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_the_layouts_accepted_are_those_openssl_loads(tmp_path: Path, case: str) -> None:
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "bundle.pem").write_bytes(ACCEPTED[case](_chain()))
    assert _openssl_loads(tmp_path / "bundle.pem", tmp_path / "key.pem")


def test_an_indented_key_fails_tls_pem(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(b"  " + key_pem(rsa_key()))
    loaded = load_key(tmp_path / "key.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.CORRUPT
    assert "key file" in loaded.message
    assert "the BEGIN line of PEM block 1 (PRIVATE KEY) is indented" in loaded.message
    assert "MII" not in loaded.message + loaded.remedy  # never a line of the key
    (tmp_path / "cert.pem").write_bytes(_chain())
    assert not _openssl_loads(tmp_path / "cert.pem", tmp_path / "key.pem")


def test_a_key_with_an_empty_line_fails_without_quoting_the_key(tmp_path: Path) -> None:
    lines = key_pem(rsa_key()).split(b"\n")
    lines.insert(3, b"")
    (tmp_path / "key.pem").write_bytes(b"\n".join(lines))
    loaded = load_key(tmp_path / "key.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.CORRUPT
    for line in filter(None, lines[1:-2]):
        assert line.decode()[:16] not in loaded.message + loaded.remedy


def test_a_legacy_encrypted_key_with_its_header_gap_is_still_encrypted(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key(), passphrase=b"hunter22", legacy=True))
    loaded = load_key(tmp_path / "key.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.ENCRYPTED


def test_check_reports_a_missing_newline_as_tls_pem_failing(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(_missing_newline(_chain()))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "root.pem").write_bytes(cert_pem(pki().root.cert))
    result = cli(
        "tls", "check", "--cert", str(tmp_path / "bundle.pem"),
        "--key", str(tmp_path / "key.pem"), "--hostname", HOST,
        "--ca-file", str(tmp_path / "root.pem"), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 1, result
    statuses = {r["id"]: r["status"] for r in result.json()["results"]}
    assert statuses["tls-pem"] == "fail"
    assert set(statuses.values()) == {"fail", "skip"}


# ------------------------------------------------------------------ malformed extensions


def _leaf_builder(key_usage: x509.KeyUsage | None = None, *, ca: bool = False) -> x509.Certificate:
    p = pki()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(HOST))
        .issuer_name(p.inter.cert.subject)
        .public_key(rsa_key().public_key())
        .serial_number(4711)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(HOST), x509.DNSName(f"*.{HOST}")]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(p.inter.key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(rsa_key().public_key()), critical=False
        )
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(p.inter.key, hashes.SHA256())


def _malformed_san_leaf() -> x509.Certificate:
    p = pki()
    return (
        x509.CertificateBuilder()
        .subject_name(name(HOST))
        .issuer_name(p.inter.cert.subject)
        .public_key(rsa_key().public_key())
        .serial_number(4712)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(
            # a dNSName of 3 bytes announced, 2 given
            x509.UnrecognizedExtension(
                ExtensionOID.SUBJECT_ALTERNATIVE_NAME, bytes.fromhex("300582035a5a")
            ),
            critical=False,
        )
        .sign(p.inter.key, hashes.SHA256())
    )


def test_a_malformed_extension_fails_tls_pem(tmp_path: Path) -> None:
    (tmp_path / "bundle.pem").write_bytes(cert_pem(_malformed_san_leaf(), pki().inter.cert))
    loaded = load_bundle(tmp_path / "bundle.pem")
    assert isinstance(loaded, LoadFailure)
    assert loaded.kind is ProblemKind.CORRUPT
    assert "PEM block 1 has a malformed subject_alternative_name extension" in loaded.message
    assert extensions_problem(_malformed_san_leaf()) is not None
    assert extensions_problem(pki().inter.cert) is None


def test_check_with_a_malformed_extension_is_a_report_not_an_internal_error(
    cli: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "bundle.pem").write_bytes(cert_pem(_malformed_san_leaf(), pki().inter.cert))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    result = cli(
        "tls", "check", "--cert", str(tmp_path / "bundle.pem"),
        "--key", str(tmp_path / "key.pem"), "--hostname", HOST, "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 1, result
    assert_no_traceback(result)
    statuses = {r["id"]: r["status"] for r in result.json()["results"]}
    assert statuses["tls-pem"] == "fail"
    assert set(statuses.values()) == {"fail", "skip"}


# ------------------------------------------------------------------ leaf key usage


# What clients do with each (checked with this machine's tools, openssl s_server serving it):
# `openssl verify -purpose sslserver` and curl refuse a key usage without digitalSignature,
# keyEncipherment or keyAgreement ("unsuitable certificate purpose"); git with GnuTLS also one
# with keyEncipherment or keyAgreement alone ("Key usage violation": TLS 1.3 and ECDHE sign).
KEY_USAGES: dict[str, tuple[x509.KeyUsage | None, str | None]] = {
    "nonRepudiation only": (
        key_usage(content_commitment=True),
        "its key usage (nonRepudiation) has neither digitalSignature nor keyEncipherment",
    ),
    "dataEncipherment only": (
        key_usage(data_encipherment=True),
        "its key usage (dataEncipherment) has neither",
    ),
    "keyEncipherment only": (
        key_usage(key_encipherment=True),
        "its key usage (keyEncipherment) lacks digitalSignature",
    ),
    "keyAgreement only": (
        key_usage(key_agreement=True),
        "its key usage (keyAgreement) lacks digitalSignature",
    ),
    # curl and git accept it (only `openssl verify -x509_strict` refuses): not failed.
    "keyCertSign on CA:FALSE": (
        key_usage(digital_signature=True, key_encipherment=True, key_cert_sign=True),
        None,
    ),
    "digitalSignature": (key_usage(digital_signature=True), None),
    "digitalSignature, keyEncipherment": (
        key_usage(digital_signature=True, key_encipherment=True),
        None,
    ),
    "no key usage": (None, None),
}


@pytest.mark.parametrize("case", sorted(KEY_USAGES))
def test_purpose_problem_judges_the_key_usage_as_tls_clients_do(case: str) -> None:
    usage, says = KEY_USAGES[case]
    problem = purpose_problem(_leaf_builder(usage))
    if says is None:
        assert problem is None
    else:
        assert problem is not None and says in problem


def test_check_fails_a_leaf_whose_key_usage_cannot_serve_tls(
    cli: CliRunner, tmp_path: Path
) -> None:
    leaf = _leaf_builder(key_usage(content_commitment=True))
    (tmp_path / "bundle.pem").write_bytes(cert_pem(leaf, pki().inter.cert))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "root.pem").write_bytes(cert_pem(pki().root.cert))
    result = cli(
        "tls", "check", "--cert", str(tmp_path / "bundle.pem"),
        "--key", str(tmp_path / "key.pem"), "--hostname", HOST,
        "--ca-file", str(tmp_path / "root.pem"), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 1, result
    results = {r["id"]: r for r in result.json()["results"]}
    assert results["tls-chain-complete"]["status"] == "fail"
    assert "nonRepudiation" in results["tls-chain-complete"]["summary"]


# ------------------------------------------------------------------ RSA-PSS keys


def _openssl() -> str:
    exe = shutil.which("openssl")
    if exe is None:
        pytest.fail("the openssl command is needed for RSA-PSS keys: apt-get install openssl")
    return exe


def _rsa_pss_pair(tmp: Path) -> tuple[Path, Path, Path]:
    """An id-RSASSA-PSS key and a leaf for it (cryptography makes neither), leaf first."""
    exe, p = _openssl(), pki()
    (tmp / "inter.pem").write_bytes(cert_pem(p.inter.cert))
    (tmp / "inter.key").write_bytes(key_pem(p.inter.key))
    (tmp / "ext.cnf").write_text(
        f"subjectAltName = DNS:{HOST}, DNS:*.{HOST}\nbasicConstraints = critical, CA:false\n"
        "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
        encoding="ascii",
    )
    run = ["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"]
    for args in (
        [*run, "-out", str(tmp / "pss.key")],
        ["req", "-new", "-key", str(tmp / "pss.key"), "-subj", f"/CN={HOST}",
         "-out", str(tmp / "pss.csr")],
        ["x509", "-req", "-in", str(tmp / "pss.csr"), "-CA", str(tmp / "inter.pem"),
         "-CAkey", str(tmp / "inter.key"), "-set_serial", "4713", "-days", "90", "-sha256",
         "-extfile", str(tmp / "ext.cnf"), "-out", str(tmp / "leaf.pem")],
    ):  # fmt: skip
        subprocess.run([exe, *args], check=True, capture_output=True)
    (tmp / "bundle.pem").write_bytes((tmp / "leaf.pem").read_bytes() + cert_pem(p.inter.cert))
    (tmp / "root.pem").write_bytes(cert_pem(p.root.cert))
    return tmp / "bundle.pem", tmp / "pss.key", tmp / "root.pem"


def test_check_fails_an_rsa_pss_key_with_a_remedy(cli: CliRunner, tmp_path: Path) -> None:
    bundle, key, root = _rsa_pss_pair(tmp_path)
    result = cli(
        "tls", "check", "--cert", str(bundle), "--key", str(key), "--hostname", HOST,
        "--ca-file", str(root), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 1, result
    results = {r["id"]: r for r in result.json()["results"]}
    key_type = results["tls-key-type"]
    assert key_type["status"] == "fail"
    assert "RSA-PSS" in key_type["summary"]
    assert "rsaEncryption" in key_type["remedy"] and "docker" in key_type["remedy"]
    assert key_type["details"]["key_type"] == "RSA-PSS"
    assert results["tls-key-match"]["status"] == "pass"


# ------------------------------------------------------------------ served (tls probe, check)


def _served(*certs: x509.Certificate) -> ServedChain:
    return ServedChain(HOST, "127.0.0.1", 443, tuple(certs))


def _root_trust() -> Trust:
    return Trust((), (pki().root.cert,), None)


def test_a_served_certificate_with_a_malformed_extension_fails_not_crashes() -> None:
    result = judge(_served(_malformed_san_leaf(), pki().inter.cert), _root_trust(), NOW)
    assert not result.ok and result.kind == "malformed"
    assert "malformed subject_alternative_name extension" in (result.error or "")


def test_a_served_rsa_pss_certificate_fails_for_go_clients(tmp_path: Path) -> None:
    bundle, _, _ = _rsa_pss_pair(tmp_path)
    leaf, inter = x509.load_pem_x509_certificates(bundle.read_bytes())
    result = judge(_served(leaf, inter), _root_trust(), datetime.now(UTC))
    assert not result.ok
    assert "RSA-PSS" in (result.error or "")


# ------------------------------------------------------------------ what the review found


def test_a_bundle_ending_in_an_expired_cross_sign_and_its_old_root_passes_chain_complete(
    cli: CliRunner, tmp_path: Path
) -> None:
    """The "AddTrust" shape: leaf, intermediate, the new root cross-signed by an old root, and
    the old root itself, both expired. Clients stop at the intermediate, which the trusted new
    root issued (curl, git and `openssl verify` accept it): nothing after it is judged."""
    old_key, new_key, inter_key, leaf_key = (rsa_key(2048, slot=n) for n in (3, 4, 5, 6))
    old = Issuer(
        build_cert("Old Root", old_key, None, ca=True, not_before=NOW - 7000 * DAY,
                   not_after=NOW - 30 * DAY),
        old_key,
    )  # fmt: skip
    new = Issuer(
        build_cert("New Root", new_key, None, ca=True, not_before=NOW - 2000 * DAY,
                   not_after=NOW + 3000 * DAY),
        new_key,
    )  # fmt: skip
    cross = build_cert("New Root", new_key, old, ca=True, not_before=NOW - 1500 * DAY,
                       not_after=NOW - 40 * DAY)  # fmt: skip
    inter = Issuer(build_cert("Issuing CA", inter_key, new, ca=True), inter_key)
    leaf = build_cert(HOST, leaf_key, inter)
    (tmp_path / "bundle.pem").write_bytes(cert_pem(leaf, inter.cert, cross, old.cert))
    (tmp_path / "key.pem").write_bytes(key_pem(leaf_key))
    (tmp_path / "root.pem").write_bytes(cert_pem(new.cert))
    result = cli(
        "tls", "check", "--cert", str(tmp_path / "bundle.pem"),
        "--key", str(tmp_path / "key.pem"), "--hostname", HOST,
        "--ca-file", str(tmp_path / "root.pem"), "--format", "json",
    )  # fmt: skip
    results = {r["id"]: r for r in result.json()["results"]}
    assert results["tls-chain-complete"]["status"] == "pass", results["tls-chain-complete"]
    assert "New Root" in results["tls-chain-complete"]["summary"]
    assert results["tls-expiry"]["status"] in ("pass", "warn"), results["tls-expiry"]


def test_a_subject_that_does_not_decode_fails_tls_pem_not_an_internal_error(
    tmp_path: Path,
) -> None:
    # A UTF8String CN whose bytes are not UTF-8 (OpenSSL refuses to load such a certificate).
    der = pki().leaf().public_bytes(serialization.Encoding.DER)
    marker = HOST.encode()
    assert marker in der
    broken = der.replace(marker, b"\xff" * len(marker), 1)
    (tmp_path / "bundle.pem").write_bytes(cert_pem(x509.load_der_x509_certificate(broken)))
    loaded = load_bundle(tmp_path / "bundle.pem")
    assert isinstance(loaded, LoadFailure), loaded
    assert "malformed subject name" in loaded.message
