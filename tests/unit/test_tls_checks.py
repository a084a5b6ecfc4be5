"""The certificate checks at their edges (injected clock), and tls-served against fakes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ghes_setup import facts
from ghes_setup.checks import Status
from ghes_setup.errors import InputError, MaterialError, Unreachable
from ghes_setup.tls.check_served import fingerprint
from ghes_setup.tls.probe import FailureKind, ProbeFailure, ServedChain
from ghes_setup.tls.service import (
    TlsCheckRequest,
    TlsProbeRequest,
    run_tls_check,
    run_tls_probe,
    served_fingerprints,
)
from tests.tls.corpus import (
    DAY,
    HOST,
    NOW,
    Issuer,
    build_cert,
    cert_pem,
    key_pem,
    pki,
    rsa_key,
)


def _material(tmp_path: Path, leaf: x509.Certificate) -> TlsCheckRequest:
    p = pki()
    (tmp_path / "chain.pem").write_bytes(cert_pem(leaf, p.inter.cert))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "root.pem").write_bytes(cert_pem(p.root.cert))
    return TlsCheckRequest(
        cert=tmp_path / "chain.pem",
        key=tmp_path / "key.pem",
        hostname=HOST,
        ca_file=tmp_path / "root.pem",
    )


@pytest.mark.parametrize(
    ("left", "status", "days"),
    [
        (timedelta(days=30), Status.PASS, 30),
        (timedelta(days=30) - timedelta(seconds=1), Status.WARN, 29),
        (timedelta(days=7), Status.WARN, 7),
        (timedelta(days=7) - timedelta(seconds=1), Status.FAIL, 6),
        (timedelta(seconds=-1), Status.FAIL, -1),
    ],
)
def test_expiry_thresholds_at_their_edges(
    tmp_path: Path, left: timedelta, status: Status, days: int
) -> None:
    leaf = pki().leaf(not_after=NOW + 40 * DAY)
    request = _material(tmp_path, leaf)
    at = leaf.not_valid_after_utc - left
    report = run_tls_check(
        TlsCheckRequest(**{**_fields(request), "now": at, "warn_days": 30, "crit_days": 7})
    )
    result = report.by_id("tls-expiry")
    assert result.status is status, result
    assert result.metrics["days_left"] == days
    assert result.thresholds["days_left"] == ("30:", "7:")


def test_expired_leaf_still_gets_its_chain_judged(tmp_path: Path) -> None:
    leaf = pki().leaf(not_before=NOW - 100 * DAY, not_after=NOW - DAY)
    report = run_tls_check(_material(tmp_path, leaf))
    assert report.by_id("tls-expiry").status is Status.FAIL
    complete = report.by_id("tls-chain-complete")
    assert complete.status is Status.PASS
    assert "judged_at" in complete.details


def test_custom_thresholds_are_used_and_reported(tmp_path: Path) -> None:
    leaf = pki().leaf(not_after=NOW + 50 * DAY)
    request = _material(tmp_path, leaf)
    report = run_tls_check(
        TlsCheckRequest(**{**_fields(request), "warn_days": 60, "crit_days": 10})
    )
    result = report.by_id("tls-expiry")
    assert result.status is Status.WARN
    assert "warning below 60" in result.summary
    assert result.thresholds["days_left"] == ("60:", "10:")


def test_missing_certificate_file_is_an_input_error(tmp_path: Path) -> None:
    request = _material(tmp_path, pki().leaf())
    with pytest.raises(MaterialError, match="does not exist"):
        run_tls_check(TlsCheckRequest(**{**_fields(request), "cert": tmp_path / "nope.pem"}))


@pytest.mark.parametrize("hostname", ["localhost", "10.0.0.5", "not a host", "*.ghe.example.com"])
def test_invalid_hostname_is_an_input_error(tmp_path: Path, hostname: str) -> None:
    request = _material(tmp_path, pki().leaf())
    with pytest.raises(InputError):
        run_tls_check(TlsCheckRequest(**{**_fields(request), "hostname": hostname}))


def test_warn_days_below_crit_days_is_an_input_error(tmp_path: Path) -> None:
    request = _material(tmp_path, pki().leaf())
    with pytest.raises(InputError, match="warn >= crit"):
        run_tls_check(TlsCheckRequest(**{**_fields(request), "warn_days": 3, "crit_days": 7}))


def test_unusable_ca_file_is_an_input_error(tmp_path: Path) -> None:
    request = _material(tmp_path, pki().leaf())
    (tmp_path / "bad-ca.pem").write_text("garbage")
    with pytest.raises(MaterialError, match="--ca-file"):
        run_tls_check(TlsCheckRequest(**{**_fields(request), "ca_file": tmp_path / "bad-ca.pem"}))


def test_tls_san_counts_isolation_hosts_of_the_requested_version(tmp_path: Path) -> None:
    # Without a wildcard, explicit names for 3.6 (render, no notebooks/viewscreen) are enough
    # for 3.6 but not for 3.17.
    old = facts.isolation_subdomains(facts.v("3.6"))
    leaf = pki().leaf(sans=(HOST, *(f"{label}.{HOST}" for label in old)))
    request = _material(tmp_path, leaf)
    on_36 = run_tls_check(TlsCheckRequest(**{**_fields(request), "ghes_version": facts.v("3.6")}))
    assert on_36.by_id("tls-san").status is Status.WARN
    on_317 = run_tls_check(request)
    san = on_317.by_id("tls-san")
    assert san.status is Status.FAIL
    assert f"notebooks.{HOST}" in san.details["uncovered_isolation_hosts"]


def test_tls_san_fails_names_written_with_a_trailing_dot(tmp_path: Path) -> None:
    # OpenSSL's hostname check, Go and cryptography's verifier match none of these.
    leaf = pki().leaf(sans=(f"{HOST}.", f"*.{HOST}."))
    san = run_tls_check(_material(tmp_path, leaf)).by_id("tls-san")
    assert san.status is Status.FAIL
    assert san.details["missing"] == [HOST, f"*.{HOST}"]
    assert f"'{HOST}.'" in san.summary and "matches no host" in san.summary


def test_a_leaf_not_issued_for_tls_servers_fails_tls_chain_complete(tmp_path: Path) -> None:
    leaf = pki().leaf(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    report = run_tls_check(_material(tmp_path, leaf))
    complete = report.by_id("tls-chain-complete")
    assert complete.status is Status.FAIL
    assert "is not a TLS server certificate" in complete.summary
    assert "(clientAuth) lacks serverAuth" in complete.summary
    assert "serverAuth" in (complete.remedy or "")


def test_a_leaf_without_extended_key_usage_may_serve_tls(tmp_path: Path) -> None:
    report = run_tls_check(_material(tmp_path, pki().leaf(eku=None)))
    assert report.by_id("tls-chain-complete").status is Status.PASS


def test_a_bundle_ending_in_a_cross_signed_copy_of_a_trusted_root_is_complete(
    tmp_path: Path,
) -> None:
    """The "long chain" some CAs ship: leaf, intermediate, then root R cross-signed by an
    older root that is no longer trusted. R itself is trusted: the path ends there."""
    old_key, root_key, inter_key = rsa_key(slot=2), rsa_key(slot=3), rsa_key(slot=4)
    old = Issuer(build_cert("Old Root", old_key, None, ca=True), old_key)
    root = Issuer(build_cert("New Root", root_key, None, ca=True), root_key)
    cross = build_cert("New Root", root_key, old, ca=True)
    inter = Issuer(build_cert("New Intermediate", inter_key, root, ca=True), inter_key)
    leaf_key = rsa_key()
    leaf = build_cert(HOST, leaf_key, inter)
    (tmp_path / "chain.pem").write_bytes(cert_pem(leaf, inter.cert, cross))
    (tmp_path / "key.pem").write_bytes(key_pem(leaf_key))
    (tmp_path / "root.pem").write_bytes(cert_pem(root.cert))
    request = TlsCheckRequest(
        cert=tmp_path / "chain.pem",
        key=tmp_path / "key.pem",
        hostname=HOST,
        ca_file=tmp_path / "root.pem",
    )
    complete = run_tls_check(request).by_id("tls-chain-complete")
    assert complete.status is Status.PASS, complete
    assert complete.details["anchor"] == "CN=New Root"


def _hand_built(
    key: rsa.RSAPrivateKey, issuer: Issuer | None, *, ca: bool = False, aki: bytes | None = None
) -> x509.Certificate:
    """A server certificate for HOST and *.HOST that the corpus does not make: marked as a CA
    (`ca`), or with an authority key identifier of the caller's (`aki`)."""
    from cryptography.hazmat.primitives import hashes

    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, HOST)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(11)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 90 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(HOST), x509.DNSName(f"*.{HOST}")]),
            critical=False,
        )
    )
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), False)
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())  # type: ignore[arg-type]


