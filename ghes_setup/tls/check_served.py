"""`tls-served`: what the appliance actually serves, per SNI name, verifies for that name.

For HOSTNAME and (with subdomain isolation) every isolation host of the target release
(`facts.isolation_hosts`), concurrently, on every address the run's resolver gives: handshake
with SNI = the name, read the full presented chain (`tls.probe`), then verify it for that
exact name with `cryptography.x509.verification` against the system store plus `--ca-file`
(one-label wildcard rule, serverAuth, validity now). A host fails when the handshake is
refused or the name is not recognised, the chain is untrusted (the remedy says when an
intermediate is not sent, also when only `--ca-file` holds it: clients trust the root, not the
admin's CA file), the name does not match, or a certificate clients use (`trust.used_path`: not
a cross-signed copy of a trusted root sent after it) is expired or not yet valid. The check is
`error` only when nothing could be reached at all. `metrics.days_left` is the minimum over
hosts, with the same thresholds as `tls-expiry`.

`served_fingerprints` gives the SHA-256 of each host's served leaf, for upgrade runbooks
that compare before and after.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError
from ghes_setup.facts import HTTPS_PORT
from ghes_setup.net import AddressResolver
from ghes_setup.tls import names
from ghes_setup.tls.check_chain_complete import anchor_out_of_date, judging_time, where_from
from ghes_setup.tls.check_key_type import RSASSA_PSS
from ghes_setup.tls.context import DEFAULT_CRIT_DAYS, DEFAULT_WARN_DAYS, day_thresholds, days_left
from ghes_setup.tls.material import (
    describe,
    extensions_problem,
    is_self_issued,
    issued_by,
    key_id_problem,
    names_problem,
    purpose_problem,
)
from ghes_setup.tls.probe import FailureKind, ProbeFailure, ServedChain, fetch_chain
from ghes_setup.tls.trust import Trust, Verified, used_path, verify_chain

ChainFetcher = Callable[[str, str, int, float], ServedChain | ProbeFailure]
MAX_PARALLEL = 32


@dataclass(frozen=True, slots=True)
class TlsProbeContext:
    hostname: str
    hosts: tuple[str, ...]
    resolver: AddressResolver
    trust: Trust
    now: datetime
    port: int = HTTPS_PORT
    timeout: float = 5.0
    warn_days: int = DEFAULT_WARN_DAYS
    crit_days: int = DEFAULT_CRIT_DAYS
    # The handshake: `tls.probe.fetch_chain`, or a fake in unit tests.
    fetch: ChainFetcher = field(default=fetch_chain)


@dataclass(frozen=True, slots=True)
class HostResult:
    host: str
    address: str | None
    ok: bool
    error: str | None = None
    kind: str | None = None  # why it is not ok: a FailureKind value, name, untrusted, expired...
    reachable: bool = True
    days_left: int | None = None
    subject: str | None = None
    issuer: str | None = None
    fingerprint_sha256: str | None = None
    names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "ok": self.ok,
            "error": self.error,
            "days_left": self.days_left,
            "subject": self.subject,
            "issuer": self.issuer,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


def fingerprint(cert: x509.Certificate) -> str:
    """`AB:CD:...`, the form `openssl x509 -noout -fingerprint -sha256` prints."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def judge(served: ServedChain, trust: Trust, now: datetime) -> HostResult:
    """Verify one presented chain for its SNI name."""
    certs = served.certs
    leaf = certs[0]
    malformed = next(
        (
            f"certificate {i} has {p}"
            for i, c in enumerate(certs, 1)
            if (p := extensions_problem(c) or names_problem(c))
        ),
        None,
    )
    if malformed is not None:  # every later step reads the extensions: judge nothing else
        return HostResult(
            host=served.host,
            address=served.address,
            ok=False,
            error=f"the server sends a certificate ghes-setup cannot read: {malformed}",
            kind="malformed",
            fingerprint_sha256=fingerprint(leaf),
        )
    path, _unused = used_path(leaf, certs[1:], trust)
    relevant = [leaf, *(c for c in path[1:] if not is_self_issued(c))]
    presented = names.dns_names(leaf)
    base: dict[str, Any] = {
        "host": served.host,
        "address": served.address,
        "days_left": min(days_left(c, now) for c in relevant),
        "subject": describe(leaf),
        "issuer": leaf.issuer.rfc4514_string(),
        "fingerprint_sha256": fingerprint(leaf),
        "names": presented,
    }
    problems: list[tuple[str, str]] = []
    if names.covered_by(presented, served.host) is None:
        listed = ", ".join(presented) if presented else "no DNS names"
        problems.append(("name", f"name mismatch: the certificate covers {listed}"))
    purpose = purpose_problem(leaf)
    if purpose is not None:
        problems.append(("purpose", f"not a TLS server certificate: {purpose}"))
    if leaf.public_key_algorithm_oid.dotted_string == RSASSA_PSS:
        problems.append(
            ("key-type", "an RSA-PSS key (id-RSASSA-PSS): Go clients (docker, the GitHub CLI) "
             "cannot complete a handshake with it")
        )  # fmt: skip
    for cert in relevant:
        which = "the certificate" if cert is leaf else f"intermediate {describe(cert)}"
        if cert.not_valid_before_utc > now:
            problems.append(
                ("not-yet-valid", f"{which} is not valid before {cert.not_valid_before_utc:%F}")
            )
        elif cert.not_valid_after_utc <= now:
            problems.append(("expired", f"{which} expired on {cert.not_valid_after_utc:%F}"))
    # With a problem found already, still say whether the chain itself is trusted, judged
    # when it was valid and without the server policy; else the full policy, now.
    strict = not problems
    verified = verify_chain(
        leaf,
        list(certs[1:]),
        trust,
        at=now if strict else judging_time(tuple(relevant), now),
        server_name=served.host if strict else None,
    )
    if not verified.ok:
        problems.append(
            _stale_anchor(path, trust, now)
            or ("untrusted", _untrusted(certs, trust, verified.reason))
        )
    elif verified.borrowed:
        problems.append(("incomplete", _borrowed(verified, trust)))
    elif strict and (unlinked := key_id_problem(verified.chain)) is not None:
        problems.append(("key-id", f"OpenSSL clients cannot link the chain: {unlinked}"))
    if problems:
        return HostResult(
            ok=False,
            error="; ".join(text for _, text in problems),
            kind=problems[0][0],
            **base,
        )
    return HostResult(ok=True, **base)


