"""`tls-san`: the certificate covers HOSTNAME and `*.HOSTNAME`.

Subdomain isolation serves every isolation host (`containers.HOSTNAME`, `npm.HOSTNAME`, ...)
with this certificate, so GHES asks for SANs "both HOSTNAME and *.HOSTNAME" (enabling-
subdomain-isolation.md). A wildcard alone never covers the apex (one-label rule, RFC 6125),
and a wildcard one level up (`*.example.com` for `ghe.example.com`) covers the apex but none of
the isolation hosts. Names are matched on SAN dNSNames only; the CN is ignored, as clients do.
When `*.HOSTNAME` is missing but every isolation host of the target version is listed one by
one, the check warns instead of failing: it works today, but a later release may add a
subdomain (3.7 added notebooks and viewscreen) that the certificate lacks.
"""

from __future__ import annotations

from ghes_setup import facts
from ghes_setup.checks import Outcome, check
from ghes_setup.tls import names
from ghes_setup.tls.context import TlsMaterialContext
from ghes_setup.tls.material import describe


@check("tls-san", area="tls", requires=("tls-pem",))
def tls_san(ctx: TlsMaterialContext) -> Outcome:
    """The certificate's SANs cover HOSTNAME and *.HOSTNAME."""
    leaf, host = ctx.leaf, ctx.hostname
    wildcard = f"*.{host}"
    sans = names.san_dns_names(leaf)
    if sans is None:
        cns = names.common_names(leaf)
        return Outcome.failed(
            f"{describe(leaf)} has no subjectAltName extension"
            + (f"; its CN ({', '.join(cns)}) is ignored by TLS clients" if cns else ""),
            remedy=f"reissue the certificate with SANs {host} and {wildcard}",
            details={"san": [], "cn": list(cns)},
        )
    details: dict[str, object] = {"san": list(sans), "required": [host, wildcard]}
    missing: list[str] = []
    if names.covered_by(sans, host) is None:
        missing.append(host)
    has_wildcard = names.covers_wildcard(sans, host)
    isolation = facts.isolation_hosts(host, ctx.ghes_version)
    uncovered = [h for h in isolation if names.covered_by(sans, h) is None]
    if not has_wildcard and uncovered:
        missing.append(wildcard)
        details["uncovered_isolation_hosts"] = uncovered
    if missing:
        hints = []
        if host in missing and any(names.is_wildcard(s) for s in sans):
            hints.append(f"a wildcard never covers the bare {host}")
        upper = [s for s in sans if names.is_wildcard(s) and names.matches(s, host)]
        if upper:
            hints.append(f"{upper[0]} covers {host} itself but no name under it")
        unusable = [s for s in sans if names.presented(s) is None]
        if unusable:
            hints.append(
                f"{', '.join(repr(s) for s in unusable)} matches no host: TLS clients compare "
                "a certificate's names as written (no trailing dot, spaces or non-ASCII)"
            )
        invalid = [
            s for s in sans if "*" in s and not names.valid_wildcard(names.presented(s) or "")
        ]
        if invalid:
            hints.append(
                f"{', '.join(invalid)} is not a valid wildcard (one whole left-most label only)"
            )
        summary = f"the certificate does not cover {' and '.join(missing)}"
        if hints:
            summary += f" ({'; '.join(hints)})"
        return Outcome.failed(
            summary,
            remedy=f"reissue the certificate with SANs {host} and {wildcard} "
            f"(missing: {', '.join(missing)})",
            details={**details, "missing": missing},
        )
    if not has_wildcard:
        version = ctx.ghes_version or facts.DEFAULT_GHES_VERSION
        return Outcome.warned(
            f"no {wildcard}, but every isolation host of GHES {version} is listed",
            remedy=f"prefer a certificate with {wildcard}: a later GHES release may add "
            "subdomains this certificate lacks",
            details=details,
        )
    return Outcome.passed(f"covers {host} and {wildcard}", details=details)
