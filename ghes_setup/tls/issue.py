"""Make the certificate GHES needs: a private CA, a certificate from it, or a CSR for a public CA.

What GHES asks of the certificate (configuring-tls.md, enabling-subdomain-isolation.md,
docs/reference/ghes-facts.md §6): RSA key without a passphrase, SANs for HOSTNAME and `*.HOSTNAME`,
uploaded as a PEM bundle with the leaf first. What clients ask on top (WebPKI, CA/B Forum baseline):
SHA-256 signatures, `serverAuth` EKU, `CA:false` on the leaf, key identifiers.

Files are written atomically (a temporary file in the same folder, then a link or rename), so
a crash never leaves a half-written key. Key files are created with mode 0600 from the first
byte (`os.open(..., 0o600)`), never chmod-ed afterwards. Existing files are never replaced
unless `force=True`; without it the whole operation refuses before writing anything.

Uses `cryptography` only.
"""

from __future__ import annotations

import secrets as random_source
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ghes_setup.errors import MaterialError
from ghes_setup.files import write_file
from ghes_setup.tls import names
from ghes_setup.tls.material import describe, is_ca, read_certificates, read_private_key

CA_KEY_BITS = 3072
LEAF_KEY_BITS = 2048
CA_DAYS = 3650
# CA/B Forum limit for publicly trusted certificates since 2020; a private CA may go longer,
# but a shorter life is the safer default and matches what admins are used to renewing.
LEAF_DAYS = 397
CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca.key"
# Backdate notBefore a little: an appliance or client whose clock runs slightly behind would
# otherwise reject a certificate issued a moment ago as "not yet valid".
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class WrittenFile:
    path: Path
    kind: str  # "ca-cert" | "ca-key" | "key" | "cert" | "chain" | "csr"
    secret: bool = False


@dataclass(frozen=True, slots=True)
class CaResult:
    cert: Path
    key: Path
    subject: str
    not_after: datetime
    files: tuple[WrittenFile, ...]


@dataclass(frozen=True, slots=True)
class IssueResult:
    hostname: str
    key: Path
    cert: Path
    chain: Path
    names: tuple[str, ...]
    not_after: datetime
    issuer: str
    files: tuple[WrittenFile, ...]
    ca_file: Path  # the CA certificate a client verifies the certificate with (ca.pem)


@dataclass(frozen=True, slots=True)
class CsrResult:
    hostname: str
    key: Path
    csr: Path
    names: tuple[str, ...]
    files: tuple[WrittenFile, ...]


def key_usage(*, ca: bool) -> x509.KeyUsage:
    """Key usage (critical): a CA signs certificates and CRLs; a TLS server certificate signs
    the handshake and, for RSA key exchange, enciphers keys (RFC 5280 4.2.1.3)."""
    return x509.KeyUsage(
        digital_signature=True,
        key_encipherment=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    out_dir: Path,
    *,
    name: str = "ghes-setup private CA",
    days: int = CA_DAYS,
    key_bits: int = CA_KEY_BITS,
    force: bool = False,
    now: datetime | None = None,
) -> CaResult:
    """A self-signed root CA: `out_dir/ca.pem` and `out_dir/ca.key` (0600)."""
    if key_bits not in (3072, 4096):
        raise MaterialError(f"CA key size {key_bits}: use 3072 or 4096 bits")
    _positive_days(days, MAX_CA_DAYS)
    if not name.strip():
        raise MaterialError("CA name is empty", hint="e.g. --name 'Example Corp GHES CA'")
    if len(name.strip()) > 64:  # RFC 5280 ub-common-name
        raise MaterialError(
            f"CA name is {len(name.strip())} characters; a common name has at most 64",
            hint="use a shorter --name",
        )
    cert_path, key_path = out_dir / CA_CERT_NAME, out_dir / CA_KEY_NAME
    _refuse_existing([cert_path, key_path], force)
    start = (now or datetime.now(UTC)) - BACKDATE
    key = _new_key(key_bits)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name.strip()),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ghes-setup"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            key_usage(ca=True),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    files = _write_key_and_pems(
        out_dir, (key_path, key, "ca-key"), [(cert_path, _pem(cert), "ca-cert")], force
    )
    return CaResult(cert_path, key_path, subject.rfc4514_string(), cert.not_valid_after_utc, files)


