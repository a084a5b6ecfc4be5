"""`tls-signature`: no certificate in the bundle is signed with MD5 or SHA-1.

Browsers, Go and OpenSSL 3 at its default security level reject SHA-1 (and MD5) signatures on
the leaf and intermediates. A self-signed root's own signature does not count: nobody checks
it, the root is trusted by being in the store (RFC 5280 §6.1, and sslyze/testssl.sh skip it
too).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import SignatureAlgorithmOID

from ghes_setup.checks import Outcome, check
from ghes_setup.tls.context import TlsMaterialContext
from ghes_setup.tls.material import describe, is_self_issued, issued_by

WEAK_HASHES = frozenset({"md5", "sha1", "md2", "md4"})
_WEAK_OIDS = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "md5",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "sha1",
    SignatureAlgorithmOID._RSA_WITH_SHA1: "sha1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "sha1",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "sha1",
}


def signature_hash(cert: x509.Certificate) -> str:
    """The signature's hash name (`sha256`, `sha1`, ...), or the algorithm OID's name."""
    weak = _WEAK_OIDS.get(cert.signature_algorithm_oid)
    if weak:
        return weak
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return cert.signature_algorithm_oid.dotted_string
    if algorithm is None:  # Ed25519/Ed448: no separate hash, and strong
        return str(getattr(cert.signature_algorithm_oid, "_name", "eddsa"))
    return algorithm.name


def _is_root(cert: x509.Certificate) -> bool:
    return is_self_issued(cert) and issued_by(cert, cert)


@check("tls-signature", area="tls", requires=("tls-pem",))
def tls_signature(ctx: TlsMaterialContext) -> Outcome:
    """No MD5 or SHA-1 signatures on the leaf or intermediates."""
    judged = [c for c in ctx.certs if not _is_root(c)] or [ctx.leaf]
    rows = [{"certificate": describe(c), "signature_hash": signature_hash(c)} for c in judged]
    weak = [r for r in rows if r["signature_hash"] in WEAK_HASHES]
    details = {"certificates": rows}
    if weak:
        listed = ", ".join(f"{r['certificate']} ({r['signature_hash'].upper()})" for r in weak)
        return Outcome.failed(
            f"weak signature: {listed}",
            remedy="reissue with a SHA-256 signature (the CA must sign with SHA-256 or better; "
            "for an intermediate, get the current one from the CA)",
            details=details,
        )
    hashes = sorted({str(r["signature_hash"]) for r in rows})
    return Outcome.passed(f"signatures use {', '.join(hashes)}", details=details)
