"""The lab's DNS (dnsmasq, queried with dnspython) and front door (nginx, TLS with SNI)."""

from __future__ import annotations

import secrets
import socket
import ssl

import dns.rdatatype
import dns.resolver
import pytest
from cryptography import x509

from ghes_setup.lab.handle import LabHandle

pytestmark = pytest.mark.lab


def _resolver(lab: LabHandle) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [lab.address]
    resolver.port = lab.ports.dns
    resolver.lifetime = 3
    return resolver


def _a(lab: LabHandle, name: str) -> list[str]:
    return sorted(r.to_text() for r in _resolver(lab).resolve(name, "A"))


def test_apex_and_wildcard_resolve_to_the_lab_address(lab: LabHandle) -> None:
    assert _a(lab, lab.hostname) == [lab.address]
    assert _a(lab, f"containers.{lab.hostname}") == [lab.address]
    assert _a(lab, f"r{secrets.token_hex(4)}.{lab.hostname}") == [lab.address]


def test_aaaa_under_the_zone_is_nodata_not_refused(lab: LabHandle) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        _resolver(lab).resolve(lab.hostname, "AAAA")


def test_names_outside_the_zone_are_not_answered(lab: LabHandle) -> None:
    with pytest.raises((dns.resolver.NoNameservers, dns.resolver.NXDOMAIN)):
        _resolver(lab).resolve("example.com", "A")


def test_dns_no_wildcard_fault_gives_nxdomain_until_cleared(fresh_lab: LabHandle) -> None:
    label = f"r{secrets.token_hex(4)}.{fresh_lab.hostname}"
    fresh_lab.fault("dns-no-wildcard")
    try:
        with pytest.raises(dns.resolver.NXDOMAIN):
            _resolver(fresh_lab).resolve(label, "A")
        assert _a(fresh_lab, fresh_lab.hostname) == [fresh_lab.address]
    finally:
        fresh_lab.clear_faults()
    assert _a(fresh_lab, label) == [fresh_lab.address]


def _handshake(
    lab: LabHandle, name: str | None, port: int | None = None, verify: bool = False
) -> x509.Certificate:
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((lab.address, port or lab.ports.https), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _names(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def test_fresh_appliance_serves_its_own_certificate_for_the_hostname_only(
    fresh_lab: LabHandle,
) -> None:
    cert = _handshake(fresh_lab, fresh_lab.hostname, verify=True)
    assert _names(cert) == [fresh_lab.hostname]
    assert _handshake(fresh_lab, fresh_lab.hostname, fresh_lab.ports.api, verify=True) == cert
    # Isolation is off: subdomains are not served yet.
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        _handshake(fresh_lab, f"containers.{fresh_lab.hostname}")


def test_unknown_sni_or_no_sni_is_refused(lab: LabHandle) -> None:
    for name in ("other.test", f"a.b.{lab.hostname}", None):
        with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
            _handshake(lab, name)


def test_status_is_200_and_rest_carries_the_enterprise_version(lab: LabHandle) -> None:
    status, _, body = lab.https("GET", "/status")
    assert (status, body) == (200, b"ok\n")
    status, headers, _ = lab.https("GET", "/api/v3/meta")
    assert status == 200
    assert headers["x-github-enterprise-version"] == f"enterprise-server@{lab.ghes_version}"


def test_desired_state_serves_the_site_certificate_on_every_subdomain(
    registry_lab: LabHandle,
) -> None:
    site = x509.load_pem_x509_certificates(registry_lab.site_cert.read_bytes())[0]
    for name in (
        registry_lab.hostname,
        f"containers.{registry_lab.hostname}",
        f"pages.{registry_lab.hostname}",
    ):
        assert _handshake(registry_lab, name, verify=True) == site
    status, _, body = registry_lab.https("GET", "/", host=f"pages.{registry_lab.hostname}")
    assert status == 200
    assert body.startswith(b"pages.")


def test_cert_expired_fault_serves_an_expired_certificate_until_cleared(
    registry_lab: LabHandle,
) -> None:
    registry_lab.fault("cert-expired")
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            _handshake(registry_lab, registry_lab.hostname, verify=True)
        expired = _handshake(registry_lab, f"containers.{registry_lab.hostname}")
        assert sorted(_names(expired)) == sorted(
            [registry_lab.hostname, f"*.{registry_lab.hostname}"]
        )
    finally:
        registry_lab.clear_faults()
    _handshake(registry_lab, registry_lab.hostname, verify=True)


def test_dns_answers_through_tcp_too(lab: LabHandle) -> None:
    answer = _resolver(lab).resolve(lab.hostname, "A", tcp=True)
    assert answer.rdtype == dns.rdatatype.A
