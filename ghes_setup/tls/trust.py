"""The trust anchors a chain is verified against: the system store plus `--ca-file`.

docs/reference/architecture.md §4: "TLS verification is always on; `--ca-file` adds a private CA".
The system store is the file OpenSSL uses by default (Debian: /etc/ssl/certs/ca-certificates.crt);
when that is missing or empty (minimal containers) certifi's bundle, which httpx already depends on,
stands in. Parsed once per process.

Verification itself is `cryptography.x509.verification` (the same WebPKI rules the Rust
`webpki` crate applies): `verify_chain` wraps it and turns its exception into a reason. Two
departures, both to judge a chain the way the appliance's clients (OpenSSL: git, curl, node;
GnuTLS; Go) do:

- a CA certificate without a keyUsage extension is accepted (the common `openssl req -x509`
  root has none; RFC 5280 allows any use then), one whose keyUsage lacks keyCertSign is not;
- a `--ca-file` certificate that is not self-issued is an intermediate, not a root: a path
  that needs it although the chain given does not carry it verifies, but `Verified.borrowed`
  names it. The appliance serves the bundle it is given; its clients trust roots.
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

from ghes_setup.tls.material import describe, is_self_issued, issued_by, read_certificates

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

    @property
    def pinned(self) -> tuple[x509.Certificate, ...]:
        """The `--ca-file` certificates that are not self-issued: intermediates, which the
        server must send (clients of the appliance trust roots, not the admin's CA file)."""
        return tuple(c for c in self.extra if not is_self_issued(c))

    def roots(self) -> Trust:
        """These anchors without the pinned intermediates: what a client trusting roots has."""
        return Trust(self.system, tuple(c for c in self.extra if is_self_issued(c)), self.ca_file)

    @property
    def ca_file_label(self) -> str:
        return f"--ca-file {self.ca_file}" if self.ca_file else "the given CA file"


def load_trust(
    ca_file: Path | None, *, include_system: bool = True, source: str = "--ca-file"
) -> Trust:
    """System roots plus the certificates of `ca_file`; raises MaterialError if it is bad,
    naming `source`: where the path came from (the flag, the variable or the site file's key)."""
    extra = read_certificates(ca_file, what=source) if ca_file is not None else ()
    return Trust(system_roots() if include_system else (), extra, ca_file)


def used_path(
    leaf: x509.Certificate, others: Sequence[x509.Certificate], trust: Trust
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """(the certificates of a chain that clients use, the rest), in chain order.

    From `leaf`, each issuer in turn among `others`, up to the first certificate a trusted
    root issued: clients stop there (OpenSSL looks in its trust store first, GnuTLS and Go
    end the path at a trusted certificate). What follows, e.g. a cross-signed copy of that
    root, expired or not (the Let's Encrypt ISRG Root X1 / DST Root CA X3 shape), is never
    used; neither is a certificate that issued nothing on the way. A chain that reaches no
    trusted root is followed as far as it links.
    """
    roots = trust.roots()
    path = [leaf]
    rest = list(others)
    current = leaf
    while not is_self_issued(current) and roots.issuer_of(current) is None:
        issuer = next((c for c in rest if issued_by(current, c)), None)
        if issuer is None:
            break
        path.append(issuer)
        rest.remove(issuer)
        current = issuer
    return path, rest


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    chain: tuple[x509.Certificate, ...] = ()
    reason: str | None = None
    # Intermediates of `chain` that only --ca-file holds: the chain given lacks them.
    borrowed: tuple[x509.Certificate, ...] = ()


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

    With intermediates in `--ca-file` (`Trust.pinned`) the path is first sought to a root
    with `intermediates` alone, as a client of the appliance does; only when that fails do
    the pinned ones help, and `borrowed` then names those the path needs and `intermediates`
    lacks. A pinned intermediate is the anchor itself only when no trusted root issued it.
    """
    pinned = trust.pinned
    if not pinned:
        return _verify(leaf, intermediates, trust, at, server_name)
    roots = trust.roots()
    own = _verify(leaf, intermediates, roots, at, server_name)
    if own.ok:
        return own
    full = _verify(leaf, intermediates, trust, at, server_name)
    if not full.ok or is_self_issued(full.chain[-1]):
        return full
    lent = _verify(leaf, [*intermediates, *pinned], roots, at, server_name)
    if lent.ok:
        given = list(intermediates)
        borrowed = tuple(c for c in lent.chain[1:-1] if c not in given)
        return Verified(True, lent.chain, borrowed=borrowed)
    top = full.chain[-1]
    if roots.issuer_of(top) is not None:
        # Its root is trusted too: clients trusting that root judge the path to it.
        return lent
    if top in intermediates:
        return full  # an intermediate pinned on purpose, and the chain carries it
    return Verified(True, full.chain, borrowed=(top,))


def _verify(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust: Trust,
    at: datetime,
    server_name: str | None,
) -> Verified:
    if not trust.anchors:
        return Verified(False, reason="no trust anchors: the system store is empty; use --ca-file")
    builder = verification.PolicyBuilder().store(_store(trust.anchors)).time(at)
    try:
        if server_name is not None:
            server = builder.extension_policies(
                ca_policy=ca_policy(), ee_policy=verification.ExtensionPolicy.webpki_defaults_ee()
            ).build_server_verifier(x509.DNSName(server_name))
            chain = server.verify(leaf, list(intermediates))
        else:
            client = builder.extension_policies(
                ca_policy=ca_policy(), ee_policy=verification.ExtensionPolicy.permit_all()
            ).build_client_verifier()
            chain = client.verify(leaf, list(intermediates)).chain
    except verification.VerificationError as exc:
        return Verified(False, reason=_reason(exc))
    except ValueError as exc:  # e.g. a server name that is not a valid DNS name
        return Verified(False, reason=str(exc))
    return Verified(True, tuple(chain))


def ca_policy() -> verification.ExtensionPolicy:
    """WebPKI's rules for CA certificates, with keyUsage optional as clients have it.

    OpenSSL (`-purpose sslserver`, curl, git, node), GnuTLS and Go accept a CA certificate,
    root or intermediate, that has no keyUsage extension (RFC 5280: any use), and refuse one
    whose keyUsage lacks keyCertSign; WebPKI requires the extension. A private root made with
    `openssl req -x509` has none.
    """
    return verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.KeyUsage, verification.Criticality.AGNOSTIC, _may_sign_certificates
    )


def _may_sign_certificates(
    _policy: verification.Policy, cert: x509.Certificate, usage: x509.KeyUsage | None
) -> None:
    if usage is not None and not usage.key_cert_sign:
        raise ValueError(
            f"the key usage of {describe(cert)} does not include certificate signing (keyCertSign)"
        )


@lru_cache(maxsize=8)
def _store(anchors: tuple[x509.Certificate, ...]) -> verification.Store:
    """Building a Store from the ~150 system roots costs more than a verification: once per
    set of anchors, not once per host (tls probe --subdomains verifies ~20 chains)."""
    return verification.Store(list(anchors))


def _reason(exc: Exception) -> str:
    text = str(exc)
    # "validation failed: <why> (encountered processing <Certificate(...)>)": keep the why.
    text = text.removeprefix("validation failed: ")
    text = re.sub(r"Python extension validator failed: \w+: ", "", text)
    cut = text.find(" (encountered processing")
    return text[:cut] if cut > 0 else text
