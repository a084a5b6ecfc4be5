"""`tls-chain-order`: the bundle is leaf first, and each certificate is signed by the next.

GHES wants "the server certificate first, then the intermediates" (troubleshooting-tls-
errors.md: `cat domain.crt bundle.crt`), and so do the clients it serves it to. A bundle in
the wrong order, with duplicates or with unrelated certificates is a classic result of a CA
delivering several files (cfssl's mkbundle does it too, cloudflare/cfssl issue 790). Signatures
are checked with `verify_directly_issued_by`, not only names. A root at the end is allowed (the
GHES docs mention including it), though clients do not need it.
"""

from __future__ import annotations

from cryptography import x509

from ghes_setup.checks import Outcome, check
from ghes_setup.tls import names
from ghes_setup.tls.context import TlsMaterialContext
from ghes_setup.tls.material import describe, is_ca, is_self_issued, issued_by


def proper_order(
    certs: tuple[x509.Certificate, ...], leaf: x509.Certificate
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """(the chain from `leaf` upwards using bundle certificates, the ones left over)."""
    chain = [leaf]
    rest = [c for c in certs if c is not leaf]
    while True:
        current = chain[-1]
        if is_self_issued(current):
            break
        issuer = next((c for c in rest if issued_by(current, c)), None)
        if issuer is None:
            break
        chain.append(issuer)
        rest.remove(issuer)
    return chain, rest


@check("tls-chain-order", area="tls", requires=("tls-pem",))
def tls_chain_order(ctx: TlsMaterialContext) -> Outcome:
    """The bundle is leaf first, then each issuer in turn."""
    certs, leaf = ctx.certs, ctx.leaf
    listed = [f"{i}. {describe(c)}" for i, c in enumerate(certs, start=1)]
    details: dict[str, object] = {"bundle": listed}
    problems: list[str] = []
    if is_ca(certs[0]) and certs[0] is leaf:
        if names.covered_by(names.dns_names(leaf), ctx.hostname) is not None:
            # Not a misplaced CA: the server's own certificate says it is one (what
            # `openssl req -x509` makes unless told otherwise). Reordering cannot fix it.
            return Outcome.failed(
                f"the server certificate ({describe(leaf)}) is marked as a CA "
                "(basicConstraints CA:TRUE); TLS clients refuse a CA as a server's certificate",
                remedy="reissue it with CA:FALSE (openssl req -x509 ... -addext "
                "basicConstraints=critical,CA:FALSE), or issue one with ghes-setup tls issue",
                details={**details, "server_is_ca": True},
            )
        problems.append(
            f"the first certificate ({describe(certs[0])}) is a CA certificate, "
            "not the server certificate"
        )
    elif certs[0] is not leaf:
        position = next(i for i, c in enumerate(certs, start=1) if c is leaf)
        problems.append(f"the server certificate ({describe(leaf)}) is #{position}, not first")
    seen: list[x509.Certificate] = []
    for index, cert in enumerate(certs, start=1):
        if cert in seen:
            problems.append(f"#{index} ({describe(cert)}) appears twice")
        seen.append(cert)
    if not problems:
        for index in range(len(certs) - 1):
            cert, nxt = certs[index], certs[index + 1]
            if not issued_by(cert, nxt):
                problems.append(
                    f"#{index + 2} ({describe(nxt)}) did not sign #{index + 1} ({describe(cert)})"
                )
                break
    if not problems:
        root = len(certs) > 1 and is_self_issued(certs[-1])
        details["root_included"] = root
        if len(certs) == 1:
            summary = "the bundle holds the server certificate only (no intermediates)"
        else:
            summary = f"{len(certs)} certificates, leaf first, each signed by the next"
            if root:
                summary += " (ends with the root)"
        return Outcome.passed(summary, details=details)
    chain, rest = proper_order(certs, leaf)
    order = ", ".join(f"{i}. {describe(c)}" for i, c in enumerate(chain, start=1))
    remedy = f"rebuild the bundle in this order: {order}"
    if rest:
        unique = list(dict.fromkeys(describe(c) for c in rest))
        remedy += "; remove " + ", ".join(unique)
    remedy += " (e.g. cat server.crt intermediate.crt > bundle.pem)"
    details["expected_order"] = [describe(c) for c in chain]
    return Outcome.failed("; ".join(problems), remedy=remedy, details=details)
