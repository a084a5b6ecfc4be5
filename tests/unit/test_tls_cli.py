"""`tls ca create`, `tls issue`, `tls csr`, `tls check` and `tls probe` input handling."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.conftest import CliRunner, assert_no_traceback
from tests.schema import assert_valid_report
from tests.tls.corpus import DAY, HOST, NOW, cert_pem, key_pem, pki, rsa_key


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Key files must be 0600 because of how they are created, not thanks to the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _san(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return ext.value.get_values_for_type(x509.DNSName)


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ghes_setup.tls.issue import create_ca

    out = tmp_path_factory.mktemp("ca")
    create_ca(out, name="Test GHES CA")
    return out


def test_ca_create_writes_a_0600_key_and_a_ca_certificate(
    cli: CliRunner, tmp_path: Path, open_umask: None
) -> None:
    result = cli("tls", "ca", "create", "--out", str(tmp_path / "ca"), "--name", "Corp CA")
    assert result.exit_code == 0, result
    key_path, cert_path = tmp_path / "ca" / "ca.key", tmp_path / "ca" / "ca.pem"
    assert _mode(key_path) == 0o600
    assert _mode(cert_path) == 0o644
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca and constraints.critical
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size in (3072, 4096)
    assert "Corp CA" in result.stdout
    assert "PRIVATE KEY" not in result.output
    assert not [p.name for p in (tmp_path / "ca").iterdir() if p.name.startswith(".")]


def test_ca_create_refuses_to_overwrite_unless_forced(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("tls", "ca", "create", "--out", str(tmp_path)).exit_code == 0
    before = (tmp_path / "ca.key").read_bytes()
    again = cli("tls", "ca", "create", "--out", str(tmp_path))
    assert again.exit_code == 3
    assert "refusing to overwrite" in again.stderr and "--force" in again.stderr
    assert (tmp_path / "ca.key").read_bytes() == before
    forced = cli("tls", "ca", "create", "--out", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / "ca.key").read_bytes() != before
    assert _mode(tmp_path / "ca.key") == 0o600


def test_issue_writes_key_leaf_and_chain_leaf_first(
    cli: CliRunner, tmp_path: Path, ca_dir: Path, open_umask: None
) -> None:
    result = cli("tls", "issue", "GHE.Example.com", "--ca", str(ca_dir), "--out", str(tmp_path))
    assert result.exit_code == 0, result
    key_path = tmp_path / f"{HOST}.key"
    assert _mode(key_path) == 0o600
    chain = x509.load_pem_x509_certificates((tmp_path / f"{HOST}-chain.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate((tmp_path / f"{HOST}.crt").read_bytes())
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    assert chain == [leaf, ca_cert]
    leaf.verify_directly_issued_by(ca_cert)
    assert _san(leaf) == [HOST, f"*.{HOST}"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "sha256"
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days == 397
    assert key_path.read_text().splitlines()[1] not in result.output


def test_issued_certificate_passes_tls_check(cli: CliRunner, tmp_path: Path, ca_dir: Path) -> None:
    assert cli("tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(tmp_path)).exit_code == 0
    result = cli(
        "tls", "check", "--cert", str(tmp_path / f"{HOST}-chain.pem"),
        "--key", str(tmp_path / f"{HOST}.key"), "--hostname", HOST,
        "--ca-file", str(ca_dir / "ca.pem"), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result
    document = result.json()
    assert_valid_report(document)
    assert document["command"] == "tls check"
    assert {r["status"] for r in document["results"]} == {"pass"}
    assert len(document["results"]) == 8


def test_issue_refuses_to_overwrite_and_writes_nothing(
    cli: CliRunner, tmp_path: Path, ca_dir: Path
) -> None:
    (tmp_path / f"{HOST}.crt").write_text("keep me")
    result = cli("tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(tmp_path))
    assert result.exit_code == 3
    assert_no_traceback(result)
    assert (tmp_path / f"{HOST}.crt").read_text() == "keep me"
    assert not (tmp_path / f"{HOST}.key").exists()
    assert not (tmp_path / f"{HOST}-chain.pem").exists()
    forced = cli("tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert (tmp_path / f"{HOST}.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_issue_without_a_ca_says_how_to_make_one(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("tls", "issue", HOST, "--ca", str(tmp_path / "none"), "--out", str(tmp_path))
    assert result.exit_code == 3
    assert "tls ca create" in result.stderr
    assert_no_traceback(result)


def test_issue_with_an_invalid_hostname_is_exit_3(
    cli: CliRunner, tmp_path: Path, ca_dir: Path
) -> None:
    result = cli("tls", "issue", "localhost", "--ca", str(ca_dir), "--out", str(tmp_path))
    assert result.exit_code == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_issue_json_lists_the_files(cli: CliRunner, tmp_path: Path, ca_dir: Path) -> None:
    result = cli(
        "--format", "json", "tls", "issue", HOST, "--ca", str(ca_dir), "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result
    document = result.json()
    assert document["names"] == [HOST, f"*.{HOST}"]
    kinds = {f["kind"]: f["secret"] for f in document["files"]}
    assert kinds == {"key": True, "cert": False, "chain": False}


def test_csr_has_both_names_and_a_0600_key(
    cli: CliRunner, tmp_path: Path, open_umask: None
) -> None:
    result = cli("tls", "csr", HOST, "--out", str(tmp_path))
    assert result.exit_code == 0, result
    csr = x509.load_pem_x509_csr((tmp_path / f"{HOST}.csr").read_bytes())
    assert csr.is_signature_valid
    assert _san(csr) == [HOST, f"*.{HOST}"]  # type: ignore[arg-type]
    assert _mode(tmp_path / f"{HOST}.key") == 0o600
    assert "-----BEGIN CERTIFICATE REQUEST-----" in result.stdout
    assert "PRIVATE KEY" not in result.output
    again = cli("tls", "csr", HOST, "--out", str(tmp_path))
    assert again.exit_code == 3


def _material(tmp_path: Path) -> tuple[Path, Path, Path]:
    p = pki()
    (tmp_path / "chain.pem").write_bytes(cert_pem(p.leaf(not_after=NOW + 20 * DAY), p.inter.cert))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "root.pem").write_bytes(cert_pem(p.root.cert))
    return tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "root.pem"


def test_check_missing_file_is_one_line_exit_3(cli: CliRunner, tmp_path: Path) -> None:
    _, key, _ = _material(tmp_path)
    result = cli(
        "tls", "check", "--cert", str(tmp_path / "missing.pem"), "--key", str(key),
        "--hostname", HOST,
    )  # fmt: skip
    assert result.exit_code == 3
    assert_no_traceback(result)
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_check_without_cert_or_hostname_is_exit_3(cli: CliRunner, tmp_path: Path) -> None:
    cert, key, _ = _material(tmp_path)
    no_host = cli("tls", "check", "--cert", str(cert), "--key", str(key))
    assert no_host.exit_code == 3 and "hostname" in no_host.stderr
    no_cert = cli("tls", "check", "--hostname", HOST)
    assert no_cert.exit_code == 3 and "--cert" in no_cert.stderr


def test_check_nagios_warns_with_days_left_perfdata(cli: CliRunner, tmp_path: Path) -> None:
    cert, key, root = _material(tmp_path)
    args = ["tls", "check", "--cert", str(cert), "--key", str(key), "--hostname", HOST]
    result = cli(*args, "--ca-file", str(root), "--format", "nagios")
    assert result.exit_code == 1, result  # WARNING
    first = result.stdout.splitlines()[0]
    assert first.startswith("GHES-SETUP WARNING - tls-expiry:")
    assert "'tls-expiry.days_left'=19;30:;7:;;" in first
    strict = cli(*args, "--ca-file", str(root), "--strict")
    assert strict.exit_code == 1
    lenient = cli(*args, "--ca-file", str(root))
    assert lenient.exit_code == 0


def test_check_prometheus_exposes_days_left(cli: CliRunner, tmp_path: Path) -> None:
    cert, key, root = _material(tmp_path)
    textfile = tmp_path / "tls.prom"
    result = cli(
        "tls", "check", "--cert", str(cert), "--key", str(key), "--hostname", HOST,
        "--ca-file", str(root), "--format", "prometheus", "--textfile", str(textfile),
    )  # fmt: skip
    assert result.exit_code == 0, result
    text = textfile.read_text()
    assert 'ghes_setup_check_days_left{check="tls-expiry"' in text
    assert f'host="{HOST}"' in text


def test_check_takes_defaults_from_the_site_file_and_flags_win(
    cli: CliRunner, tmp_path: Path
) -> None:
    cert, key, root = _material(tmp_path)
    site = tmp_path / "site.toml"
    site.write_text(
        f'hostname = "{HOST}"\n'
        f'[connection]\nca_file = "{root.name}"\n'
        f'[tls]\ncert = "{cert.name}"\nkey = "{key.name}"\nwarn_days = 10\ncrit_days = 5\n'
    )
    from_site = cli("tls", "check", "--site", str(site), "--format", "json")
    assert from_site.exit_code == 0, from_site
    assert {r["status"] for r in from_site.json()["results"]} == {"pass"}  # 19 days > 10
    flags = cli(
        "tls", "check", "--site", str(site), "--hostname", "other.example.com",
        "--warn-days", "30", "--format", "json",
    )  # fmt: skip
    statuses = {r["id"]: r["status"] for r in flags.json()["results"]}
    assert statuses["tls-san"] == "fail"
    assert statuses["tls-expiry"] == "warn"
    assert flags.exit_code == 1


def test_check_env_sets_the_thresholds_below_flags(cli: CliRunner, tmp_path: Path) -> None:
    cert, key, root = _material(tmp_path)
    args = ["tls", "check", "--cert", str(cert), "--key", str(key), "--hostname", HOST]
    args += ["--ca-file", str(root), "--format", "json"]
    env = {"GHES_SETUP_TLS_WARN_DAYS": "15", "GHES_SETUP_TLS_CRIT_DAYS": "1"}
    from_env = cli(*args, env=env)
    assert from_env.json()["status"] == "pass"
    flag = cli(*args, "--warn-days", "25", env=env)
    assert flag.json()["status"] == "warn"


def test_check_rejects_warn_below_crit(cli: CliRunner, tmp_path: Path) -> None:
    cert, key, _ = _material(tmp_path)
    result = cli(
        "tls", "check", "--cert", str(cert), "--key", str(key), "--hostname", HOST,
        "--warn-days", "3", "--crit-days", "7",
    )  # fmt: skip
    assert result.exit_code == 3
    assert_no_traceback(result)


def test_probe_rejects_an_address_that_is_not_an_ip(cli: CliRunner) -> None:
    result = cli("tls", "probe", HOST, "--address", "not-an-ip")
    assert result.exit_code == 3
    assert "--address" in result.stderr
    assert_no_traceback(result)


def test_probe_without_hostname_is_exit_3(cli: CliRunner) -> None:
    result = cli("tls", "probe")
    assert result.exit_code == 3
    assert "HOSTNAME" in result.stderr


@pytest.mark.parametrize("command", ["ca create", "issue", "csr", "check", "probe"])
def test_every_tls_command_has_help_with_an_example(cli: CliRunner, command: str) -> None:
    result = cli("tls", *command.split(), "--help")
    assert result.exit_code == 0
    assert "Example: ghes-setup tls" in result.stdout


def test_ca_create_refuses_out_that_is_a_file_absurd_days_and_long_names(
    cli: CliRunner, tmp_path: Path
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for args, words in (
        (["--out", str(afile)], "is a file"),
        (["--out", str(tmp_path / "ca"), "--days", "99999999"], "at most"),
        (["--out", str(tmp_path / "ca2"), "--name", "x" * 65], "at most 64"),
    ):
        result = cli("tls", "ca", "create", *args)
        assert result.exit_code == 3, result
        assert words in result.stderr
        assert "Traceback" not in result.output


def test_issue_with_an_encrypted_ca_key_says_so_plainly(cli: CliRunner, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert cli("tls", "ca", "create", "--out", str(tmp_path / "ca")).exit_code == 0
    key = serialization.load_pem_private_key((tmp_path / "ca" / "ca.key").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    (tmp_path / "ca" / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass-phrase"),
        )
    )
    result = cli("tls", "issue", "ghe.example.com", "--ca", str(tmp_path / "ca"),
                 "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 3, result
    assert "never asks for one" in result.stderr


def test_csr_refuses_a_report_format_before_writing_anything(
    cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "certs"
    result = cli("tls", "csr", HOST, "--out", str(out), "--format", "prometheus")
    assert result.exit_code == 2, result
    assert "this command supports human, json" in result.stderr
    assert not out.exists()
    assert_no_traceback(result)


def test_issue_links_the_leaf_to_an_existing_cas_own_key_identifier(
    cli: CliRunner, tmp_path: Path
) -> None:
    """A corporate CA whose SKI is not the SHA-1 of its key (RFC 7093): the leaf's AKI must be
    that SKI, or OpenSSL's clients (curl, git) do not find the issuer."""
    from datetime import timedelta

    from cryptography.hazmat.primitives import hashes

    key = rsa_key()
    ski = x509.SubjectKeyIdentifier(b"\x5a" * 20)
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Corp Root")])
    corp = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    assert ski != x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    ca = tmp_path / "corp"
    ca.mkdir()
    (ca / "ca.pem").write_bytes(cert_pem(corp))
    (ca / "ca.key").write_bytes(key_pem(key))
    result = cli("tls", "issue", HOST, "--ca", str(ca), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result
    leaf = x509.load_pem_x509_certificate((tmp_path / "out" / f"{HOST}.crt").read_bytes())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