def test_a_server_certificate_marked_as_a_ca_is_named_not_reordered(tmp_path: Path) -> None:
    key = rsa_key()
    leaf = _hand_built(key, None, ca=True)  # openssl req -x509's default: self-signed, CA:TRUE
    (tmp_path / "self.pem").write_bytes(cert_pem(leaf))
    (tmp_path / "key.pem").write_bytes(key_pem(key))
    request = TlsCheckRequest(cert=tmp_path / "self.pem", key=tmp_path / "key.pem", hostname=HOST)
    order = run_tls_check(request).by_id("tls-chain-order")
    assert order.status is Status.FAIL
    assert "is marked as a CA" in order.summary and "CA:FALSE" in (order.remedy or "")
    assert "rebuild the bundle" not in (order.remedy or "")


def _leaf_with_authority_key_id(key_id: bytes) -> x509.Certificate:
    """A leaf of the corpus's intermediate whose AKI is `key_id` (a CA that fills it in
    wrong: the signature, names and SANs are right)."""
    return _hand_built(rsa_key(), pki().inter, aki=key_id)


def test_a_leaf_whose_authority_key_id_is_not_its_issuers_fails_tls_chain_complete(
    tmp_path: Path,
) -> None:
    # git and curl (OpenSSL) do not find the issuer; cryptography's verifier alone accepts it.
    complete = run_tls_check(_material(tmp_path, _leaf_with_authority_key_id(b"\x01" * 20)))
    result = complete.by_id("tls-chain-complete")
    assert result.status is Status.FAIL
    assert "authority key identifier" in result.summary and "OpenSSL" in result.summary


