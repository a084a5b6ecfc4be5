"""`ghes-setup tls probe` against a real TLS server (nginx, SNI server blocks).

Scenarios: a good chain (leaf, intermediate; root via --ca-file), an expired leaf, a leaf
without the wildcard SAN, a chain without the intermediate, a name the server does not serve,
a closed port.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from ghes_setup import facts
from ghes_setup.net import ResolveOverrides, SystemResolver
from ghes_setup.tls.check_served import fingerprint
from ghes_setup.tls.service import TlsProbeRequest, served_fingerprints
from tests.conftest import CliRunner, assert_no_traceback
from tests.ports import free_port
from tests.schema import assert_valid_report
from tests.tls.corpus import DAY, NOW, build_cert, cert_pem, key_pem, pki, rsa_key
from tests.tls.servers import Nginx, Site

pytestmark = pytest.mark.lab

GOOD = "good.ghe.test"
EXPIRED = "expired.ghe.test"
NOWILD = "nowild.ghe.test"
NOINT = "noint.ghe.test"
UNKNOWN = "unknown.ghe.test"
ISOLATION = len(facts.isolation_hosts(GOOD, None))


def _site(tmp: Path, host: str, certs: tuple[x509.Certificate, ...]) -> Site:
    chain = tmp / f"{host}-chain.pem"
    key = tmp / f"{host}.key"
    chain.write_bytes(cert_pem(*certs))
    key.write_bytes(key_pem(rsa_key()))
    key.chmod(0o600)
    return Site((host, f"*.{host}"), chain, key)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    tmp = tmp_path_factory.mktemp("nginx")
    p = pki("lab")
    inter = p.inter

    def leaf(host: str, **kw: object) -> x509.Certificate:
        return build_cert(host, rsa_key(), inter, **{"sans": (host, f"*.{host}"), **kw})  # type: ignore[arg-type]

    sites = {
        GOOD: _site(tmp, GOOD, (leaf(GOOD), inter.cert)),
        EXPIRED: _site(
            tmp,
            EXPIRED,
            (leaf(EXPIRED, not_before=NOW - 100 * DAY, not_after=NOW - 3 * DAY), inter.cert),
        ),
        NOWILD: _site(tmp, NOWILD, (leaf(NOWILD, sans=(NOWILD,)), inter.cert)),
        NOINT: _site(tmp, NOINT, (leaf(NOINT),)),
    }
    (tmp / "root.pem").write_bytes(cert_pem(p.root.cert))
    nginx = Nginx(tmp, sites).start()
    try:
        yield nginx
    finally:
        nginx.stop()


def _root(server: Nginx) -> str:
    return str(server.workdir / "root.pem")


def _probe(cli: CliRunner, server: Nginx, host: str, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = cli(
        "tls", "probe", host, "--address", server.address, "--port", str(server.port),
        "--ca-file", _root(server), "--format", "json", "--timeout", "5", *extra,
    )  # fmt: skip
    assert_no_traceback(result)
    document = result.json()
    assert_valid_report(document)
    assert [r["id"] for r in document["results"]] == ["tls-served"]
    return result.exit_code, document["results"][0]


def test_good_chain_passes_for_the_apex_and_every_isolation_host(
    cli: CliRunner, server: Nginx
) -> None:
    code, result = _probe(cli, server, GOOD, "--subdomains")
    assert (code, result["status"]) == (0, "pass"), result
    hosts = result["details"]["hosts"]
    assert len(hosts) == 1 + ISOLATION
    assert {h["host"] for h in hosts} == {GOOD, *facts.isolation_hosts(GOOD, None)}
    assert all(h["ok"] and h["address"] == server.address for h in hosts)
    assert 88 <= result["metrics"]["days_left"] <= 90
    served = x509.load_pem_x509_certificates((server.workdir / f"{GOOD}-chain.pem").read_bytes())
    assert {h["fingerprint_sha256"] for h in hosts} == {fingerprint(served[0])}


def test_expired_chain_fails_with_negative_days(cli: CliRunner, server: Nginx) -> None:
    code, result = _probe(cli, server, EXPIRED)
    assert (code, result["status"]) == (1, "fail")
    assert "expired" in result["summary"]
    assert result["metrics"]["days_left"] < 0


def test_certificate_without_wildcard_fails_only_on_subdomains(
    cli: CliRunner, server: Nginx
) -> None:
    code, apex_only = _probe(cli, server, NOWILD)
    assert (code, apex_only["status"]) == (0, "pass"), apex_only
    code, result = _probe(cli, server, NOWILD, "--subdomains")
    assert (code, result["status"]) == (1, "fail")
    failing = [h for h in result["details"]["hosts"] if not h["ok"]]
    assert {h["host"] for h in failing} == set(facts.isolation_hosts(NOWILD, None))
    assert all("name mismatch" in h["error"] for h in failing)


def test_chain_missing_the_intermediate_names_it(cli: CliRunner, server: Nginx) -> None:
    code, result = _probe(cli, server, NOINT)
    assert (code, result["status"]) == (1, "fail")
    assert "does not send the intermediate" in result["summary"]
    assert "Test Intermediate CA lab" in result["summary"]


def test_private_chain_without_ca_file_is_untrusted(cli: CliRunner, server: Nginx) -> None:
    result = cli(
        "tls", "probe", GOOD, "--address", server.address, "--port", str(server.port),
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 1
    served = result.json()["results"][0]
    assert "untrusted chain" in served["summary"]


def test_name_the_server_does_not_serve_is_reported(cli: CliRunner, server: Nginx) -> None:
    code, result = _probe(cli, server, UNKNOWN)
    assert (code, result["status"]) == (1, "fail")
    assert "does not serve the name" in result["details"]["hosts"][0]["error"]


def test_closed_port_is_error_exit_7(cli: CliRunner, server: Nginx) -> None:
    closed = free_port(server.address)
    result = cli(
        "tls", "probe", GOOD, "--address", server.address, "--port", str(closed),
        "--ca-file", _root(server), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 7, result
    served = result.json()["results"][0]
    assert served["status"] == "error"
    assert "connection refused" in served["summary"]


def test_resolve_pins_work_like_address(cli: CliRunner, server: Nginx) -> None:
    result = cli(
        "tls", "probe", GOOD, "--resolve", f"{GOOD}:{server.address}",
        "--resolve", f".{GOOD}:{server.address}", "--port", str(server.port),
        "--ca-file", _root(server), "--subdomains", "--ghes-version", "3.6", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result
    hosts = {h["host"] for h in result.json()["results"][0]["details"]["hosts"]}
    assert f"render.{GOOD}" in hosts and f"notebooks.{GOOD}" not in hosts


def test_nagios_line_carries_days_left(cli: CliRunner, server: Nginx) -> None:
    result = cli(
        "tls", "probe", GOOD, "--address", server.address, "--port", str(server.port),
        "--ca-file", _root(server), "--format", "nagios",
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert result.stdout.startswith("GHES-SETUP OK - ")
    assert "'tls-served.days_left'=" in result.stdout and ";30:;7:;;" in result.stdout


def test_served_fingerprints_match_the_files(server: Nginx) -> None:
    resolver = SystemResolver(ResolveOverrides.parse([f".ghe.test:{server.address}"]))
    request = TlsProbeRequest(
        GOOD,
        resolver,
        port=server.port,
        ca_file=server.workdir / "root.pem",
        subdomains=True,
    )
    found = served_fingerprints(request)
    leaf = x509.load_pem_x509_certificates((server.workdir / f"{GOOD}-chain.pem").read_bytes())[0]
    assert set(found.values()) == {fingerprint(leaf)}
    assert len(found) == 1 + ISOLATION
