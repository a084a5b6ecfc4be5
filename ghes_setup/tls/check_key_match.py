"""`tls-key-match`: the private key belongs to the leaf certificate.

The appliance refuses a key that does not match the certificate (troubleshooting-tls-errors.md);
this is the most common mix-up after a renewal (new certificate, old key). Compared on the
SubjectPublicKeyInfo, so it works for any key type. When the key belongs to another
certificate of the bundle, the remedy says which.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ghes_setup.checks import Outcome, check
from ghes_setup.tls.context import TlsMaterialContext
from ghes_setup.tls.material import describe


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches(cert: x509.Certificate, private_key: object) -> bool:
    try:
        return _spki(cert.public_key()) == _spki(private_key.public_key())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, TypeError):
        return False


@check("tls-key-match", area="tls", requires=("tls-pem",))
def tls_key_match(ctx: TlsMaterialContext) -> Outcome:
    """The private key belongs to the leaf certificate."""
    leaf, key = ctx.leaf, ctx.key_file
    details = {"certificate": describe(leaf), "key_file": str(key.path)}
    if key_matches(leaf, key.key):
        return Outcome.passed(
            f"the key in {key.path.name} belongs to {describe(leaf)}", details=details
        )
    other = next((c for c in ctx.certs if c is not leaf and key_matches(c, key.key)), None)
    if other is not None:
        return Outcome.failed(
            f"the key belongs to {describe(other)}, not to the leaf {describe(leaf)}",
            remedy="give the private key of the server certificate, not of a CA certificate",
            details=details,
        )
    return Outcome.failed(
        f"the key in {key.path.name} does not belong to {describe(leaf)}",
        remedy="give the key that the certificate was issued for (after a renewal: the new "
        "key generated with the new CSR), or reissue the certificate for this key",
        details=details,
    )
