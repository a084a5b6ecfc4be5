"""`tls-pem`: both files are PEM, parse, and the key has no passphrase.

GHES takes "unencrypted PEM" only (configuring-tls.md, troubleshooting-tls-errors.md); every
way of getting that wrong has a precise message from `tls.material`. Every other certificate
check requires this one.
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.tls.context import TlsMaterialContext
from ghes_setup.tls.material import LoadFailure, describe


@check("tls-pem", area="tls")
def tls_pem(ctx: TlsMaterialContext) -> Outcome:
    """Certificate bundle and key are unencrypted PEM that parse."""
    failures = [f for f in (ctx.bundle, ctx.key) if isinstance(f, LoadFailure)]
    if failures:
        return Outcome.failed(
            "; ".join(f.message for f in failures),
            remedy="; ".join(f.remedy for f in failures),
            details={
                "problems": [
                    {"file": str(f.path), "role": f.role, "kind": f.kind.value} for f in failures
                ]
            },
        )
    bundle, key = ctx.bundle, ctx.key_file
    assert not isinstance(bundle, LoadFailure)
    details = {
        "certificates": [describe(c) for c in bundle.certs],
        "key_format": key.pkcs,
    }
    count = len(bundle.certs)
    summary = f"{count} certificate{'s' if count != 1 else ''} and an unencrypted private key"
    if bundle.contains_private_key:
        return Outcome.warned(
            summary + f"; {bundle.path} also holds a private key",
            remedy=f"keep the key only in {key.path}: remove it from {bundle.path}, which "
            "is meant to be shared",
            details=details,
        )
    return Outcome.passed(summary, details=details)
