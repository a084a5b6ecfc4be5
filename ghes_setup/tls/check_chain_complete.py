"""`tls-chain-complete`: the bundle leads from the leaf to a trusted root.

Trusted means the system store or the admin's `--ca-file` (docs/reference/architecture.md §4). The
most common failure is a missing intermediate: the appliance then serves a chain that browsers
sometimes repair from cache and `docker`, `git` and `npm` never do. The remedy names the issuer that
is missing (and where the CA publishes it, if the certificate says so). The final verdict comes
from `cryptography.x509.verification`, i.e. WebPKI path building and CA rules; names and
dates are left to `tls-san` and `tls-expiry` (when a certificate of the bundle is outside its
validity the path is judged at a moment when all of them are valid, and the details say so).
Two things the bundle cannot be excused for: a trust anchor outside its validity now (clients
refuse the chain now, whatever the bundle), and an intermediate that only `--ca-file` holds
(the appliance serves the bundle; its clients trust the root, not the admin's CA file).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from ghes_setup.checks import Outcome, check
from ghes_setup.tls.check_chain_order import proper_order
from ghes_setup.tls.context import TlsMaterialContext
from ghes_setup.tls.material import describe, is_self_issued, key_id_problem, purpose_problem
from ghes_setup.tls.trust import Trust, Verified, verify_chain

# What a TLS server certificate carries: what `ghes-setup tls csr` asks for and `tls issue` sets.
PURPOSE_REMEDY = (
    "reissue it as a TLS server certificate: extended key usage serverAuth (TLS Web Server "
    "Authentication), key usage digitalSignature and keyEncipherment, CA:FALSE; ghes-setup "
    "tls csr asks for them"
)


def judging_time(certs: tuple[x509.Certificate, ...], now: datetime) -> datetime:
    """`now` if every certificate is valid now, else a moment when all of them are (if any)."""
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start <= now <= end or start >= end:
        return now
    return start + min(timedelta(minutes=1), (end - start) / 2)


def _out_of_date(
    certs: tuple[x509.Certificate, ...], at: datetime
) -> tuple[x509.Certificate, str] | None:
    """The first certificate not valid at `at`, with "expired on DATE" / "is not valid before
    DATE"; None when every one is valid then."""
    for cert in certs:
        if cert.not_valid_after_utc < at:
            return cert, f"expired on {cert.not_valid_after_utc:%Y-%m-%d}"
        if cert.not_valid_before_utc > at:
            return cert, f"is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
    return None


def ca_issuers_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def where_from(trust: Trust, anchor: x509.Certificate) -> str:
    """Where a trust anchor comes from, for messages."""
    if any(anchor == c for c in trust.extra):
        return trust.ca_file_label
    return "the system trust store"


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _current(anchor: x509.Certificate, trust: Trust, now: datetime) -> bool:
    """Whether `anchor`, or another trusted certificate of the same CA (name and key: a
    renewed root), is valid `now`."""
    key = anchor.public_key()
    return _valid_at(anchor, now) or any(
        a.subject == anchor.subject and a.public_key() == key and _valid_at(a, now)
        for a in trust.anchors
    )


def anchor_out_of_date(anchor: x509.Certificate, trust: Trust, now: datetime) -> str | None:
    """`expired on DATE (certificate has expired)`, or the like, when the trust anchor (and
    every renewed copy of it) is outside its validity `now`; None when it is current.
    Clients refuse the chain then, whatever the bundle holds."""
    if _current(anchor, trust, now):
        return None
    if anchor.not_valid_before_utc > now:
        return (
            f"is not valid before {anchor.not_valid_before_utc:%Y-%m-%d} "
            "(certificate is not yet valid)"
        )
    return f"expired on {anchor.not_valid_after_utc:%Y-%m-%d} (certificate has expired)"


