"""Shared by client-tls-trust and client-ca-paths: the served chains, the CA they need, and the
commands that install a CA where each client looks.

The chains are fetched once per run with the tls area's probe (`tls.probe.fetch_chain`) on the
address THIS machine resolves, and judged with the tls area's `judge` against this machine's
system store only: the store OpenSSL and Go read (`SSL_CERT_FILE` when set, else
/etc/ssl/certs/ca-certificates.crt on Debian). Never `--ca-file`: the question is whether this
machine trusts the appliance, not whether the admin can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509

from ghes_setup.client.check_dns import resolve_all
from ghes_setup.client.context import ClientContext
from ghes_setup.errors import GhesSetupError
from ghes_setup.tls.check_served import HostResult, failure_result, judge
from ghes_setup.tls.material import is_self_issued, issued_by, read_certificates
from ghes_setup.tls.probe import FailureKind, ProbeFailure
from ghes_setup.tls.trust import Trust

CA_NAME = "ghes-ca.crt"
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Served:
    host: str
    result: HostResult
    chain: tuple[x509.Certificate, ...] = ()


def system_trust(ctx: ClientContext) -> Trust:
    return ctx.once("trust", lambda: Trust(ctx.trust_roots()))


def served(ctx: ClientContext) -> list[Served]:
    """Each needed host's chain, as served to this machine, judged against its store."""

    def compute() -> list[Served]:
        answers = ctx.once("dns", lambda: resolve_all(ctx))
        trust = system_trust(ctx)
        out = []
        for host in ctx.hosts:
            addresses, error = answers[host]
            if not addresses:
                failure = ProbeFailure(
                    host, None, ctx.https_port, FailureKind.RESOLVE, error or "no address"
                )
                out.append(Served(host, failure_result(failure)))
                continue
            got = ctx.fetch(host, addresses[0], ctx.https_port, ctx.timeout)
            if isinstance(got, ProbeFailure):
                out.append(Served(host, failure_result(got)))
            else:
                out.append(Served(host, judge(got, trust, ctx.now), got.certs))
        return out

    return ctx.once("served", compute)


def missing_issuer(
    chain: tuple[x509.Certificate, ...], trust: Trust
) -> tuple[str, x509.Certificate | None] | None:
    """The CA this machine would need, as (name, the certificate when the server sent it).

    Walks from the leaf up the served certificates; None when the chain reaches an anchor
    of `trust` (then it is untrusted for another reason: name, dates).
    """
    if not chain:
        return None
    current = chain[0]
    pool = list(chain[1:])
    for _ in range(len(chain) + 1):
        if trust.issuer_of(current) is not None or trust.contains(current):
            return None
        if is_self_issued(current):
            return current.subject.rfc4514_string(), current
        issuer = next((c for c in pool if issued_by(current, c)), None)
        if issuer is None:
            return current.issuer.rfc4514_string(), None
        pool.remove(issuer)
        current = issuer
    return None


def chain_anchor(chain: tuple[x509.Certificate, ...], trust: Trust) -> x509.Certificate | None:
    """The root a chain leads to: the anchor of `trust` that issues it, or a sent root."""
    for cert in reversed(chain):
        anchor = trust.issuer_of(cert)
        if anchor is not None:
            return anchor
    last = chain[-1] if chain else None
    return last if last is not None and is_self_issued(last) else None


def ca_certificates(ctx: ClientContext) -> tuple[x509.Certificate, ...] | str:
    """The certificates of the site's `ca_file`, or why they cannot be read."""
    if ctx.ca_file is None:
        return ()
    try:
        return read_certificates(ctx.ca_file, what="ca_file")
    except GhesSetupError as exc:
        return exc.message


def bundle_holds(text: bytes, cert: x509.Certificate) -> bool:
    for block in _PEM_CERT.findall(text):
        try:
            if x509.load_pem_x509_certificate(block) == cert:
                return True
        except ValueError:
            continue
    return False


def ca_path_text(ctx: ClientContext) -> str:
    return str(ctx.ca_file) if ctx.ca_file is not None else "CA.crt"


def os_store_command(ctx: ClientContext) -> str:
    """The command that adds the CA to the operating system's store here."""
    ca = ca_path_text(ctx)
    sudo = ctx.sudo()
    bundle = ctx.environ.get("SSL_CERT_FILE")
    if bundle:  # OpenSSL and Go read this file instead of the distribution's store
        return f"cat {ca} | {sudo}tee -a {bundle} >/dev/null"
    if ctx.which("update-ca-trust") and not ctx.which("update-ca-certificates"):
        return f"{sudo}cp {ca} /etc/pki/ca-trust/source/anchors/{CA_NAME} && {sudo}update-ca-trust"
    return (
        f"{sudo}cp {ca} /usr/local/share/ca-certificates/{CA_NAME} && {sudo}update-ca-certificates"
    )


def certs_d_command(ctx: ClientContext, base: str) -> str:
    ca = ca_path_text(ctx)
    sudo = ctx.sudo()
    folder = f"{base}/{ctx.registry_authority}"
    return f"{sudo}mkdir -p {folder} && {sudo}cp {ca} {folder}/ca.crt"