def _stale_anchor(
    path: Sequence[x509.Certificate], trust: Trust, now: datetime
) -> tuple[str, str] | None:
    """The root the path reaches, when it is expired or not yet valid (clients refuse the
    chain, whatever the server sends); None otherwise."""
    top = path[-1]
    roots = trust.roots()
    anchor = top if is_self_issued(top) and roots.contains(top) else roots.issuer_of(top)
    if anchor is None or (when := anchor_out_of_date(anchor, trust, now)) is None:
        return None
    return (
        "stale-root",
        f"untrusted chain: the root {describe(anchor)} ({where_from(trust, anchor)}) {when}",
    )


def _borrowed(verified: Verified, trust: Trust) -> str:
    """The chain verifies only with intermediates of --ca-file: the server does not send them."""
    missing = ", ".join(describe(c) for c in verified.borrowed)
    top = verified.chain[-1]
    trusting = f"the root {describe(top)}" if is_self_issued(top) else "your root"
    return (
        f"untrusted chain: the server does not send the intermediate {missing}, which only "
        f"{trust.ca_file_label} holds; clients that trust {trusting} fail (unable to get "
        "local issuer certificate)"
    )


def _untrusted(certs: Sequence[x509.Certificate], trust: Trust, reason: str | None) -> str:
    """Name the missing link when there is one; else the verifier's reason."""
    current = certs[0]
    pool = list(certs[1:])
    for _ in range(len(certs) + 1):
        if is_self_issued(current):
            if not trust.contains(current) and trust.issuer_of(current) is None:
                return f"untrusted chain: it ends at {describe(current)}, a root not trusted here"
            break
        if trust.issuer_of(current) is not None:
            break
        issuer = next((c for c in pool if issued_by(current, c)), None)
        if issuer is None:
            return (
                f"untrusted chain: the server does not send the intermediate "
                f"{current.issuer.rfc4514_string()} (issuer of {describe(current)})"
            )
        pool.remove(issuer)
        current = issuer
    return f"untrusted chain: {reason}"


