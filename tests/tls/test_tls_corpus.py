"""More corpus cases through `ghes-setup tls check --format json`: trust anchors and chains that
clients (curl, git, node) judge differently from a naive reading of the bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.tls.corpus import (
    DAY,
    HOST,
    NOW,
    Case,
    CaseFiles,
    assert_reports_exactly,
    build_cert,
    cert_pem,
    expect,
    files,
    key_pem,
    pki,
    rsa_key,
)
from tests.tls.test_tls_checks import make_ca


def _intermediate_in_ca_file(tmp: Path) -> CaseFiles:
    """A CA's "ca-chain" file as --ca-file, the bundle without the intermediate."""
    p = pki()
    return files(
        tmp, cert_pem(p.leaf()), key_pem(rsa_key()), ca=cert_pem(p.root.cert, p.inter.cert)
    )


def _expired_ca_file_root(tmp: Path) -> CaseFiles:
    root = make_ca(
        "Corp Root", rsa_key(3072, slot=5), not_before=NOW - 800 * DAY, not_after=NOW - 2 * DAY
    )
    inter = make_ca("Corp Issuing CA", rsa_key(slot=6), root)
    leaf = build_cert(HOST, rsa_key(), inter, not_before=NOW - 10 * DAY)
    return files(tmp, cert_pem(leaf, inter.cert), key_pem(rsa_key()), ca=cert_pem(root.cert))


def _root_without_key_usage(tmp: Path) -> CaseFiles:
    root = make_ca("Corp Root", rsa_key(3072, slot=5), usage=None)
    leaf = build_cert(HOST, rsa_key(), root)
    return files(tmp, cert_pem(leaf), key_pem(rsa_key()), ca=cert_pem(root.cert))


def _expired_cross_sign(tmp: Path) -> CaseFiles:
    root_key = rsa_key(3072, slot=5)
    root = make_ca("New Root X1", root_key)
    old = make_ca(
        "Old Root X3", rsa_key(3072, slot=6), not_before=NOW - 4000 * DAY, not_after=NOW - 30 * DAY
    )
    cross = make_ca(
        "New Root X1", root_key, old, not_before=NOW - 900 * DAY, not_after=NOW - 60 * DAY
    )
    inter = make_ca("Issuing CA R3", rsa_key(slot=4), root)
    leaf = build_cert(HOST, rsa_key(), inter)
    return files(
        tmp, cert_pem(leaf, inter.cert, cross.cert), key_pem(rsa_key()), ca=cert_pem(root.cert)
    )


MORE_CASES: tuple[Case, ...] = (
    Case(
        "intermediate only in --ca-file (root + intermediate)",
        _intermediate_in_ca_file,
        expect(tls_chain_complete="fail"),
        says=("the bundle lacks the intermediate CN=Test Intermediate CA main", "only --ca-file"),
    ),
    Case(
        "expired --ca-file root",
        _expired_ca_file_root,
        expect(tls_chain_complete="fail"),
        says=("CN=Corp Root", "expired on", "certificate has expired"),
    ),
    Case("root without keyUsage (openssl req -x509)", _root_without_key_usage, expect()),
    Case(
        "expired cross-sign of the trusted root after it",
        _expired_cross_sign,
        expect(tls_expiry="warn"),
        says=("clients do not use it", "remove CN=New Root X1"),
    ),
)


@pytest.mark.parametrize("case", MORE_CASES, ids=str)
def test_more_corpus_cases_report_exact_statuses(
    cli: CliRunner, tmp_path: Path, case: Case
) -> None:
    assert_reports_exactly(cli, tmp_path, case)
