"""The lab's certificates and keys, made with `cryptography` (a runtime dependency).

trustme is a dev-only dependency, and `lab up` must work from the runtime dependencies alone,
so this module builds the lab's PKI itself:

- a root CA (DIR/pki/ca.pem, what clients trust via `--ca-file`) and an intermediate CA;
- the appliance's default certificate: HOSTNAME only, as on a fresh appliance before the admin
  installs one (its self-signed certificate does not cover the isolation subdomains either);
- the site's desired certificate (DIR/site-certs/): HOSTNAME and *.HOSTNAME, RSA (GHES takes
  RSA keys only, configuring-tls.md), chain leaf first then the intermediate (the order GHES
  wants, troubleshooting-tls-errors.md), key 0600;
- an expired certificate for the `cert-expired` fault;
- the registry token-signing key and its self-signed certificate (RSA: distribution's libtrust
  rejects Ed25519 and PS256, docs/reference/lab-findings.md §1).

`issue()` is public so that tests can make the bad material the apply must refuse (an EC key, a
certificate without the wildcard, a key that does not match).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ghes_setup.lab.layout import Layout, write_private
from ghes_setup.tls.issue import key_usage

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # leaf first, then intermediates (no root)

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def key_pem(self) -> bytes:
        return key_pem(self.key)


def key_pem(key: PrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, start: dt.datetime, end: dt.datetime
) -> x509.CertificateBuilder:
    """What every lab certificate has: its names, `key`'s public half, a random serial, and
    its validity."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def make_ca(common_name: str, *, parent: Issued | None = None, days: int = 3650) -> Issued:
    key = new_rsa_key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ghes-setup lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    issuer_name = parent.cert.subject if parent else subject
    signing_key = parent.key if parent else key
    now = _now()
    builder = (
        _builder(subject, issuer_name, key, now - _DAY, now + days * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if not parent else 0), True)
        .add_extension(key_usage(ca=True), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if parent:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), False
        )
    cert = builder.sign(signing_key, hashes.SHA256())
    return Issued(key, cert, (cert,))


def issue(
    ca: Issued,
    names: list[str],
    *,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: int = 397,
) -> Issued:
    """A TLS server certificate for `names` (DNS names or IP addresses) signed by `ca`.

    The chain is the leaf then `ca` when `ca` is an intermediate (its chain has its own issuer
    above it); a certificate issued straight by the root has a one-element chain.
    """
    leaf_key = key or new_rsa_key()
    start = not_before or (_now() - _DAY)
    end = not_after or (start + days * _DAY)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        _builder(subject, ca.cert.subject, leaf_key, start, end)
        .add_extension(x509.SubjectAlternativeName(sans), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .sign(ca.key, hashes.SHA256())
    )
    is_intermediate = ca.cert.issuer != ca.cert.subject
    return Issued(leaf_key, cert, (cert, ca.cert) if is_intermediate else (cert,))


def self_signed(common_name: str, key: rsa.RSAPrivateKey, days: int = 3650) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    return _builder(name, name, key, now - _DAY, now + days * _DAY).sign(key, hashes.SHA256())


def libtrust_kid(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    """The key id distribution's token auth expects in the JWT header
    (docs/reference/lab-findings.md §1): base32(sha256(DER SubjectPublicKeyInfo)[:30]) in
    4-character groups joined by ':'."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i : i + 4] for i in range(0, len(text), 4))


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_issued(chain_path: Path, key_path: Path) -> Issued:
    certs = tuple(x509.load_pem_x509_certificates(chain_path.read_bytes()))
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: unsupported key type")
    return Issued(key, certs[0], certs)


def ssh_keypair() -> tuple[bytes, bytes]:
    """An Ed25519 key pair: (OpenSSH private key, `ssh-ed25519 AAAA...` public line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public


def build_pki(layout: Layout, hostname: str) -> None:
    """Create every certificate and key of a new lab (about 0.3 s: six RSA-2048 keys)."""
    root = make_ca("ghes-setup lab root CA")
    inter = make_ca("ghes-setup lab intermediate CA", parent=root)
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    write_private(layout.ca_file, cert_pem(root.cert), 0o644)
    write_private(pki / "ca.key", key_pem(root.key))
    write_private(pki / "intermediate.pem", cert_pem(inter.cert), 0o644)
    write_private(pki / "intermediate.key", key_pem(inter.key))
    write_private(layout.cert_dir / "ca.crt", cert_pem(root.cert), 0o644)

    # A fresh appliance's own certificate covers the hostname only.
    default = issue(inter, [hostname])
    write_private(pki / "default.pem", default.chain_pem(), 0o644)
    write_private(pki / "default.key", default.key_pem())

    site = issue(inter, [hostname, f"*.{hostname}"])
    write_private(layout.site_cert, site.chain_pem(), 0o644)
    write_private(layout.site_key, site.key_pem())

    now = _now()
    expired = issue(
        inter,
        [hostname, f"*.{hostname}"],
        not_before=now - 400 * _DAY,
        not_after=now - 30 * _DAY,
    )
    write_private(pki / "expired.pem", expired.chain_pem(), 0o644)
    write_private(pki / "expired.key", expired.key_pem())

    token_key = new_rsa_key()
    write_private(layout.token_key, key_pem(token_key))
    write_private(
        layout.token_cert, cert_pem(self_signed("ghes-setup lab token signer", token_key)), 0o644
    )


def ensure_storage_cert(layout: Layout, address: str) -> None:
    """The S3 server's certificate for `https://ADDRESS:9000` (made once; labs made before it
    get one at their next `lab up`)."""
    if layout.storage_cert.exists() and layout.storage_key.exists():
        return
    # P-256: made in a millisecond (an RSA key costs 0.1-0.3 s of `lab up`); S3 clients and
    # Go's TLS take it.
    issued = issue(intermediate(layout), [address], key=ec.generate_private_key(ec.SECP256R1()))
    write_private(layout.storage_cert, issued.chain_pem(), 0o644)
    write_private(layout.storage_key, issued.key_pem())


def intermediate(layout: Layout) -> Issued:
    """The lab's intermediate CA (for tests that need more certificates from the lab CA)."""
    return load_issued(layout.pki / "intermediate.pem", layout.pki / "intermediate.key")