def failure_result(failure: ProbeFailure) -> HostResult:
    return HostResult(
        host=failure.host,
        address=failure.address,
        ok=False,
        error=failure.message,
        kind=failure.kind.value,
        reachable=not failure.kind.network,
    )


def probe_hosts(ctx: TlsProbeContext) -> list[HostResult]:
    """Resolve and probe every host on every address, concurrently; results in host order."""
    targets: list[tuple[str, str | None, str | None]] = []

    def resolve(host: str) -> tuple[str, tuple[str, ...] | str]:
        try:
            return host, ctx.resolver.addresses(host) or "no address"
        except GhesSetupError as exc:
            return host, exc.message

    workers = max(1, min(MAX_PARALLEL, len(ctx.hosts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        resolved = dict(pool.map(resolve, ctx.hosts))
        for host in ctx.hosts:
            addresses = resolved[host]
            if isinstance(addresses, str):
                targets.append((host, None, addresses))
            else:
                targets.extend((host, address, None) for address in addresses)

        def run(target: tuple[str, str | None, str | None]) -> HostResult:
            host, address, error = target
            if address is None:
                return failure_result(
                    ProbeFailure(host, None, ctx.port, FailureKind.RESOLVE, error or "no address")
                )
            outcome = ctx.fetch(host, address, ctx.port, ctx.timeout)
            if isinstance(outcome, ProbeFailure):
                return failure_result(outcome)
            return judge(outcome, ctx.trust, ctx.now)

        return list(pool.map(run, targets))


_REMEDIES = {
    "name": "serve a certificate whose SANs cover {host} and *.{host} (validate it first "
    "with ghes-setup tls check), then apply the configuration",
    "purpose": "serve a TLS server certificate: extended key usage serverAuth, key usage "
    "digitalSignature and keyEncipherment, CA:FALSE (ghes-setup tls csr asks for them)",
    "key-type": "serve a certificate for a plain RSA key (rsaEncryption), 2048 bits or more "
    "(ghes-setup tls csr)",
    "malformed": "have the CA issue the certificate again (a malformed name or subjectAltName "
    "also makes TLS clients refuse it)",
    "key-id": "get the certificate reissued by the CA: its authority key identifier must be the "
    "issuer's subject key identifier (git and curl need it)",
    "untrusted": "serve the full chain (leaf first, then the intermediates); for a private CA "
    "pass it with --ca-file",
    "stale-root": "renew the root CA certificate (or check the clocks), give the new one to "
    "the appliance's clients and pass it with --ca-file",
    "incomplete": "append the intermediates to the uploaded certificate (leaf first, then the "
    "intermediates) and apply: clients trust your root, not the intermediates of --ca-file",
    "expired": "renew the certificate and upload it",
    "not-yet-valid": "check the appliance's and the CA's clocks, or wait",
    FailureKind.UNRECOGNIZED_NAME.value: "the server has no certificate for this name: check "
    "that TLS and subdomain isolation are enabled on the appliance",
    FailureKind.HANDSHAKE.value: "check the appliance's TLS settings (protocols, certificate)",
    FailureKind.NO_CERTIFICATE.value: "check the appliance's TLS settings",
}
_NETWORK_REMEDY = (
    "check that the appliance listens on port {port} at that address and that the names "
    "resolve (ghes-setup dns check; --resolve/--address to pin an address)"
)


def _reason_text(r: HostResult) -> str:
    """The failure without the host's own name and address, so that hosts failing for the
    same reason group together ("the server does not serve the name (TLS alert ...)")."""
    text = r.error or "failed"
    if r.address:
        text = re.sub(rf"^\[?{re.escape(r.address)}\]?:\d+: ", "", text)
    text = text.replace(f" {r.host} ", " ").replace(f" {r.host}", "")
    return text.strip() or "failed"


def _grouped(bad: list[HostResult], everything: list[HostResult]) -> str:
    """`host, host and 14 more: why; host: why`: one entry per distinct reason."""
    per_host = {r.host: sum(1 for o in everything if o.host == r.host) for r in bad}
    groups: dict[str, list[str]] = {}
    for r in bad:
        label = f"{r.host} ({r.address})" if per_host[r.host] > 1 and r.address else r.host
        groups.setdefault(_reason_text(r), []).append(label)
    parts = []
    for reason, labels in list(groups.items())[:3]:
        shown = ", ".join(labels[:3])
        if len(labels) > 3:
            shown += f" and {len(labels) - 3} more"
        parts.append(f"{shown}: {reason}")
    if len(groups) > 3:
        parts.append(f"and {len(groups) - 3} other reasons (see details.hosts)")
    return "; ".join(parts)


@check("tls-served", area="tls")
def tls_served(ctx: TlsProbeContext) -> Outcome:
    """Every SNI host serves a chain that verifies for its name."""
    return judge_hosts(ctx, probe_hosts(ctx))


def judge_hosts(ctx: TlsProbeContext, results: list[HostResult]) -> Outcome:
    """tls-served's verdict on probe results (pipelines that also need the fingerprints probe
    once and call this and `fingerprints` on the same results)."""
    details = {"port": ctx.port, "hosts": [r.as_dict() for r in results]}
    days = [r.days_left for r in results if r.days_left is not None]
    metrics: dict[str, float] = {"days_left": min(days)} if days else {}
    kw: dict[str, Any] = {
        "details": details,
        "metrics": metrics,
        "thresholds": day_thresholds(ctx.warn_days, ctx.crit_days) if metrics else {},
    }
    if not any(r.reachable for r in results):
        first = results[0].error if results else "no hosts"
        return Outcome.errored(
            f"could not reach any of {len(ctx.hosts)} host(s) on port {ctx.port}: {first}",
            remedy=_NETWORK_REMEDY.format(port=ctx.port),
            **kw,
        )
    bad = [r for r in results if not r.ok]
    if bad:
        kinds = list(dict.fromkeys(r.kind or "" for r in bad))
        remedies = [
            (_REMEDIES.get(k) or _NETWORK_REMEDY).format(port=ctx.port, host=ctx.hostname)
            for k in kinds
            if k
        ]
        return Outcome.failed(
            f"{len(bad)} of {len(results)} fail: {_grouped(bad, results)}",
            remedy="; ".join(dict.fromkeys(remedies)),
            **kw,
        )
    low = min(days) if days else 0
    count = len(results)
    soonest = min(results, key=lambda r: r.days_left if r.days_left is not None else 1 << 30)
    if low < ctx.crit_days:
        return Outcome.failed(
            f"{soonest.host}: the served chain expires in {low} days "
            f"(critical below {ctx.crit_days})",
            remedy="renew the certificate and upload it now",
            **kw,
        )
    if low < ctx.warn_days:
        return Outcome.warned(
            f"{soonest.host}: the served chain expires in {low} days "
            f"(warning below {ctx.warn_days})",
            remedy="renew the certificate and upload it soon",
            **kw,
        )
    return Outcome.passed(
        f"{count} host{'s serve' if count != 1 else ' serves'} a valid chain for its name; "
        f"{low} days left",
        **kw,
    )


def served_fingerprints(ctx: TlsProbeContext) -> dict[str, str | None]:
    """SNI host -> SHA-256 fingerprint of the leaf it serves (None if nothing was served).

    With several addresses per host, the first address that presented a certificate counts.
    """
    return fingerprints(ctx, probe_hosts(ctx))


def fingerprints(ctx: TlsProbeContext, results: list[HostResult]) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(ctx.hosts)
    for result in results:
        if found[result.host] is None and result.fingerprint_sha256:
            found[result.host] = result.fingerprint_sha256
    return found