def issue(
    hostname: str,
    ca_dir: Path,
    out_dir: Path,
    *,
    days: int = LEAF_DAYS,
    key_bits: int = LEAF_KEY_BITS,
    force: bool = False,
    now: datetime | None = None,
) -> IssueResult:
    """A server certificate for HOSTNAME and `*.HOSTNAME` from the CA in `ca_dir`.

    Writes `<host>.key` (0600), `<host>.crt` (the leaf) and `<host>-chain.pem` (leaf, then the
    CA certificate(s) of `ca.pem`: the bundle to upload to GHES).
    """
    host = names.to_ascii(hostname)
    _check_leaf_key_bits(key_bits)
    _positive_days(days, MAX_LEAF_DAYS)
    ca_cert_path, ca_key_path = ca_dir / CA_CERT_NAME, ca_dir / CA_KEY_NAME
    for path in (ca_cert_path, ca_key_path):
        if not path.is_file():
            raise MaterialError(
                f"no CA in {ca_dir}: {path.name} is missing",
                hint=f"create one with: ghes-setup tls ca create --out {ca_dir}",
            )
    ca_chain = read_certificates(ca_cert_path, what=f"CA certificate {ca_cert_path}")
    ca_cert = ca_chain[0]
    _require_ca(ca_cert, ca_cert_path)
    ca_key = read_private_key(ca_key_path, what=f"CA key {ca_key_path}")
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise MaterialError(f"CA key {ca_key_path} is not an RSA key", hint="use tls ca create")
    if ca_key.public_key().public_numbers() != _rsa_numbers(ca_cert):
        raise MaterialError(
            f"CA key {ca_key_path} does not belong to {ca_cert_path}",
            hint="keep the ca.pem and ca.key that tls ca create wrote together",
        )
    start = (now or datetime.now(UTC)) - BACKDATE
    end = start + timedelta(days=days)
    if end > ca_cert.not_valid_after_utc:
        raise MaterialError(
            "the certificate would outlive its CA "
            f"(CA expires {ca_cert.not_valid_after_utc:%Y-%m-%d})",
            hint="use fewer --days, or create a new CA",
        )
    key_path = out_dir / f"{host}.key"
    cert_path = out_dir / f"{host}.crt"
    chain_path = out_dir / f"{host}-chain.pem"
    _refuse_existing([key_path, cert_path, chain_path], force)
    key = _new_key(key_bits)
    san_names = (host, f"*.{host}")
    subject = _subject(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_san(san_names), critical=not subject)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(ca=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert, ca_key), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_pem = _pem(cert)
    chain_pem = leaf_pem + b"".join(_pem(c) for c in ca_chain)
    files = _write_key_and_pems(
        out_dir,
        (key_path, key, "key"),
        [(cert_path, leaf_pem, "cert"), (chain_path, chain_pem, "chain")],
        force,
    )
    return IssueResult(
        hostname=host,
        key=key_path,
        cert=cert_path,
        chain=chain_path,
        names=san_names,
        not_after=cert.not_valid_after_utc,
        issuer=ca_cert.subject.rfc4514_string(),
        files=files,
        ca_file=ca_cert_path,
    )


def make_csr(
    hostname: str,
    out_dir: Path,
    *,
    key_bits: int = LEAF_KEY_BITS,
    force: bool = False,
) -> CsrResult:
    """An RSA key (0600) and a CSR for HOSTNAME and `*.HOSTNAME`, to send to a public CA."""
    host = names.to_ascii(hostname)
    _check_leaf_key_bits(key_bits)
    key_path, csr_path = out_dir / f"{host}.key", out_dir / f"{host}.csr"
    _refuse_existing([key_path, csr_path], force)
    key = _new_key(key_bits)
    san_names = (host, f"*.{host}")
    subject = _subject(host)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(_san(san_names), critical=not subject)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = _write_key_and_pems(
        out_dir, (key_path, key, "key"), [(csr_path, _pem(csr), "csr")], force
    )
    return CsrResult(host, key_path, csr_path, san_names, files)


# ------------------------------------------------------------------ helpers


# RFC 5280 ub-common-name: a CN holds at most 64 characters, a DNS name up to 253.
MAX_COMMON_NAME = 64


def _subject(host: str) -> x509.Name:
    """CN=HOST, or an empty subject when HOST is longer than a CN may be: clients match the
    subjectAltName only (RFC 6125), and RFC 5280 §4.2.1.6 then wants that extension critical
    (callers mark it so when the subject is empty)."""
    if len(host) > MAX_COMMON_NAME:
        return x509.Name([])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])


def _san(san_names: Sequence[str]) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.DNSName(n) for n in san_names])


def _require_ca(ca_cert: x509.Certificate, path: Path) -> None:
    """Refuse to sign with a certificate that is not a CA: the leaf would be issued, and
    then refused by every client (`tls check`: tls-chain-complete)."""
    hint = (
        "--ca takes a folder with a CA certificate (ca.pem, CA:TRUE) and its key (ca.key), "
        "e.g. one made by: ghes-setup tls ca create --out DIR"
    )
    if ca_cert.version is x509.Version.v1:
        # OpenSSL takes a self-signed v1 certificate for a CA; WebPKI verifiers, and so
        # `tls check`, need a v3 one with CA:TRUE.
        raise MaterialError(
            f"CA certificate {path} is an X.509 v1 certificate ({describe(ca_cert)}: no "
            "extensions, so no CA:TRUE): verifiers that follow RFC 5280 refuse its chains",
            hint=hint,
        )
    if not is_ca(ca_cert):
        raise MaterialError(
            f"CA certificate {path} is not a CA ({describe(ca_cert)}: basic constraints "
            "without CA:TRUE): a server certificate cannot issue certificates",
            hint=hint,
        )
    try:
        usage = ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise MaterialError(
            f"CA certificate {path} may not sign certificates ({describe(ca_cert)}: its key "
            "usage lacks keyCertSign)",
            hint=hint,
        )


