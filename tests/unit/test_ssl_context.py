"""`httpclient.ssl_context`: verification on, the system roots plus the admin's CA, built once."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from ghes_setup.errors import MaterialError
from ghes_setup.httpclient import ssl_context


def _subjects(ctx: ssl.SSLContext) -> set[str]:
    return {
        "/".join(f"{k}={v}" for rdn in cert["subject"] for k, v in rdn)
        for cert in ctx.get_ca_certs()
    }


def test_one_context_per_ca_file_shared_by_every_client(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA(organization_name="Lab CA one").cert_pem.write_to_path(str(ca_file))
    first = ssl_context(ca_file)
    assert ssl_context(ca_file) is first
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    assert any("Lab CA one" in s for s in _subjects(first))
    assert len(first.get_ca_certs()) > 1  # the system roots (or certifi's) as well


def test_a_ca_file_that_changes_gets_a_new_context_that_trusts_the_new_ca(
    tmp_path: Path,
) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA(organization_name="Old lab CA").cert_pem.write_to_path(str(ca_file))
    old = ssl_context(ca_file)
    trustme.CA(organization_name="New lab CA, longer name").cert_pem.write_to_path(str(ca_file))
    stat = ca_file.stat()
    os.utime(ca_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    new = ssl_context(ca_file)
    assert new is not old
    assert any("New lab CA" in s for s in _subjects(new))
    assert not any("Old lab CA" in s for s in _subjects(new))


def test_a_ca_file_that_is_not_pem_or_missing_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(MaterialError, match="cannot load it as PEM") as info:
        ssl_context(bad)
    assert info.value.hint == "give the CA certificate(s) in PEM format"
    with pytest.raises(MaterialError, match="cannot load it as PEM"):
        ssl_context(tmp_path / "missing.pem")


def test_certifis_bundle_stands_in_only_for_an_empty_system_store(tmp_path: Path) -> None:
    code = (
        "from ghes_setup.httpclient import ssl_context\n"
        "import certifi, ssl\n"
        "n = len(ssl_context().get_ca_certs())\n"
        "c = ssl.create_default_context(cafile=certifi.where())\n"
        "print(n, len(c.get_ca_certs()))\n"
    )
    empty = {"SSL_CERT_FILE": str(tmp_path / "none.pem"), "SSL_CERT_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **empty},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert int(out[0]) == int(out[1]) > 0  # a slim container: certifi's roots, all of them
