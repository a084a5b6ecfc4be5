"""client-ca-paths: a private CA is installed where each client on this machine looks for it.

The operating system's store is not the only place: docker's daemon adds
`/etc/docker/certs.d/containers.HOSTNAME/ca.crt` (docs.docker.com "Verify repository client
with certificates"), podman, skopeo and buildah read `/etc/containers/certs.d/...`
(containers-certs.d(5)), npm (Node.js) uses its own bundled roots plus `NODE_EXTRA_CA_CERTS`,
and `SSL_CERT_FILE` / `REQUESTS_CA_BUNDLE` replace the store for OpenSSL, Go and Python
requests when set. A CA in the OS store is enough for docker and podman; the others need
their own place.

Which CA: the site file's `[connection] ca_file` when given, else the root the served chain
leads to (an anchor of this store, or a root the server sends). A CA that ships in the public
(Mozilla) bundle needs nothing: `pass`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from ghes_setup.checks import Outcome, check
from ghes_setup.client.context import ClientContext
from ghes_setup.client.trust import (
    bundle_holds,
    ca_certificates,
    ca_path_text,
    certs_d_command,
    chain_anchor,
    missing_issuer,
    os_store_command,
    served,
    system_trust,
)
from ghes_setup.tls.material import describe

DOCKER_CERTS_D = "/etc/docker/certs.d"
CONTAINERS_CERTS_D = "/etc/containers/certs.d"


@dataclass(frozen=True, slots=True)
class Location:
    client: str
    where: str
    state: str  # installed | missing | covered | not used
    fix: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"client": self.client, "where": self.where, "state": self.state, "fix": self.fix}


def _holds_file(ctx: ClientContext, path: str, ca: x509.Certificate) -> bool:
    try:
        return bundle_holds(ctx.path(path).read_bytes(), ca)
    except OSError:
        return False


def _the_ca(ctx: ClientContext) -> tuple[x509.Certificate | None, str]:
    """(the CA certificate, where it came from) or (None, why not)."""
    given = ca_certificates(ctx)
    if isinstance(given, str):
        return None, given
    trust = system_trust(ctx)
    if given:
        # The one of the file's certificates the chain leads to, else its last (the root).
        for s in served(ctx):
            for cert in given:
                if s.chain and any(c == cert or c.issuer == cert.subject for c in s.chain):
                    return cert, f"ca_file {ctx.ca_file}"
        return given[-1], f"ca_file {ctx.ca_file}"
    for s in served(ctx):
        if not s.chain:
            continue
        anchor = chain_anchor(s.chain, trust)
        if anchor is not None:
            return anchor, f"the root {s.host}'s chain leads to"
        named = missing_issuer(s.chain, trust)
        if named is not None:
            return None, (
                f"the server does not send its root ({named[0]}) and this machine does not have it"
            )
    return None, "no chain was served (see client-tls-trust)"


def locations(ctx: ClientContext, ca: x509.Certificate) -> list[Location]:
    trust = system_trust(ctx)
    in_store = trust.contains(ca)
    env = ctx.environ
    out = [
        Location(
            "system store (OpenSSL, Go, curl, git)",
            env.get("SSL_CERT_FILE") or "the distribution's CA bundle",
            "installed" if in_store else "missing",
            None if in_store else os_store_command(ctx),
        )
    ]
    for client, names, base in (
        ("docker", ("docker", "dockerd"), DOCKER_CERTS_D),
        ("podman/skopeo/buildah", ("podman", "skopeo", "buildah"), CONTAINERS_CERTS_D),
    ):
        path = f"{base}/{ctx.registry_authority}/ca.crt"
        present = any(ctx.which(n) for n in names) or ctx.path(base).is_dir()
        if _holds_file(ctx, path, ca):
            state, fix = "installed", None
        elif not present:
            state, fix = "not used", None
        elif in_store:
            state, fix = "covered", None  # reads the system store too
        else:
            state, fix = "missing", certs_d_command(ctx, base)
        out.append(Location(client, path, state, fix))
    node = env.get("NODE_EXTRA_CA_CERTS")
    if node:
        out.append(_named_bundle(ctx, ca, "npm/node", "NODE_EXTRA_CA_CERTS", node))
    elif ctx.which("node") or ctx.which("npm"):
        out.append(
            Location(
                "npm/node",
                "NODE_EXTRA_CA_CERTS (unset; node ignores the system store)",
                "missing",
                f"export NODE_EXTRA_CA_CERTS={ca_path_text(ctx)}",
            )
        )
    bundle = env.get("REQUESTS_CA_BUNDLE")  # replaces certifi for Python requests
    if bundle:
        out.append(_named_bundle(ctx, ca, "python requests", "REQUESTS_CA_BUNDLE", bundle))
    return out


def _named_bundle(
    ctx: ClientContext, ca: x509.Certificate, client: str, variable: str, path: str
) -> Location:
    """A bundle file an environment variable names: installed when it holds the CA, else the
    command that appends it."""
    ok = _holds_file(ctx, path, ca)
    return Location(
        client,
        f"{variable}={path}",
        "installed" if ok else "missing",
        None if ok else f"cat {ca_path_text(ctx)} >> {path}",
    )


@check("client-ca-paths", area="client")
def client_ca_paths(ctx: ClientContext) -> Outcome:
    """A private CA is installed where each client on this machine looks."""
    ca, origin = _the_ca(ctx)
    if ca is None:
        return Outcome.warned(
            f"cannot tell which CA to look for: {origin}",
            "run with --site whose site file names the appliance's CA (connection.ca_file)",
        )
    name = describe(ca)
    if any(ca == root for root in ctx.public_roots()):
        return Outcome.passed(
            f"{name} is a public CA (in the Mozilla bundle): every client trusts it by default",
            details={"ca": name, "origin": origin, "public": True},
        )
    found = locations(ctx, ca)
    details = {
        "ca": name,
        "origin": origin,
        "public": False,
        "locations": [loc.as_dict() for loc in found],
    }
    missing = [loc for loc in found if loc.state == "missing"]
    if missing:
        return Outcome.failed(
            f"the private CA {name} is missing for: "
            + ", ".join(f"{loc.client} ({loc.where})" for loc in missing),
            "; ".join(f"{loc.client}: `{loc.fix}`" for loc in missing),
            details=details,
        )
    used = [f"{loc.client}" for loc in found if loc.state in ("installed", "covered")]
    return Outcome.passed(
        f"the private CA {name} is installed for: {', '.join(used)}", details=details
    )