def _stale_anchor(
    anchor: x509.Certificate, trust: Trust, now: datetime, details: dict[str, object]
) -> Outcome:
    """A trust anchor outside its validity: every client refuses the chain now."""
    when = anchor_out_of_date(anchor, trust, now) or "is outside its validity"
    where = where_from(trust, anchor)
    if where == "the system trust store":
        remedy = "get a chain to a current root from your CA (or update the system's CA store)"
    else:
        remedy = (
            f"renew your root CA certificate {describe(anchor)} (or check the clocks), give the "
            "new one to the appliance's clients, and pass it with --ca-file"
        )
    kind = "root" if is_self_issued(anchor) else "trust anchor"
    return Outcome.failed(
        f"the chain reaches {describe(anchor)} from {where}, but that {kind} {when}: curl, git "
        "and other clients refuse the chain",
        remedy=remedy,
        details={**details, "anchor": describe(anchor), "expired": describe(anchor)},
    )


def _borrowed(
    verified: Verified, leaf: x509.Certificate, trust: Trust, details: dict[str, object]
) -> Outcome:
    """The path needs intermediates that only --ca-file holds: the bundle is incomplete."""
    missing = ", ".join(describe(c) for c in verified.borrowed)
    first = verified.borrowed[0]
    below = verified.chain[verified.chain.index(first) - 1]
    top = verified.chain[-1]
    details = {
        **details,
        "missing_issuer": first.subject.rfc4514_string(),
        "from_ca_file": [describe(c) for c in verified.borrowed],
    }
    if is_self_issued(top):
        why = (
            f"clients that trust the root {describe(top)} fail (curl and git: unable to get "
            "local issuer certificate)"
        )
        keep = ""
    else:
        # The CA file pins the intermediate itself, with no root above it: still the bundle's.
        why = (
            f"{trust.ca_file_label} holds it as a trust anchor, but it is not a root (not "
            "self-issued), so it counts as an intermediate the server must send: clients that "
            "trust your root fail (curl and git: unable to get local issuer certificate)"
        )
        keep = "; pass the root CA (self-signed) with --ca-file"
    urls = ca_issuers_urls(below)
    where = f" (your CA publishes it at {', '.join(urls)})" if urls else ""
    return Outcome.failed(
        f"incomplete chain: the bundle lacks the intermediate {missing}, which only "
        f"{trust.ca_file_label} holds; the appliance serves the bundle as it is, and {why}",
        remedy=(
            f"append the intermediate {missing}{where} after {describe(leaf)} in the bundle "
            f"(cat server.crt intermediate.crt > bundle.pem){keep}"
        ),
        details=details,
    )