def test_served_chain_whose_authority_key_id_is_wrong_is_named(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((_leaf_with_authority_key_id(b"\x01" * 20), p.inter.cert))
    report = run_tls_probe(
        _probe_request(tmp_path, _everything_at(), subdomains=False), fetch=server
    )
    result = report.by_id("tls-served")
    assert result.status is Status.FAIL
    assert "OpenSSL clients cannot link the chain" in result.summary
    assert "reissued" in (result.remedy or "")


def _fields(request: TlsCheckRequest) -> dict[str, object]:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}


# ------------------------------------------------------------------ tls-served with fakes


class FakeResolver:
    """A resolver with a fixed table; unknown names do not resolve."""

    def __init__(self, table: Mapping[str, tuple[str, ...]], default: tuple[str, ...] = ()):
        self.table = dict(table)
        self.default = default
        self.asked: list[str] = []

    def addresses(self, host: str) -> tuple[str, ...]:
        self.asked.append(host)
        found = self.table.get(host, self.default)
        if not found:
            raise Unreachable(f"cannot resolve {host}: NXDOMAIN", hint="add a record")
        return found


class FakeServer:
    """Serves a chain per SNI name (or `default`), or fails the way a real server would."""

    def __init__(
        self,
        default: tuple[x509.Certificate, ...] | FailureKind,
        per_host: Mapping[str, tuple[x509.Certificate, ...] | FailureKind] | None = None,
        per_address: Mapping[str, FailureKind] | None = None,
    ) -> None:
        self.default = default
        self.per_host = dict(per_host or {})
        self.per_address = dict(per_address or {})
        self.calls: list[tuple[str, str, int]] = []

    def __call__(
        self, host: str, address: str, port: int, timeout: float
    ) -> ServedChain | ProbeFailure:
        self.calls.append((host, address, port))
        served = self.per_address.get(address) or self.per_host.get(host, self.default)
        if isinstance(served, FailureKind):
            return ProbeFailure(host, address, port, served, f"{address}:{port}: {served.value}")
        return ServedChain(host, address, port, served)


