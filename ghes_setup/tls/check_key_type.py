"""`tls-key-type`: the key is RSA (rsaEncryption) of at least `facts.MIN_RSA_BITS` bits.

GHES documents RSA keys only (configuring-tls.md); ECDSA is "not supported per docs" although
a third-party script installs ECC certificates (facts.ECDSA_ACCEPTED, UNVERIFIED), so an EC key
fails with that source quoted. The minimum size is not documented either (facts.MIN_RSA_BITS).
Both the key file and the leaf certificate's public key are judged: they are the same key
when `tls-key-match` passes, and reporting both keeps this check meaningful when it does not.

An RSA-PSS key (id-RSASSA-PSS, `openssl genpkey -algorithm RSA-PSS`) fails too: `cryptography`
loads it as RSA, but it may only sign with PSS and Go's TLS (docker, the GitHub CLI) supports
no such certificate, so the handshake fails ("tls: handshake failure").
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from ghes_setup import facts
from ghes_setup.checks import Outcome, check
from ghes_setup.tls.context import TlsMaterialContext

# id-RSASSA-PSS (RFC 4055) as a certificate's public key algorithm.
RSASSA_PSS = "1.2.840.113549.1.1.10"


def describe_key(key: object, *, rsa_pss: bool = False) -> tuple[str, int | None]:
    """("RSA", 2048), ("RSA-PSS", 2048), ("EC secp256r1", 256), ("Ed25519", None), ...

    `rsa_pss`: the key's algorithm is id-RSASSA-PSS, which `cryptography` loads as RSA."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return ("RSA-PSS" if rsa_pss else "RSA"), key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.key_size
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519", None
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448", None
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def min_rsa_bits() -> int:
    value = facts.MIN_RSA_BITS.value
    return value if isinstance(value, int) else 2048


def _judge(label: str, kind: str, bits: int | None) -> tuple[bool, str]:
    size = f" {bits}-bit" if bits else ""
    minimum = min_rsa_bits()
    if kind == "RSA" and bits is not None and bits >= minimum:
        return True, f"{label} is RSA{size}"
    if kind == "RSA":
        return False, f"{label} is RSA{size}, below {minimum} bits"
    if kind == "RSA-PSS":
        return False, f"{label} is RSA-PSS{size} (id-RSASSA-PSS), not a plain RSA key"
    return False, f"{label} is {kind}{size}, not RSA"


@check("tls-key-type", area="tls", requires=("tls-pem",))
def tls_key_type(ctx: TlsMaterialContext) -> Outcome:
    """The key is RSA and large enough."""
    minimum = min_rsa_bits()
    leaf = ctx.leaf
    # `cryptography` loads an RSA-PSS key as RSA; the certificate's algorithm tells them apart
    # (a CA issues it for the CSR's key, so a PSS key has a PSS certificate).
    pss = leaf.public_key_algorithm_oid.dotted_string == RSASSA_PSS
    kind, bits = describe_key(ctx.key_file.key, rsa_pss=pss)
    public = describe_key(leaf.public_key(), rsa_pss=pss)
    if (kind, bits) == public:
        judged = [_judge("the key", kind, bits)]
    else:
        judged = [
            _judge("the private key", kind, bits),
            _judge("the certificate's public key", *public),
        ]
    details = {
        "key_type": kind,
        "key_bits": bits,
        "minimum_rsa_bits": minimum,
        "minimum_source": facts.MIN_RSA_BITS.source,
    }
    bad = [text for ok, text in judged if not ok]
    if not bad:
        return Outcome.passed(judged[0][1], details=details)
    summary = "; ".join(dict.fromkeys(bad))
    if "RSA-PSS" in (kind, public[0]):
        remedy = (
            "make a plain RSA key (rsaEncryption, not RSA-PSS) of "
            f"{minimum} bits or more and have the certificate reissued for it: "
            "ghes-setup tls csr HOSTNAME --out DIR (or openssl genpkey -algorithm RSA); Go "
            "clients (docker, the GitHub CLI) cannot complete a handshake with an RSA-PSS key"
        )
    elif any("not RSA" in text for text in bad):
        ecdsa = facts.ECDSA_ACCEPTED
        remedy = (
            f"GHES takes RSA keys ({ecdsa.source}): issue the certificate for a new RSA key "
            f"of {minimum} bits or more (ghes-setup tls csr HOSTNAME --out DIR)"
        )
        details["ecdsa_accepted_source"] = ecdsa.source
    else:
        remedy = (
            f"issue the certificate for a new RSA key of at least {minimum} bits "
            f"({facts.MIN_RSA_BITS.source}): ghes-setup tls csr HOSTNAME --out DIR"
        )
    return Outcome.failed(summary, remedy=remedy, details=details)
