"""The trust anchors a chain is verified against: the system store plus `--ca-file`.

docs/reference/architecture.md §4: "TLS verification is always on; `--ca-file` adds a private CA".
The system store is the file OpenSSL uses by default (Debian: /etc/ssl/certs/ca-certificates.crt);
when that is missing or empty (minimal containers) certifi's bundle, which httpx already depends on,
stands in. Parsed once per process.

Verification itself is `cryptography.x509.verification` (the same WebPKI rules the Rust
`webpki` crate applies): `verify_chain` wraps it and turns its exception into a reason.
"""

from __future__ import annotations

import re
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.x509 import verification

from ghes_setup.tls.material import read_certificates

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


@lru_cache(maxsize=1)
def system_roots() -> tuple[x509.Certificate, ...]:
    paths = ssl.get_default_verify_paths()
    candidates = [paths.cafile, paths.openssl_cafile]
    try:
        import certifi  # a dependency of httpx; only a fallback

        candidates.append(certifi.where())
    except ImportError:  # pragma: no cover
        pass
    for candidate in candidates:
        if not candidate or not Path(candidate).is_file():
            continue
        try:
            data = Path(candidate).read_bytes()
        except OSError:
            continue
        certs = parse_store(data)
        if certs:
            return certs
    return ()


def parse_store(data: bytes) -> tuple[x509.Certificate, ...]:
    """Every certificate of a PEM store that parses; skip (silently) the ones that do not.

    Distribution stores carry a few old roots that newer `cryptography` warns about (e.g. a
    non-positive serial number); they are not ours to judge, so the warning is suppressed.
    """
    certs = []
    for block in _PEM_CERT.findall(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return tuple(certs)


@dataclass(frozen=True, slots=True)
class Trust:
    """Trust anchors for one run: the system's and the admin's own (`--ca-file`)."""

    system: tuple[x509.Certificate, ...]
    extra: tuple[x509.Certificate, ...] = ()
    ca_file: Path | None = None

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return self.extra + self.system

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        from ghes_setup.tls.material import issued_by

        for anchor in self.anchors:
            if issued_by(cert, anchor):
                return anchor
        return None

    def contains(self, cert: x509.Certificate) -> bool:
        return any(anchor == cert for anchor in self.anchors)

    def same_ca(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The anchor that is `cert`'s CA under another certificate (a cross-signed copy of a
        trusted root: the same name and key), or None. A path reaching `cert` reaches it."""
        key = cert.public_key()
        for anchor in self.anchors:
            if anchor.subject == cert.subject and anchor.public_key() == key:
                return anchor
        return None


def load_trust(ca_file: Path | None, *, include_system: bool = True) -> Trust:
    """System roots plus the certificates of `ca_file`; raises MaterialError if it is bad."""
    extra = read_certificates(ca_file, what="--ca-file") if ca_file is not None else ()
    return Trust(system_roots() if include_system else (), extra, ca_file)


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    chain: tuple[x509.Certificate, ...] = ()
    reason: str | None = None


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust: Trust,
    *,
    at: datetime,
    server_name: str | None = None,
) -> Verified:
    """Build and verify a path from `leaf` to one of the trust anchors.

    With `server_name`: the full TLS-server policy (name under the one-label wildcard rule,
    serverAuth EKU, validity at `at`). Without: the path and the CA rules only, judging the
    leaf's own extensions leniently (its names and dates are other checks' business).
    """
    if not trust.anchors:
        return Verified(False, reason="no trust anchors: the system store is empty; use --ca-file")
    builder = verification.PolicyBuilder().store(_store(trust.anchors)).time(at)
    try:
        if server_name is not None:
            server = builder.build_server_verifier(x509.DNSName(server_name))
            chain = server.verify(leaf, list(intermediates))
        else:
            client = builder.extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            ).build_client_verifier()
            chain = client.verify(leaf, list(intermediates)).chain
    except verification.VerificationError as exc:
        return Verified(False, reason=_reason(exc))
    except ValueError as exc:  # e.g. a server name that is not a valid DNS name
        return Verified(False, reason=str(exc))
    return Verified(True, tuple(chain))


@lru_cache(maxsize=8)
def _store(anchors: tuple[x509.Certificate, ...]) -> verification.Store:
    """Building a Store from the ~150 system roots costs more than a verification: once per
    set of anchors, not once per host (tls probe --subdomains verifies ~20 chains)."""
    return verification.Store(list(anchors))


def _reason(exc: Exception) -> str:
    text = str(exc)
    # "validation failed: <why> (encountered processing <Certificate(...)>)": keep the why.
    text = text.removeprefix("validation failed: ")
    cut = text.find(" (encountered processing")
    return text[:cut] if cut > 0 else text
