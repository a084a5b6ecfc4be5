"""Host-name matching against a certificate, the way TLS clients do it (RFC 6125 / RFC 9525).

Rules, and why:
- Only subjectAltName dNSName entries count when the certificate has a SAN extension; the
  subject CN is then ignored (RFC 6125 §6.4.4). Browsers, Go (docker, the GitHub CLI) and
  OpenSSL's hostname check all ignore the CN completely today, so `tls-san` treats a
  certificate without SANs as failing; `dns_names(cert, cn_fallback=True)` exists for display.
- A wildcard is only the whole left-most label (`*.ghe.example.com`) and matches exactly one
  label: `a.ghe.example.com`, never `ghe.example.com` itself nor `a.b.ghe.example.com`. This is
  why GHES needs both HOSTNAME and `*.HOSTNAME` in the certificate (enabling-subdomain-
  isolation.md). Partial-label wildcards (`f*.example.com`) and wildcards over a single label
  (`*.com`) never match.
- Comparison is case-insensitive. The host asked for is turned into A-labels (IDNA), so a
  Unicode host name and its `xn--` form are the same host. A certificate's name is taken as
  it is written: a SAN dNSName is an IA5String that clients compare byte for byte (but for
  case), so one with a trailing dot, a space or non-ASCII characters matches nothing
  (OpenSSL's hostname check, Go's and `cryptography`'s verifier all refuse them).

No I/O here and no third-party imports except `cryptography`'s X.509 types.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import NameOID

from ghes_setup.net import to_ascii as to_ascii  # certificate names compare in A-labels


def is_wildcard(pattern: str) -> bool:
    return pattern.startswith("*.")


def valid_wildcard(pattern: str) -> bool:
    """`*.a.b`: the whole left-most label, nothing else wild, at least two labels under it."""
    labels = pattern.split(".")
    return (
        labels[0] == "*"
        and len(labels) >= 3
        and all(labels[1:])
        and not any("*" in label for label in labels[1:])
    )


def presented(name: str) -> str | None:
    """A certificate's name as a client compares it (lower-case), or None when no client
    matches it: not ASCII, a trailing dot, surrounding spaces."""
    if not name.isascii() or name != name.strip() or name.endswith("."):
        return None
    return name.lower()


def matches(pattern: str, host: str) -> bool:
    """Does the presented identifier `pattern` (a SAN dNSName) cover `host`?"""
    p = presented(pattern)
    try:
        h = to_ascii(host)
    except ValueError:
        return False
    if not p or not h or "*" in h:
        return False
    if "*" not in p:
        return p == h
    if not valid_wildcard(p):
        return False
    p_labels = p.split(".")
    h_labels = h.split(".")
    return len(p_labels) == len(h_labels) and bool(h_labels[0]) and p_labels[1:] == h_labels[1:]


def san_dns_names(cert: x509.Certificate) -> tuple[str, ...] | None:
    """The SAN dNSName entries, or None when the certificate has no SAN extension at all."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    return tuple(ext.value.get_values_for_type(x509.DNSName))


def common_names(cert: x509.Certificate) -> tuple[str, ...]:
    return tuple(
        str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )


def dns_names(cert: x509.Certificate, *, cn_fallback: bool = False) -> tuple[str, ...]:
    """The names a client would match: SAN dNSNames; the CN only if asked and no SAN exists."""
    sans = san_dns_names(cert)
    if sans is not None:
        return sans
    return common_names(cert) if cn_fallback else ()


def covered_by(names: Iterable[str], host: str) -> str | None:
    """The first name in `names` that covers `host`, or None."""
    for name in names:
        if matches(name, host):
            return name
    return None


def covers_wildcard(names: Iterable[str], hostname: str) -> bool:
    """Is the literal `*.HOSTNAME` among the names (what GHES's docs ask for)?"""
    wanted = "*." + to_ascii(hostname)
    return any(presented(n) == wanted for n in names)
