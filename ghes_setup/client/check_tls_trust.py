"""client-tls-trust: what the appliance serves verifies against THIS machine's trust store.

`docker login containers.HOSTNAME` answering `x509: certificate signed by unknown authority`
is the most common registry failure on runners: the appliance's certificate comes from a
private CA the runner's operating system does not trust. This check handshakes with each
needed host (SNI = the name, on the address this machine resolves), reads the chain the
server presents (the tls area's probe) and verifies it for that name against the system
store only (`SSL_CERT_FILE`, else the distribution's bundle), never against `--ca-file`.

On failure it names the CA that is missing (the root the server sent, or the issuer it did
not send) with its SHA-256 fingerprint, and prints the command that installs it into this
machine's store; client-ca-paths covers the clients that do not read the system store.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

from ghes_setup.checks import Outcome, check
from ghes_setup.client.context import ClientContext
from ghes_setup.client.trust import missing_issuer, os_store_command, served, system_trust


@check("client-tls-trust", area="client")
def client_tls_trust(ctx: ClientContext) -> Outcome:
    """The served certificates verify against this machine's system trust store."""
    results = served(ctx)
    trust = system_trust(ctx)
    details: dict[str, object] = {
        "store": ctx.environ.get("SSL_CERT_FILE") or "system default",
        "anchors": len(trust.anchors),
        "hosts": [s.result.as_dict() for s in results],
    }
    reached = [s for s in results if s.chain]
    if not reached:
        first = results[0].result
        return Outcome.errored(
            f"no TLS handshake with any name: {first.host}: {first.error}",
            "make the names resolve and reach the appliance first (see client-dns, client-proxy)",
            details=details,
        )
    missing = {s.host: missing_issuer(s.chain, trust) for s in reached}
    untrusted = [s for s in reached if missing[s.host] is not None]
    if untrusted:
        issuer, cert = missing[untrusted[0].host] or ("(unknown)", None)
        hosts = ", ".join(s.host for s in untrusted)
        details["missing_issuer"] = issuer
        if cert is not None:
            details["missing_issuer_sha256"] = cert.fingerprint(hashes.SHA256()).hex(":").upper()
        fetch = (
            ""
            if ctx.ca_file is not None
            else " (get that CA's certificate from your PKI, or run with --site whose "
            "connection.ca_file names it, to print exact paths)"
        )
        return Outcome.failed(
            f"{hosts}: certificate signed by unknown authority for this machine: the issuer "
            f"{issuer} is not in its trust store ({details['store']})",
            f"install the CA certificate of {issuer}{fetch} into the system store: "
            f"`{os_store_command(ctx)}`; for docker, podman and npm see client-ca-paths",
            details=details,
        )
    bad = [s for s in results if not s.result.ok]
    if bad:
        text = "; ".join(f"{s.host}: {s.result.error}" for s in bad[:3])
        return Outcome.failed(
            f"trusted CA, but {text}",
            "serve a certificate for HOSTNAME and *.HOSTNAME that is valid now "
            "(ghes-setup tls check / tls probe from the admin host)",
            details=details,
        )
    served_by = reached[0].result.issuer
    return Outcome.passed(
        f"{len(reached)} name(s) verify against this machine's trust store (issuer {served_by})",
        details=details,
    )