# Longest validity we issue: a private CA for 20 years; a server certificate for 825 days, the
# longest the CA/Browser Forum ever allowed (public CAs now stop at 398; browsers warn past it).
MAX_CA_DAYS = 7300
MAX_LEAF_DAYS = 825


def _check_leaf_key_bits(key_bits: int) -> None:
    if key_bits < LEAF_KEY_BITS:
        raise MaterialError(f"key size {key_bits}: GHES needs RSA of at least {LEAF_KEY_BITS} bits")


def _positive_days(days: int, maximum: int) -> None:
    if days < 1:
        raise MaterialError(f"--days {days}: must be at least 1")
    if days > maximum:
        raise MaterialError(
            f"--days {days}: at most {maximum}",
            hint="shorter certificates are the safer default; renew them from cron",
        )


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)  # new folders hold keys: 0700
    except FileExistsError:
        raise MaterialError(f"--out {path} is a file, not a folder") from None
    except OSError as exc:
        raise MaterialError(f"cannot create --out {path}: {exc.strerror}") from None


def _new_key(key_bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_bits)


def _authority_key_id(
    ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey
) -> x509.AuthorityKeyIdentifier:
    """The CA's own key identifier, as OpenSSL links a certificate to its issuer (its AKI must
    equal the issuer's SKI). A CA's SKI is not always the SHA-1 of its key (RFC 7093 methods);
    only a CA without one gets the key's hash."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _serial() -> int:
    # 159 random bits: positive, at most 20 octets, unpredictable (CA/B BR §7.1).
    return random_source.randbits(159) | 1


def _rsa_numbers(cert: x509.Certificate) -> rsa.RSAPublicNumbers | None:
    public = cert.public_key()
    return public.public_numbers() if isinstance(public, rsa.RSAPublicKey) else None


def _pem(item: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    return item.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    # Unencrypted PKCS#8: GHES refuses keys with a passphrase (configuring-tls.md).
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _refuse_existing(paths: Sequence[Path], force: bool) -> None:
    if force:
        return
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing:
        listed = ", ".join(str(p) for p in existing)
        raise MaterialError(
            f"refusing to overwrite {listed}",
            hint="choose another --out folder, or pass --force to replace them",
        )


def _write_key_and_pems(
    out_dir: Path,
    key: tuple[Path, rsa.RSAPrivateKey, str],
    pems: Sequence[tuple[Path, bytes, str]],
    force: bool,
) -> tuple[WrittenFile, ...]:
    """Create `out_dir` (0700), then write the new private key (0600, first) and the public
    PEM files (0644). Each entry is (path, content, kind)."""
    key_path, private_key, key_kind = key
    items = [(key_path, _key_pem(private_key), key_kind, True)]
    items += [(path, data, kind, False) for path, data, kind in pems]
    # Every target is judged before the first is written: refusing the chain only when it is
    # reached would leave a new key next to the old certificate (a refusal writes nothing).
    for path, *_ in items:
        _refuse_unusable_target(path)
    _make_dir(out_dir)
    written: list[WrittenFile] = []
    for path, data, kind, secret in items:
        write_atomic(path, data, mode=0o600 if secret else 0o644, overwrite=force)
        written.append(WrittenFile(path, kind, secret))
    return tuple(written)


def _refuse_unusable_target(path: Path) -> None:
    """What `write_file` refuses when it reaches a target, checked for all of them up front: a
    symbolic link (never written through) or something other than a regular file."""
    if path.is_symlink():
        raise MaterialError(
            f"--out file {path} is a symbolic link; refusing to write through it",
            hint="remove the link, or choose another --out folder; nothing was written",
        )
    if path.exists() and not path.is_file():
        raise MaterialError(
            f"--out file {path} exists and is not a regular file",
            hint="move it away, or choose another --out folder; nothing was written",
        )


def write_atomic(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    """Write `data` to `path` via a temporary file created with `mode` from the start
    (`ghes_setup.files`: exact mode whatever the umask, no symlink followed, fsync, rename).

    Without `overwrite` the final step is a hard link, which fails if `path` appeared in the
    meantime, so an existing file is never replaced by accident.
    """
    write_file(path, data, mode=mode, overwrite=overwrite, what="--out file")
