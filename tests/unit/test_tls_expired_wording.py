"""An expired certificate says expired (issue 13 item 7): tls-chain-complete names the
certificate and its date instead of "get a chain from your CA" or "pass --ca-file"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ghes_setup.lab import pki
from tests.conftest import CliRunner


def test_an_expired_leaf_under_a_given_ca_says_expired_in_chain_complete(
    cli: CliRunner, tmp_path: Path
) -> None:
    ca = pki.make_ca("expired-test root")
    now = dt.datetime.now(dt.UTC)
    leaf = pki.issue(
        ca,
        ["ghe.example.test", "*.ghe.example.test"],
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=2),
    )
    chain, key, root = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    chain.write_bytes(leaf.chain_pem())
    key.write_bytes(leaf.key_pem())
    root.write_bytes(pki.cert_pem(ca.cert))
    result = cli(
        "--format", "json", "tls", "check", "--hostname", "ghe.example.test",
        "--cert", str(chain), "--key", str(key), "--ca-file", str(root),
    )  # fmt: skip
    assert result.exit_code == 1, result
    found = {r["id"]: r for r in result.json()["results"]}
    complete = found["tls-chain-complete"]
    assert complete["status"] == "fail"
    assert "expired on" in complete["summary"], complete
    assert "--ca-file" not in complete["remedy"] and "renew" in complete["remedy"], complete
    assert found["tls-expiry"]["status"] == "fail"
