"""Trust-anchor edge cases of tls-chain-complete, tls-expiry and tls-served, judged the way the
appliance's clients (curl, git, node: OpenSSL; GnuTLS; Go) judge them; and where a bad file
path came from (exit 3 names the flag, the variable or the site file's key)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from ghes_setup.checks import CheckResult, Status
from ghes_setup.config.site import load_site
from ghes_setup.errors import MaterialError
from ghes_setup.tls.probe import ProbeFailure, ServedChain
from ghes_setup.tls.service import (
    TlsCheckRequest,
    TlsProbeRequest,
    run_tls_check,
    run_tls_probe,
)
from tests.conftest import CliRunner, assert_no_traceback
from tests.tls.corpus import (
    DAY,
    HOST,
    NOW,
    Issuer,
    build_cert,
    cert_pem,
    key_pem,
    key_usage,
    pki,
    rsa_key,
)

CERT_SIGN = key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
NO_CERT_SIGN = key_usage(digital_signature=True, crl_sign=True)


def make_ca(
    cn: str,
    key: rsa.RSAPrivateKey,
    issuer: Issuer | None = None,
    *,
    usage: x509.KeyUsage | None = CERT_SIGN,
    not_before: datetime = NOW - 30 * DAY,
    not_after: datetime = NOW + 900 * DAY,
) -> Issuer:
    """A CA certificate with the keyUsage given (None: no extension, as `openssl req -x509`
    makes a root)."""
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return Issuer(builder.sign(signer, hashes.SHA256()), key)  # type: ignore[arg-type]


def _request(tmp_path: Path, chain: tuple[x509.Certificate, ...], ca: bytes) -> TlsCheckRequest:
    (tmp_path / "chain.pem").write_bytes(cert_pem(*chain))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "ca.pem").write_bytes(ca)
    return TlsCheckRequest(
        cert=tmp_path / "chain.pem",
        key=tmp_path / "key.pem",
        hostname=HOST,
        ca_file=tmp_path / "ca.pem",
    )


class Serves:
    """A fake handshake presenting `chain` for every name."""

    def __init__(self, *chain: x509.Certificate) -> None:
        self.chain = chain

    def __call__(
        self, host: str, address: str, port: int, timeout: float
    ) -> ServedChain | ProbeFailure:
        return ServedChain(host, address, port, self.chain)


class At:
    def addresses(self, host: str) -> tuple[str, ...]:
        return ("10.0.0.5",)


def _served(tmp_path: Path, chain: tuple[x509.Certificate, ...], ca: bytes) -> CheckResult:
    (tmp_path / "probe-ca.pem").write_bytes(ca)
    request = TlsProbeRequest(hostname=HOST, resolver=At(), ca_file=tmp_path / "probe-ca.pem")
    return run_tls_probe(request, fetch=Serves(*chain)).by_id("tls-served")


# ------------------------------------------------------------------ intermediates in --ca-file


def test_an_intermediate_only_in_the_ca_file_is_missing_from_the_bundle(tmp_path: Path) -> None:
    """GHES serves the bundle; clients that trust the root never see --ca-file's intermediate
    (curl and git: "unable to get local issuer certificate")."""
    p = pki()
    request = _request(tmp_path, (p.leaf(),), cert_pem(p.root.cert, p.inter.cert))
    report = run_tls_check(request)
    complete = report.by_id("tls-chain-complete")
    assert complete.status is Status.FAIL, complete
    assert "the bundle lacks the intermediate CN=Test Intermediate CA main" in complete.summary
    assert "only --ca-file" in complete.summary and "CN=Test Root CA main" in complete.summary
    assert "unable to get local issuer certificate" in complete.summary
    assert "append the intermediate" in (complete.remedy or "")
    assert complete.details["from_ca_file"] == ["CN=Test Intermediate CA main"]
    assert report.status is Status.FAIL


def test_an_intermediate_in_both_bundle_and_ca_file_reaches_the_root(tmp_path: Path) -> None:
    p = pki()
    chain = (p.leaf(), p.inter.cert)
    complete = run_tls_check(_request(tmp_path, chain, cert_pem(p.root.cert, p.inter.cert))).by_id(
        "tls-chain-complete"
    )
    assert complete.status is Status.PASS, complete
    assert complete.details["anchor"] == "CN=Test Root CA main"


def test_an_intermediate_pinned_alone_in_the_ca_file_is_still_the_bundles(tmp_path: Path) -> None:
    """No root at all in --ca-file: the intermediate is not self-issued, so it counts as an
    intermediate the bundle must carry, and the message says why."""
    p = pki()
    missing = run_tls_check(_request(tmp_path, (p.leaf(),), cert_pem(p.inter.cert)))
    complete = missing.by_id("tls-chain-complete")
    assert complete.status is Status.FAIL, complete
    assert "not a root (not self-issued)" in complete.summary
    assert "the bundle lacks the intermediate CN=Test Intermediate CA main" in complete.summary
    carried = run_tls_check(_request(tmp_path, (p.leaf(), p.inter.cert), cert_pem(p.inter.cert)))
    assert carried.by_id("tls-chain-complete").status is Status.PASS


def test_served_chain_needing_an_intermediate_of_the_ca_file_fails(tmp_path: Path) -> None:
    p = pki()
    result = _served(tmp_path, (p.leaf(),), cert_pem(p.root.cert, p.inter.cert))
    assert result.status is Status.FAIL, result
    assert "does not send the intermediate CN=Test Intermediate CA main" in result.summary
    assert "only --ca-file" in result.summary
    assert "append the intermediates" in (result.remedy or "")
    sent = _served(tmp_path, (p.leaf(), p.inter.cert), cert_pem(p.root.cert, p.inter.cert))
    assert sent.status is Status.PASS, sent


# ------------------------------------------------------------------ an out-of-date --ca-file root


@pytest.mark.parametrize(
    ("not_before", "not_after", "says"),
    [
        (NOW - 800 * DAY, NOW - 2 * DAY, "that root expired on"),
        (NOW + 2 * DAY, NOW + 900 * DAY, "that root is not valid before"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_a_ca_file_root_outside_its_validity_fails_chain_complete(
    tmp_path: Path, not_before: datetime, not_after: datetime, says: str
) -> None:
    """curl: "certificate has expired" / "is not yet valid"; the judging time must not move
    to a moment when the root was valid."""
    root = make_ca("Corp Root", rsa_key(3072, slot=5), not_before=not_before, not_after=not_after)
    inter = make_ca("Corp Issuing CA", rsa_key(slot=6), root)
    leaf = build_cert(HOST, rsa_key(), inter, not_before=NOW - 10 * DAY)
    report = run_tls_check(_request(tmp_path, (leaf, inter.cert), cert_pem(root.cert)))
    complete = report.by_id("tls-chain-complete")
    assert complete.status is Status.FAIL, complete
    assert says in complete.summary and "--ca-file" in complete.summary
    assert "judged_at" not in complete.details
    assert "renew your root CA certificate CN=Corp Root" in (complete.remedy or "")
    assert report.status is Status.FAIL
    served = _served(tmp_path, (leaf, inter.cert), cert_pem(root.cert))
    assert served.status is Status.FAIL, served
    assert "untrusted chain: the root CN=Corp Root (--ca-file" in served.summary
    assert says.removeprefix("that root ") in served.summary
    assert "renew the root CA certificate" in (served.remedy or "")


def test_an_expired_root_fails_even_when_the_leaf_has_expired_too(tmp_path: Path) -> None:
    root = make_ca(
        "Corp Root", rsa_key(3072, slot=5), not_before=NOW - 800 * DAY, not_after=NOW - 2 * DAY
    )
    inter = make_ca("Corp Issuing CA", rsa_key(slot=6), root, not_before=NOW - 100 * DAY)
    leaf = build_cert(HOST, rsa_key(), inter, not_before=NOW - 90 * DAY, not_after=NOW - DAY)
    complete = run_tls_check(_request(tmp_path, (leaf, inter.cert), cert_pem(root.cert))).by_id(
        "tls-chain-complete"
    )
    assert complete.status is Status.FAIL, complete
    assert "CN=Corp Root" in complete.summary and "expired" in complete.summary


# ------------------------------------------------------------ CA certificates without keyUsage


def test_a_root_without_key_usage_is_a_valid_trust_anchor(tmp_path: Path) -> None:
    """`openssl req -x509` makes no keyUsage; OpenSSL, GnuTLS, Go and node accept it."""
    root = make_ca("Corp Root", rsa_key(3072, slot=5), usage=None)
    leaf = build_cert(HOST, rsa_key(), root)
    complete = run_tls_check(_request(tmp_path, (leaf,), cert_pem(root.cert))).by_id(
        "tls-chain-complete"
    )
    assert complete.status is Status.PASS, complete
    assert _served(tmp_path, (leaf,), cert_pem(root.cert)).status is Status.PASS


def test_an_intermediate_without_key_usage_is_accepted_as_clients_do(tmp_path: Path) -> None:
    root = make_ca("Corp Root", rsa_key(3072, slot=5), usage=None)
    inter = make_ca("Corp Issuing CA", rsa_key(slot=6), root, usage=None)
    leaf = build_cert(HOST, rsa_key(), inter)
    complete = run_tls_check(_request(tmp_path, (leaf, inter.cert), cert_pem(root.cert))).by_id(
        "tls-chain-complete"
    )
    assert complete.status is Status.PASS, complete
    assert _served(tmp_path, (leaf, inter.cert), cert_pem(root.cert)).status is Status.PASS


@pytest.mark.parametrize("which", ["intermediate", "root"])
def test_a_key_usage_without_certificate_signing_is_refused(tmp_path: Path, which: str) -> None:
    """OpenSSL: "key usage does not include certificate signing" (curl: invalid CA
    certificate), for an intermediate and for the trust anchor alike."""
    root = make_ca(
        "Corp Root", rsa_key(3072, slot=5), usage=NO_CERT_SIGN if which == "root" else CERT_SIGN
    )
    inter = make_ca(
        "Corp Issuing CA",
        rsa_key(slot=6),
        root,
        usage=NO_CERT_SIGN if which == "intermediate" else CERT_SIGN,
    )
    leaf = build_cert(HOST, rsa_key(), inter)
    complete = run_tls_check(_request(tmp_path, (leaf, inter.cert), cert_pem(root.cert))).by_id(
        "tls-chain-complete"
    )
    assert complete.status is Status.FAIL, complete
    assert "does not include certificate signing (keyCertSign)" in complete.summary
    assert _served(tmp_path, (leaf, inter.cert), cert_pem(root.cert)).status is Status.FAIL


# ------------------------------------------------------- an expired cross-sign after the root


def _long_chain() -> tuple[tuple[x509.Certificate, ...], x509.Certificate]:
    """The Let's Encrypt shape: leaf, issuing CA, then the trusted root cross-signed by an
    older root; the cross-sign (and the old root) have expired."""
    root_key, old_key = rsa_key(3072, slot=5), rsa_key(3072, slot=6)
    root = make_ca("New Root X1", root_key)
    old = make_ca("Old Root X3", old_key, not_before=NOW - 4000 * DAY, not_after=NOW - 30 * DAY)
    cross = make_ca(
        "New Root X1", root_key, old, not_before=NOW - 900 * DAY, not_after=NOW - 60 * DAY
    )
    inter = make_ca("Issuing CA R3", rsa_key(slot=4), root)
    leaf = build_cert(HOST, rsa_key(), inter)
    return (leaf, inter.cert, cross.cert), root.cert


def test_an_expired_cross_sign_after_the_trusted_root_only_warns(tmp_path: Path) -> None:
    chain, root = _long_chain()
    report = run_tls_check(_request(tmp_path, chain, cert_pem(root)))
    expiry = report.by_id("tls-expiry")
    assert expiry.status is Status.WARN, expiry
    assert "CN=New Root X1 (issued by CN=Old Root X3)" in expiry.summary
    assert "clients do not use it" in expiry.summary
    assert expiry.metrics["days_left"] >= 88
    assert [row["certificate"] for row in expiry.details["certificates"]] == [
        f"CN={HOST}",
        "CN=Issuing CA R3",
    ]
    assert report.by_id("tls-chain-complete").status is Status.PASS
    assert report.status is Status.WARN


def test_an_expired_cross_sign_served_after_the_trusted_root_passes(tmp_path: Path) -> None:
    chain, root = _long_chain()
    served = _served(tmp_path, chain, cert_pem(root))
    assert served.status is Status.PASS, served


def test_an_expired_intermediate_on_the_path_still_fails(tmp_path: Path) -> None:
    p = pki()
    old = make_ca("Corp Issuing CA", rsa_key(slot=6), p.root, not_after=NOW - DAY)
    leaf = build_cert(HOST, rsa_key(), old, not_before=NOW - 10 * DAY)
    report = run_tls_check(_request(tmp_path, (leaf, old.cert), cert_pem(p.root.cert)))
    assert report.by_id("tls-expiry").status is Status.FAIL
    assert _served(tmp_path, (leaf, old.cert), cert_pem(p.root.cert)).status is Status.FAIL


# ------------------------------------------------------------------ where a bad path came from


def _site(tmp_path: Path, *, key: str = "key.pem", ca_file: str = "ca.pem") -> Path:
    p = pki()
    (tmp_path / "chain.pem").write_bytes(cert_pem(p.leaf(), p.inter.cert))
    (tmp_path / "key.pem").write_bytes(key_pem(rsa_key()))
    (tmp_path / "ca.pem").write_bytes(cert_pem(p.root.cert))
    site = tmp_path / "site.toml"
    site.write_text(
        f'hostname = "{HOST}"\n[connection]\nca_file = "{ca_file}"\n'
        f'[tls]\ncert = "chain.pem"\nkey = "{key}"\n',
        encoding="utf-8",
    )
    return site


def test_a_missing_key_from_the_site_file_names_the_file_and_key(tmp_path: Path) -> None:
    site = _site(tmp_path, key="missing.key")
    request = TlsCheckRequest.from_site(load_site(site, environ={}))
    with pytest.raises(MaterialError, match=rf"^{site}: \[tls\] key: key file .*missing\.key"):
        run_tls_check(request)


def test_a_missing_ca_file_from_the_site_file_names_the_file_and_key(tmp_path: Path) -> None:
    site = _site(tmp_path, ca_file="missing-ca.pem")
    request = TlsCheckRequest.from_site(load_site(site, environ={}))
    with pytest.raises(MaterialError, match=rf"^{site}: \[connection\] ca_file: certificate"):
        run_tls_check(request)


@pytest.mark.parametrize(
    ("variable", "flags", "named"),
    [
        ("GHES_SETUP_TLS_KEY", (), "GHES_SETUP_TLS_KEY: key file /nonexistent.key"),
        (
            "GHES_SETUP_CONNECTION_CA_FILE",
            (),
            "GHES_SETUP_CONNECTION_CA_FILE: certificate file /nonexistent.pem",
        ),
        (None, ("--key", "/nonexistent.key"), "--key: key file /nonexistent.key"),
        (None, ("--ca-file", "/nonexistent.pem"), "--ca-file: certificate file /nonexistent.pem"),
    ],
)
def test_a_missing_file_names_the_variable_or_the_flag(
    cli: CliRunner, tmp_path: Path, variable: str | None, flags: tuple[str, ...], named: str
) -> None:
    site = _site(tmp_path)
    env = {}
    if variable is not None:
        env[variable] = "/nonexistent.key" if variable.endswith("KEY") else "/nonexistent.pem"
    result = cli("tls", "check", "--site", str(site), *flags, env=env)
    assert_no_traceback(result)
    assert result.exit_code == 3, result
    assert f"ghes-setup: {named} does not exist" in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1
