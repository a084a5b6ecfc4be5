"""`tls issue`, `tls csr` and `tls ca create`: a refusal writes nothing (with --force too), a
host name longer than a CN may be, a CA certificate that is not a CA."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.conftest import CliRunner, assert_no_traceback
from tests.tls.corpus import HOST, cert_pem, key_pem, key_usage, pki, rsa_key

LONG_HOST = "github-enterprise.platform-engineering.emea.internal.example-corp.com"


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ghes_setup.tls.issue import create_ca

    out = tmp_path_factory.mktemp("ca")
    create_ca(out, name="Test GHES CA")
    return out


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry of `folder`: a file's bytes, a link's target, a folder's marker."""
    found: dict[str, bytes | str] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            found[entry.name] = f"-> {entry.readlink()}"
        elif entry.is_dir():
            found[entry.name] = "(folder)"
        else:
            found[entry.name] = entry.read_bytes()
    return found


def test_issue_force_refuses_a_symlinked_chain_before_replacing_the_key(
    cli: CliRunner, tmp_path: Path, ca_dir: Path
) -> None:
    out = tmp_path / "certs"
    assert cli("tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(out)).exit_code == 0
    chain = out / f"{HOST}-chain.pem"
    chain.rename(tmp_path / "current-chain.pem")
    chain.symlink_to(tmp_path / "current-chain.pem")  # renewal via a link
    before = _snapshot(out)
    result = cli("tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(out), "--force")
    assert result.exit_code == 3, result
    assert_no_traceback(result)
    assert "symbolic link" in result.stderr and "Hint:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _snapshot(out) == before  # the key and the .crt too


def test_csr_force_refuses_a_folder_in_place_of_the_csr_before_replacing_the_key(
    cli: CliRunner, tmp_path: Path
) -> None:
    assert cli("tls", "csr", HOST, "--out", str(tmp_path)).exit_code == 0
    (tmp_path / f"{HOST}.csr").unlink()
    (tmp_path / f"{HOST}.csr").mkdir()
    before = _snapshot(tmp_path)
    result = cli("tls", "csr", HOST, "--out", str(tmp_path), "--force")
    assert result.exit_code == 3, result
    assert_no_traceback(result)
    assert "not a regular file" in result.stderr
    assert _snapshot(tmp_path) == before


def test_ca_create_force_refuses_a_symlinked_certificate_before_replacing_the_key(
    cli: CliRunner, tmp_path: Path
) -> None:
    assert cli("tls", "ca", "create", "--out", str(tmp_path)).exit_code == 0
    (tmp_path / "ca.pem").rename(tmp_path / "real-ca.pem")
    (tmp_path / "ca.pem").symlink_to(tmp_path / "real-ca.pem")
    before = _snapshot(tmp_path)
    result = cli("tls", "ca", "create", "--out", str(tmp_path), "--force")
    assert result.exit_code == 3, result
    assert _snapshot(tmp_path) == before


def _common_names(name: x509.Name) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def test_csr_for_a_host_longer_than_a_common_name_puts_it_in_the_sans_only(
    cli: CliRunner, tmp_path: Path
) -> None:
    assert len(LONG_HOST) > 64
    result = cli("tls", "csr", LONG_HOST, "--out", str(tmp_path))
    assert result.exit_code == 0, result
    assert_no_traceback(result)
    csr = x509.load_pem_x509_csr((tmp_path / f"{LONG_HOST}.csr").read_bytes())
    assert csr.is_signature_valid
    assert _common_names(csr.subject) == []
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical  # RFC 5280 4.2.1.6: an empty subject needs a critical SAN
    assert san.value.get_values_for_type(x509.DNSName) == [LONG_HOST, f"*.{LONG_HOST}"]


def test_issue_for_a_host_longer_than_a_common_name_passes_tls_check(
    cli: CliRunner, tmp_path: Path, ca_dir: Path
) -> None:
    result = cli("tls", "issue", LONG_HOST, "--ca", str(ca_dir), "--out", str(tmp_path))
    assert result.exit_code == 0, result
    leaf = x509.load_pem_x509_certificate((tmp_path / f"{LONG_HOST}.crt").read_bytes())
    assert _common_names(leaf.subject) == []
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    check = cli(
        "tls", "check", "--cert", str(tmp_path / f"{LONG_HOST}-chain.pem"),
        "--key", str(tmp_path / f"{LONG_HOST}.key"), "--hostname", LONG_HOST,
        "--ca-file", str(ca_dir / "ca.pem"), "--format", "json",
    )  # fmt: skip
    assert check.exit_code == 0, check
    assert {r["status"] for r in check.json()["results"]} == {"pass"}


def test_issue_keeps_the_common_name_of_a_host_that_fits(
    cli: CliRunner, tmp_path: Path, ca_dir: Path
) -> None:
    assert cli("tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(tmp_path)).exit_code == 0
    leaf = x509.load_pem_x509_certificate((tmp_path / f"{HOST}.crt").read_bytes())
    assert _common_names(leaf.subject) == [HOST]
    assert not leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_issue_refuses_a_server_certificate_as_the_ca(cli: CliRunner, tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    ca.mkdir()
    (ca / "ca.pem").write_bytes(cert_pem(pki().leaf()))  # CA:FALSE
    (ca / "ca.key").write_bytes(key_pem(rsa_key()))  # and its key
    out = tmp_path / "out"
    result = cli("tls", "issue", "ghe2.example.com", "--ca", str(ca), "--out", str(out))
    assert result.exit_code == 3, result
    assert_no_traceback(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "is not a CA" in result.stderr and "tls ca create" in result.stderr
    assert not out.exists()


def test_issue_refuses_a_ca_whose_key_usage_lacks_key_cert_sign(
    cli: CliRunner, tmp_path: Path
) -> None:
    from datetime import timedelta

    from cryptography.hazmat.primitives import hashes

    from tests.tls.corpus import DAY, NOW

    key = rsa_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Corp Root")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(8)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=True, crl_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca = tmp_path / "ca"
    ca.mkdir()
    (ca / "ca.pem").write_bytes(cert_pem(cert))
    (ca / "ca.key").write_bytes(key_pem(key))
    result = cli("tls", "issue", HOST, "--ca", str(ca), "--out", str(tmp_path / "out"))
    assert result.exit_code == 3, result
    assert "keyCertSign" in result.stderr
    assert not (tmp_path / "out").exists()