@check("tls-chain-complete", area="tls", requires=("tls-pem", "tls-key-type", "tls-signature"))
def tls_chain_complete(ctx: TlsMaterialContext) -> Outcome:
    """The chain reaches a trusted root (system store or --ca-file)."""
    certs, leaf, trust = ctx.certs, ctx.leaf, ctx.trust
    chain, _rest = proper_order(certs, leaf)
    # Clients stop at the first certificate a trusted root is or issued: what the bundle sends
    # after it (a cross-signed copy of that root, and the old root that signed it, expired or
    # not: the "AddTrust" shape) is never used, so it is not judged either.
    roots = trust.roots()
    for index, cert in enumerate(chain):
        if roots.contains(cert) or roots.issuer_of(cert) is not None:
            chain = chain[: index + 1]
            break
    top = chain[-1]
    details: dict[str, object] = {"path": [describe(c) for c in chain]}
    anchor: x509.Certificate | None
    if is_self_issued(top):
        anchor = top if trust.contains(top) else trust.issuer_of(top)
        if anchor is None:
            return Outcome.failed(
                f"the chain ends at {describe(top)}, a root that is not trusted here",
                remedy=(
                    f"if {describe(top)} is your private root CA, pass it with --ca-file "
                    "(clients of the appliance must trust it too; install it on the appliance "
                    "with ghe-ssl-ca-certificate-install); otherwise get the chain to a "
                    "public root from your CA"
                ),
                details=details,
            )
    else:
        # A bundle may end in a cross-signed copy of a trusted root (the "long chain" some
        # CAs ship): the path stops at the root's own certificate, and verifies there.
        anchor = trust.issuer_of(top) or trust.same_ca(top)
        if anchor is None:
            missing = top.issuer.rfc4514_string()
            urls = ca_issuers_urls(top)
            where = f" (your CA publishes it at {', '.join(urls)})" if urls else ""
            details["missing_issuer"] = missing
            if top is leaf:
                # The leaf's issuer is practically never a root: an intermediate is missing.
                return Outcome.failed(
                    f"incomplete chain: the bundle lacks the intermediate {missing}, "
                    f"the issuer of {describe(top)}",
                    remedy=(
                        f"append the intermediate certificate {missing}{where} after "
                        f"{describe(top)} (cat server.crt intermediate.crt > bundle.pem); if "
                        f"{missing} is your private root CA, pass it with --ca-file instead"
                    ),
                    details=details,
                )
            return Outcome.failed(
                f"the chain stops at {describe(top)}: its issuer {missing} is neither in the "
                "bundle nor trusted here",
                remedy=(
                    f"if {missing} is your private root CA, pass it with --ca-file (and make "
                    "the appliance's clients trust it); otherwise append the intermediate "
                    f"{missing}{where} to the bundle"
                ),
                details=details,
            )
    purpose = purpose_problem(leaf)
    if purpose is not None:
        # The path-only verification below permits any purpose: the server's own is checked
        # here, as every TLS client checks it.
        return Outcome.failed(
            f"{describe(leaf)} is not a TLS server certificate: {purpose}",
            remedy=PURPOSE_REMEDY,
            details={**details, "purpose": purpose},
        )
    # Judged now, unless a certificate of the bundle's path is outside its validity: then at a
    # moment when all of them (and the anchor) are. A trust anchor outside its validity now
    # never moves that moment: clients refuse the chain now ("certificate has expired").
    dated = (*chain, anchor) if anchor is not None and anchor not in chain else tuple(chain)
    anchor_now = anchor is None or _valid_at(anchor, ctx.now)
    at = judging_time(dated if anchor_now else tuple(chain), ctx.now)
    if at != ctx.now:
        details["judged_at"] = at.isoformat()
    verified = verify_chain(leaf, [c for c in certs if c is not leaf], trust, at=at)
    if not verified.ok:
        stale = _out_of_date(dated, at)
        if stale is not None and anchor is not None and stale[0] is anchor:
            return _stale_anchor(anchor, trust, ctx.now, details)
        if stale is not None:
            # No moment when every certificate is valid: the news is the date, not the trust
            # (tls-expiry says the same about the bundle; this names the certificate).
            cert, when = stale
            return Outcome.failed(
                f"the chain to {describe(anchor)} does not verify: {describe(cert)} {when}",
                remedy="renew the expired certificate (or get the current chain from your CA), "
                "then run ghes-setup tls check again",
                details={**details, "expired": describe(cert)},
            )
        return Outcome.failed(
            f"the chain to {describe(anchor)} does not verify: {verified.reason}",
            remedy="get a chain from your CA that current TLS clients accept",
            details=details,
        )
    if verified.chain and not _current(verified.chain[-1], trust, ctx.now):
        return _stale_anchor(verified.chain[-1], trust, ctx.now, details)
    if verified.borrowed:
        return _borrowed(verified, leaf, trust, details)
    root = verified.chain[-1] if verified.chain else anchor
    details["path"] = [describe(c) for c in verified.chain]
    details["anchor"] = describe(root)
    unlinked = key_id_problem(verified.chain)
    if unlinked is not None:
        return Outcome.failed(
            f"the chain reaches {describe(root)}, but {unlinked}: git, curl and other "
            "OpenSSL clients do not find that issuer",
            remedy="get the certificate reissued by the CA (its authority key identifier must "
            "be the issuer's subject key identifier)",
            details={**details, "key_id_mismatch": unlinked},
        )
    return Outcome.passed(
        f"the chain reaches {describe(root)} from {where_from(trust, root)}", details=details
    )
