"""Config apply in the lab: bad settings fail the way GHES fails, keeping the previous front
door; good ones make the front door and the registry follow; faults ssh-drop and apply-fail."""

from __future__ import annotations

import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ghes_setup.lab import pki
from ghes_setup.lab.handle import LabHandle
from tests.lab.conftest import Shell, connect

pytestmark = pytest.mark.lab


def _served_leaf(lab: LabHandle) -> x509.Certificate:
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((lab.address, lab.ports.https), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=lab.hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _tls(lab: LabHandle, issued: pki.Issued, isolation: bool = False) -> dict[str, str | None]:
    return {
        "github-ssl.cert": issued.chain_pem().decode(),
        "github-ssl.key": issued.key_pem().decode(),
        "core.subdomain-isolation": "true" if isolation else "false",
    }


def _bad_cases(lab: LabHandle) -> dict[str, tuple[dict[str, str | None], str]]:
    ca = pki.intermediate(lab.layout)
    names = [lab.hostname, f"*.{lab.hostname}"]
    good = pki.issue(ca, names)
    other = pki.issue(ca, names)
    mismatched = pki.Issued(other.key, good.cert, good.chain)
    ec_leaf = pki.issue(ca, names, key=ec.generate_private_key(ec.SECP256R1()))
    no_wildcard = pki.issue(ca, [lab.hostname])
    storage = {
        "app.packages.enabled": "true",
        "secrets.packages.blob-storage-type": "s3",
        "secrets.packages.service-url": lab.service_url,
        "secrets.packages.s3-bucket": lab.bucket,
        "secrets.packages.aws-access-key": lab.s3_access_key,
        "secrets.packages.aws-secret-key": "wrong-secret",
    }
    return {
        "mismatched key": (_tls(lab, mismatched), "do not match"),
        "ecdsa key": (_tls(lab, ec_leaf), "must be an RSA key"),
        "isolation without a wildcard cert": (
            _tls(lab, no_wildcard, isolation=True),
            f"*.{lab.hostname}",
        ),
        "isolation with the default cert": (
            {"core.subdomain-isolation": "true"},
            f"*.{lab.hostname}",
        ),
        "packages without storage": ({"app.packages.enabled": "true"}, "no blob storage"),
        "packages with refused credentials": (
            {**_tls(lab, good, isolation=True), **storage},
            "SignatureDoesNotMatch",  # moto's S3 server checks the SigV4 signature
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "mismatched key",
        "ecdsa key",
        "isolation without a wildcard cert",
        "isolation with the default cert",
        "packages without storage",
        "packages with refused credentials",
    ],
)
def test_bad_settings_fail_the_apply_and_keep_the_front_door(
    fresh_lab: LabHandle, case: str
) -> None:
    values, reason = _bad_cases(fresh_lab)[case]
    before_cert = _served_leaf(fresh_lab)
    before_applied = fresh_lab.applied_settings()
    fresh_lab.set_settings(values)
    run = fresh_lab.apply(check=False)
    assert run.successful is False
    assert run.failure is not None
    assert reason in run.failure
    errors = [line for line in fresh_lab.log_text().splitlines() if "[ERROR]" in line]
    assert any(reason in line for line in errors), fresh_lab.log_text()
    assert next(e.body for e in run.events if e.severity_text == "ERROR") == run.failure
    assert _served_leaf(fresh_lab) == before_cert
    assert fresh_lab.applied_settings() == before_applied
    assert not fresh_lab.registry_answers()


def test_failed_apply_over_ssh_exits_1_and_says_why(fresh_lab: LabHandle, shell: Shell) -> None:
    fresh_lab.set_settings({"app.packages.enabled": "true"})
    code, _, err = shell.run("ghe-config-apply")
    assert code == 1
    assert "ERROR: GitHub Packages is enabled but no blob storage is configured" in err


def test_apply_fail_fault_fails_the_next_apply_only(fresh_lab: LabHandle, shell: Shell) -> None:
    fresh_lab.fault("apply-fail")
    code, _, err = shell.run("ghe-config-apply")
    assert code == 1
    assert "Reloading application services failed" in err
    assert "lab fault apply-fail" in fresh_lab.log_text()
    run = fresh_lab.last_run()
    assert run is not None
    assert (run.successful, run.running) == (False, False)
    assert shell.run("ghe-config-apply")[0] == 0


def test_good_settings_make_the_front_door_and_registry_follow(fresh_lab: LabHandle) -> None:
    fresh_lab.set_settings(dict(fresh_lab.desired_settings()))
    run = fresh_lab.apply()
    assert run.successful
    site = x509.load_pem_x509_certificates(fresh_lab.site_cert.read_bytes())[0]
    assert _served_leaf(fresh_lab) == site
    assert fresh_lab.registry_answers()
    # Disabling Packages stops the registry; containers.HOSTNAME/v2/ then says so.
    fresh_lab.set_settings({"app.packages.enabled": "false"})
    fresh_lab.apply()
    status, _, body = fresh_lab.https("GET", "/v2/", host=fresh_lab.registry_host)
    assert status == 404
    assert b"not enabled" in body
    assert fresh_lab.status()["parts"][-1]["running"] is False  # type: ignore[index]


def test_settings_written_but_not_applied_change_nothing(fresh_lab: LabHandle) -> None:
    before = _served_leaf(fresh_lab)
    fresh_lab.set_settings(dict(fresh_lab.desired_settings()))
    assert _served_leaf(fresh_lab) == before
    assert not fresh_lab.registry_answers()


def test_ssh_drop_cuts_the_session_after_its_first_write(fresh_lab: LabHandle) -> None:
    fresh_lab.fault("ssh-drop")
    client = connect(fresh_lab)
    try:
        stdin, out, _ = client.exec_command(
            "ghe-config app.lab.first 1; sleep 0.5; echo still-here", timeout=10
        )
        status = out.channel.recv_exit_status()
        text = out.read()
        assert status == -1  # no exit status: the connection was cut
        assert b"still-here" not in text
        assert client.get_transport() is None or not client.get_transport().is_active()  # type: ignore[union-attr]
        del stdin
    finally:
        client.close()
    assert fresh_lab.settings()["app.lab.first"] == "1"
    assert sum(" ssh-drop " in line for line in fresh_lab.fired_faults()) == 1
    # The fault fired once: the next session works.
    client = connect(fresh_lab)
    try:
        _, out, _ = client.exec_command("ghe-config app.lab.second 2")
        assert out.channel.recv_exit_status() == 0
    finally:
        client.close()