def _probe_request(
    tmp_path: Path, resolver: FakeResolver, *, subdomains: bool = True, ca: bool = True
) -> TlsProbeRequest:
    ca_file = None
    if ca:
        ca_file = tmp_path / "root.pem"
        ca_file.write_bytes(cert_pem(pki().root.cert))
    return TlsProbeRequest(
        hostname=HOST, resolver=resolver, port=8443, ca_file=ca_file, subdomains=subdomains
    )


def _everything_at(address: str = "10.0.0.5") -> FakeResolver:
    return FakeResolver({}, default=(address,))


def test_served_good_chain_passes_for_every_isolation_host(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((p.leaf(), p.inter.cert))
    resolver = _everything_at()
    report = run_tls_probe(_probe_request(tmp_path, resolver), fetch=server)
    result = report.by_id("tls-served")
    hosts = [h["host"] for h in result.details["hosts"]]
    assert result.status is Status.PASS, result
    assert hosts == [HOST, *facts.isolation_hosts(HOST, None)]
    assert {port for _, _, port in server.calls} == {8443}
    assert all(h["ok"] and h["days_left"] >= 88 for h in result.details["hosts"])
    assert result.metrics["days_left"] >= 88
    assert report.command == "tls probe" and report.target == HOST


def test_served_certificate_without_wildcard_fails_on_the_subdomains(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((p.leaf(sans=(HOST,)), p.inter.cert))
    report = run_tls_probe(_probe_request(tmp_path, _everything_at()), fetch=server)
    result = report.by_id("tls-served")
    assert result.status is Status.FAIL
    failing = {h["host"] for h in result.details["hosts"] if not h["ok"]}
    assert failing == set(facts.isolation_hosts(HOST, None))
    assert "name mismatch" in result.summary
    assert f"*.{HOST}" in (result.remedy or "")


def test_served_certificate_for_clients_only_is_named_as_such_not_untrusted(
    tmp_path: Path,
) -> None:
    p = pki()
    server = FakeServer((p.leaf(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)), p.inter.cert))
    report = run_tls_probe(
        _probe_request(tmp_path, _everything_at(), subdomains=False), fetch=server
    )
    result = report.by_id("tls-served")
    assert result.status is Status.FAIL
    assert "not a TLS server certificate" in result.summary and "untrusted" not in result.summary
    assert "serve a TLS server certificate" in (result.remedy or "")


def test_served_chain_without_intermediate_names_the_missing_issuer(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((p.leaf(),))
    report = run_tls_probe(
        _probe_request(tmp_path, _everything_at(), subdomains=False), fetch=server
    )
    result = report.by_id("tls-served")
    assert result.status is Status.FAIL
    assert "does not send the intermediate" in result.summary
    assert "Test Intermediate CA main" in result.summary


def test_served_private_chain_without_ca_file_is_untrusted(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((p.leaf(), p.inter.cert))
    request = _probe_request(tmp_path, _everything_at(), subdomains=False, ca=False)
    result = run_tls_probe(request, fetch=server).by_id("tls-served")
    assert result.status is Status.FAIL
    assert "untrusted chain" in result.summary


def test_served_expired_chain_fails_and_reports_negative_days(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((p.leaf(not_before=NOW - 90 * DAY, not_after=NOW - 2 * DAY), p.inter.cert))
    request = _probe_request(tmp_path, _everything_at(), subdomains=False)
    result = run_tls_probe(request, fetch=server).by_id("tls-served")
    assert result.status is Status.FAIL
    assert "expired" in result.summary
    assert result.metrics["days_left"] < 0


def test_served_chain_expiring_soon_warns(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer((p.leaf(not_after=NOW + 12 * DAY), p.inter.cert))
    request = _probe_request(tmp_path, _everything_at(), subdomains=False)
    result = run_tls_probe(request, fetch=server).by_id("tls-served")
    assert result.status is Status.WARN
    assert result.thresholds["days_left"] == ("30:", "7:")


def test_nothing_reachable_is_error_not_fail(tmp_path: Path) -> None:
    server = FakeServer(FailureKind.REFUSED)
    report = run_tls_probe(_probe_request(tmp_path, _everything_at()), fetch=server)
    result = report.by_id("tls-served")
    assert result.status is Status.ERROR
    assert "could not reach any" in result.summary
    assert result.remedy


def test_one_unreachable_address_among_good_ones_fails_naming_it(tmp_path: Path) -> None:
    p = pki()
    resolver = FakeResolver({HOST: ("10.0.0.5", "10.0.0.6")})
    server = FakeServer((p.leaf(), p.inter.cert), per_address={"10.0.0.6": FailureKind.TIMEOUT})
    request = _probe_request(tmp_path, resolver, subdomains=False)
    result = run_tls_probe(request, fetch=server).by_id("tls-served")
    assert result.status is Status.FAIL
    assert [(h["address"], h["ok"]) for h in result.details["hosts"]] == [
        ("10.0.0.5", True),
        ("10.0.0.6", False),
    ]
    assert "1 of 2 fail" in result.summary and "10.0.0.6" in result.summary


def test_unresolvable_subdomain_fails_with_the_resolver_message(tmp_path: Path) -> None:
    p = pki()
    resolver = FakeResolver({HOST: ("10.0.0.5",)})
    server = FakeServer((p.leaf(), p.inter.cert))
    result = run_tls_probe(_probe_request(tmp_path, resolver), fetch=server).by_id("tls-served")
    assert result.status is Status.FAIL
    unresolved = [h for h in result.details["hosts"] if h["address"] is None]
    assert len(unresolved) == len(facts.isolation_hosts(HOST, None))
    assert all("NXDOMAIN" in h["error"] for h in unresolved)


def test_unrecognized_name_is_reported_per_host(tmp_path: Path) -> None:
    p = pki()
    server = FakeServer(
        (p.leaf(), p.inter.cert), per_host={f"containers.{HOST}": FailureKind.UNRECOGNIZED_NAME}
    )
    result = run_tls_probe(_probe_request(tmp_path, _everything_at()), fetch=server).by_id(
        "tls-served"
    )
    assert result.status is Status.FAIL
    bad = [h["host"] for h in result.details["hosts"] if not h["ok"]]
    assert bad == [f"containers.{HOST}"]


def test_served_fingerprints_are_the_leaf_sha256_per_host(tmp_path: Path) -> None:
    p = pki()
    leaf = p.leaf()
    server = FakeServer((leaf, p.inter.cert), per_host={f"npm.{HOST}": FailureKind.REFUSED})
    found = served_fingerprints(_probe_request(tmp_path, _everything_at()), fetch=server)
    assert found[HOST] == fingerprint(leaf)
    assert found[f"npm.{HOST}"] is None
    assert len(found) == 1 + len(facts.isolation_hosts(HOST, None))
    assert len(fingerprint(leaf).split(":")) == 32
