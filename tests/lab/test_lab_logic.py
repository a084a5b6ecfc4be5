"""The lab's pure logic, without servers: settings document mapping, token grants, storage
connection strings, certificate validation of the apply engine, libtrust key ids."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ghes_setup.lab import pki, settings, tokens
from ghes_setup.lab.apply import (
    ApplyEngine,
    Run,
    StepFailed,
    load_runs,
    validate_packages,
    validate_tls,
)
from ghes_setup.lab.layout import LabConfig, Layout
from ghes_setup.lab.storage import SUCCESS, StorageFailure, _round_trip, from_connection_string

HOST = "ghe.lab.test"


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    root = pki.make_ca("test root")
    return pki.make_ca("test intermediate", parent=root)


def test_document_maps_documented_fields_to_ghe_config_keys() -> None:
    doc = settings.to_document(
        {settings.HOSTNAME: HOST, settings.ISOLATION: "true", settings.SSL_ENABLED: "false"},
        configuration_id=7,
        run_count=3,
    )
    assert doc["github_hostname"] == HOST
    assert doc["subdomain_isolation"] is True
    assert doc["github_ssl"] == {"enabled": False, "cert": None, "key": None}
    assert (doc["configuration_id"], doc["configuration_run_count"]) == (7, 3)
    assert doc["admin_password"] is None


def test_put_of_a_partial_object_resets_its_missing_fields_to_defaults() -> None:
    """The risky reading of the description ("unmodified or populated from the default
    values"): a client that sends `github_ssl` without `key` loses the key."""
    current = {
        settings._extra_key("ntp"): json.dumps({"primary_server": "a", "secondary_server": "b"}),
        settings._extra_key("snmp"): json.dumps({"enabled": True, "community": "x"}),
    }
    changes = settings.document_changes(
        current, {"github_ssl": {"cert": "PEM"}, "ntp": {"primary_server": "c"}}
    )
    assert changes[settings.SSL_CERT] == "PEM"
    assert changes[settings.SSL_KEY] is None  # left out: back to the default (none)
    assert changes[settings.SSL_ENABLED] == "true"  # left out: back to the default (on)
    assert json.loads(str(changes[settings._extra_key("ntp")])) == {
        "primary_server": "c",
        "secondary_server": "1.pool.ntp.org",
    }
    assert settings._extra_key("snmp") not in changes  # a top-level field not given: untouched


def test_put_of_a_whole_object_keeps_every_field_given() -> None:
    changes = settings.document_changes(
        {}, {"github_ssl": {"enabled": True, "cert": "PEM", "key": "KEY"}}
    )
    assert changes[settings.SSL_CERT] == "PEM"
    assert changes[settings.SSL_KEY] == "KEY"
    assert changes[settings.SSL_ENABLED] == "true"


def test_put_of_a_default_value_stores_nothing_and_null_cert_unsets() -> None:
    changes = settings.document_changes(
        {}, {"pages": {"enabled": True}, "github_ssl": {"cert": None}}
    )
    assert changes[settings._extra_key("pages")] is None  # the default: nothing stored
    assert changes[settings.SSL_CERT] is None


@pytest.mark.parametrize(
    "patch",
    [
        {"subdomain_isolation": "true"},
        {"github_hostname": 3},
        {"github_ssl": "x"},
        {"admin_password": "p"},
    ],
)
def test_put_with_a_wrong_type_is_refused(patch: dict[str, object]) -> None:
    with pytest.raises(settings.SettingsError):
        settings.document_changes({}, patch)


def test_token_grants_follow_pat_scopes_and_namespaces() -> None:
    ctx = SimpleNamespace(config=SimpleNamespace(namespace="lab-org"))

    write = tokens.Token("w", ("read:packages", "write:packages"), "octo")
    scopes = tokens.parse_scopes(["repository:lab-org/a:pull,push,delete repository:octo/b:push"])
    assert tokens.grant(ctx, write, scopes) == [  # type: ignore[arg-type]
        {"type": "repository", "name": "lab-org/a", "actions": ["pull", "push"]},
        {"type": "repository", "name": "octo/b", "actions": ["push"]},
    ]
    other = tokens.parse_scopes(["repository:someone/c:pull"])
    assert tokens.grant(ctx, write, other)[0]["actions"] == []  # type: ignore[arg-type]
    assert tokens.grant(ctx, None, scopes)[0]["actions"] == []  # type: ignore[arg-type]


def test_libtrust_kid_has_twelve_groups_of_four() -> None:
    kid = pki.libtrust_kid(pki.new_rsa_key().public_key())
    groups = kid.split(":")
    assert len(groups) == 12
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert all(len(g) == 4 and set(g) <= alphabet for g in groups)


def test_s3_connection_string_keys_are_case_insensitive() -> None:
    target = from_connection_string(
        "MinIO",
        "bucketname=b;ACCESSKEYID=k;SecretAccessKey=s=x;ServiceUrl=http://m:9000;ForcePathStyle=true",
    )
    assert (
        target.provider,
        target.bucket,
        target.access_key,
        target.secret_key,
        target.service_url,
    ) == (
        "minio",
        "b",
        "k",
        "s=x",
        "http://m:9000",
    )


class _MemoryObject:
    """One object slot of a storage server, the way a protocol client reaches it."""

    def __init__(self, corrupt: bool = False) -> None:
        self.data: bytes | None = None
        self.corrupt = corrupt
        self.calls: list[str] = []

    def put(self, payload: bytes) -> None:
        self.calls.append("put")
        self.data = payload

    def get(self) -> bytes:
        self.calls.append("get")
        assert self.data is not None
        return self.data + b"x" if self.corrupt else self.data

    def delete(self) -> None:
        self.calls.append("delete")
        self.data = None


@pytest.mark.parametrize("corrupt", [False, True])
def test_the_storage_round_trip_puts_reads_back_and_deletes_the_test_object(
    corrupt: bool,
) -> None:
    stored = _MemoryObject(corrupt)
    lines = ["Testing connection to http://s3.test..."]
    steps = [*lines, "Testing PUT object...", "Testing GET object..."]

    def run() -> None:
        _round_trip(
            lines,
            b"payload",
            put=lambda: stored.put(b"payload"),
            get=stored.get,
            delete=stored.delete,
        )

    if corrupt:
        with pytest.raises(StorageFailure) as info:
            run()
        assert info.value.lines == [
            *steps,
            "Error: the object read back differs from the one written",
        ]
        assert stored.calls == ["put", "get"]  # the differing object is not deleted
    else:
        run()
        assert lines == [*steps, "Testing DELETE object...", SUCCESS]
        assert stored.calls == ["put", "get", "delete"]
        assert stored.data is None


def _tls(issued: pki.Issued, isolation: bool) -> dict[str, str]:
    return {
        settings.SSL_ENABLED: "true",
        settings.ISOLATION: "true" if isolation else "false",
        settings.SSL_CERT: issued.chain_pem().decode(),
        settings.SSL_KEY: issued.key_pem().decode(),
    }


def test_validate_tls_accepts_a_wildcard_rsa_certificate(ca: pki.Issued) -> None:
    assert validate_tls(_tls(pki.issue(ca, [HOST, f"*.{HOST}"]), True), HOST) == []


def test_validate_tls_refuses_ec_keys_and_missing_wildcards(ca: pki.Issued) -> None:
    with pytest.raises(StepFailed, match="RSA"):
        validate_tls(
            _tls(pki.issue(ca, [HOST], key=ec.generate_private_key(ec.SECP256R1())), False), HOST
        )
    with pytest.raises(StepFailed, match=r"\*\.ghe\.lab\.test"):
        validate_tls(_tls(pki.issue(ca, [HOST]), True), HOST)
    with pytest.raises(StepFailed, match="does not cover"):
        validate_tls(_tls(pki.issue(ca, ["other.test"]), False), HOST)


def test_validate_tls_warns_about_an_expired_certificate(ca: pki.Issued) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    old = pki.issue(
        ca,
        [HOST, f"*.{HOST}"],
        not_before=now - dt.timedelta(days=90),
        not_after=now - dt.timedelta(days=1),
    )
    warnings = validate_tls(_tls(old, True), HOST)
    assert any("expired" in w for w in warnings)


def test_packages_without_storage_is_refused() -> None:
    with pytest.raises(StepFailed, match="no blob storage"):
        validate_packages({settings.PACKAGES_ENABLED: "true"})
    assert validate_packages({settings.PACKAGES_ENABLED: "false"}) == []


class _HeldEngine(ApplyEngine):
    """An apply engine whose runs wait for `release` (no servers behind it)."""

    release = threading.Event()

    def _execute(self, run: Run) -> None:
        assert self.release.wait(10)
        self._finish(run, True)


def test_a_setup_run_recorded_while_a_run_goes_on_leaves_no_run_going_for_ever(
    tmp_path: Path,
) -> None:
    # A lab reset records its setup run while a run a killed client started a moment before
    # is still going: the run ends, and nothing is left "in progress" after it.
    layout = Layout(tmp_path)
    layout.runs.mkdir(parents=True)
    engine = _HeldEngine(layout, cast(LabConfig, SimpleNamespace(hostname="ghe.lab.test")))
    run, started = engine.start("ssh")
    assert started and engine.running() is run
    engine.add_setup_run("Lab reset: fresh appliance configuration")
    _HeldEngine.release.set()
    assert engine.wait_idle(5)
    assert engine.running() is None and [r.origin for r in load_runs(layout)] == ["ssh", "setup"]


def test_a_control_command_that_raises_answers_with_its_error_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, the connection closed without an exit line and the caller could only say
    # "lab-reconcile failed: {}" (seen in CI when Azurite did not come back after a fault).
    from ghes_setup.lab import client, control, parts
    from ghes_setup.lab.http_common import LabContext

    def broken(_self: object, _args: list[str], _stdin: str) -> int:
        raise parts.PartError("Azurite did not start; see azure.log")

    monkeypatch.setattr(control.Commands, "lab_reconcile", broken)
    socket_path = tmp_path / "control.sock"
    server = control.ControlServer(str(socket_path), cast(LabContext, SimpleNamespace()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        layout = cast(Layout, SimpleNamespace(control_socket=socket_path))
        answer = client.call(layout, "lab-reconcile", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert answer.code == 1
    assert answer.stderr == "labd: lab-reconcile: PartError: Azurite did not start; see azure.log\n"
