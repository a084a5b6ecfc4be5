"""The client checks against a machine described as data (fake probes, a folder as its root).

The fakes implement the probes' real signatures (`ClientContext`'s callables); certificates
come from tests/tls/corpus.py (a root, an intermediate, leaves for ghe.example.com).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ghes_setup.checks import Status, run_checks
from ghes_setup.checks.model import CheckResult
from ghes_setup.client.check_ca_paths import client_ca_paths
from ghes_setup.client.check_dns import client_dns
from ghes_setup.client.check_docker import client_docker
from ghes_setup.client.check_proxy import client_proxy
from ghes_setup.client.check_smoke import client_smoke
from ghes_setup.client.check_tls_trust import client_tls_trust
from ghes_setup.client.check_token import client_token
from ghes_setup.client.context import ClientContext, ecosystem_labels
from ghes_setup.client.service import CHECKS, parse_ecosystems
from ghes_setup.dns.lookup import Lookup, LookupStatus
from ghes_setup.errors import InputError
from ghes_setup.facts import GhesVersion
from ghes_setup.registry.retry import RetryPolicy
from ghes_setup.registry.smoke import SmokeRequest
from ghes_setup.secrets import Secret
from ghes_setup.tls.probe import FailureKind, ProbeFailure, ServedChain
from tests.conftest import CliRunner
from tests.registry.fake import HOST as FAKE_HOST
from tests.registry.fake import FakeRegistry, Fault
from tests.tls.corpus import HOST, NOW, cert_pem, pki

ADDR = "10.0.0.5"
REG = f"containers.{HOST}"
CLASSIC = "ghp_" + "a1" * 18
FINE = "github_pat_" + "b2" * 30


@dataclass
class FakeMachine:
    """What one machine answers: names, served chains, its store, the REST API, its tools."""

    root: Path
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    served: tuple[x509.Certificate, ...] = ()
    store: tuple[x509.Certificate, ...] = ()
    public: tuple[x509.Certificate, ...] = ()
    api: dict[str, tuple[int, dict[str, str], str | None]] = field(default_factory=dict)
    connect: tuple[int | None, str] = (200, "HTTP/1.1 200 Connection established")
    tools: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    connects: list[tuple[str, str, int]] = field(default_factory=list)

    def lookup(self, name: str) -> tuple[tuple[str, ...], str | None]:
        addresses = self.names.get(name, ())
        if not addresses and name.endswith(f".{HOST}") and "*" in self.names:
            addresses = self.names["*"]
        return (addresses, None) if addresses else ((), "no such host")

    def fetch(self, host: str, address: str, port: int, timeout: float) -> Any:
        if not self.served:
            return ProbeFailure(host, address, port, FailureKind.REFUSED, "connection refused")
        return ServedChain(host, address, port, self.served)

    def user(self, token: Secret) -> tuple[int, Mapping[str, str], str | None]:
        return self.api.get(token.reveal(), (401, {}, None))

    def connect_probe(self, proxy: str, host: str, port: int) -> tuple[int | None, str]:
        self.connects.append((proxy, host, port))
        return self.connect

    def context(self, **kw: Any) -> ClientContext:
        base: dict[str, Any] = {
            "hostname": HOST,
            "labels": ("containers",),
            "environ": self.env,
            "system_lookup": self.lookup,
            "fetch": self.fetch,
            "trust_roots": lambda: self.store,
            "public_roots": lambda: self.public,
            "user_probe": self.user,
            "connect_probe": self.connect_probe,
            "which": self.tools.get,
            "run": lambda argv: (0, "Docker version 27.3.1, build ce12230"),
            "now": NOW,
            "home": self.root / "home",
            "root": self.root,
            "probe_label": "ghes-setup-probe-1234",
        }
        base.update(kw)
        return ClientContext(**base)


def healthy(tmp_path: Path, **kw: Any) -> FakeMachine:
    p = pki()
    leaf = p.leaf()
    return FakeMachine(
        root=tmp_path,
        names={HOST: (ADDR,), "*": (ADDR,)},
        served=(leaf, p.inter.cert),
        store=(p.root.cert,),
        **kw,
    )


def run(check: Any, ctx: ClientContext) -> CheckResult:
    return run_checks((check,), ctx)[0]


# ------------------------------------------------------------------ client-dns


def test_every_name_and_the_wildcard_resolving_passes(tmp_path: Path) -> None:
    result = run(client_dns, healthy(tmp_path).context(expect=frozenset({ADDR})))
    assert result.status is Status.PASS, result
    assert "wildcard" in result.summary and "site file" in result.summary


def test_names_added_one_by_one_without_wildcard_warn(tmp_path: Path) -> None:
    machine = healthy(tmp_path)
    machine.names = {HOST: (ADDR,), REG: (ADDR,)}
    result = run(client_dns, machine.context())
    assert result.status is Status.WARN
    assert f"*.{HOST}" in (result.remedy or "")


def test_answers_differing_from_the_appliance_dns_are_split_horizon(tmp_path: Path) -> None:
    machine = healthy(tmp_path)
    machine.names = {HOST: ("192.0.2.7",), "*": ("192.0.2.7",)}

    def appliance(name: str) -> Lookup:
        return Lookup(name, LookupStatus.OK, (ADDR,), server="10.0.0.53")

    result = run(
        client_dns,
        machine.context(appliance_dns=appliance, appliance_dns_servers=("10.0.0.53",)),
    )
    assert result.status is Status.FAIL
    assert result.summary.startswith("split-horizon DNS")
    assert "192.0.2.7" in result.summary and ADDR in result.summary
    assert "10.0.0.53" in result.summary


# ------------------------------------------------------------------ client-tls-trust


def test_chain_to_a_root_in_the_store_passes(tmp_path: Path) -> None:
    result = run(client_tls_trust, healthy(tmp_path).context())
    assert result.status is Status.PASS, result


def test_root_missing_from_the_store_is_named_with_its_fingerprint(tmp_path: Path) -> None:
    machine = healthy(tmp_path, env={})
    machine.store = ()
    machine.tools = {"update-ca-certificates": "/usr/sbin/update-ca-certificates"}
    result = run(client_tls_trust, machine.context(ca_file=Path("/srv/ca.pem")))
    assert result.status is Status.FAIL
    root = pki().root.cert.subject.rfc4514_string()
    assert root in result.summary and "unknown authority" in result.summary
    assert result.details["missing_issuer"] == root
    assert "missing_issuer_sha256" not in result.details  # the server did not send the root
    assert (
        "`sudo cp /srv/ca.pem /usr/local/share/ca-certificates/ghes-ca.crt && "
        "sudo update-ca-certificates`" in (result.remedy or "")
    )


def test_a_sent_root_gets_its_fingerprint_and_ssl_cert_file_its_own_remedy(
    tmp_path: Path,
) -> None:
    p = pki()
    machine = healthy(tmp_path, env={"SSL_CERT_FILE": "/opt/bundle.pem"})
    machine.served = (p.leaf(), p.inter.cert, p.root.cert)
    machine.store = ()
    result = run(client_tls_trust, machine.context(is_root=True))
    assert result.status is Status.FAIL
    assert result.details["missing_issuer_sha256"].count(":") == 31
    assert "`cat CA.crt | tee -a /opt/bundle.pem >/dev/null`" in (result.remedy or "")


def test_trusted_but_wrong_name_says_the_ca_is_fine(tmp_path: Path) -> None:
    p = pki()
    machine = healthy(tmp_path)
    machine.served = (p.leaf(sans=("other.example.com",)), p.inter.cert)
    result = run(client_tls_trust, machine.context())
    assert result.status is Status.FAIL
    assert result.summary.startswith("trusted CA, but")


# ------------------------------------------------------------------ client-ca-paths


def test_private_ca_missing_for_docker_prints_each_command(tmp_path: Path) -> None:
    p = pki()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(cert_pem(p.root.cert))
    machine = healthy(tmp_path)
    machine.store = ()
    machine.tools = {"docker": "/usr/bin/docker", "update-ca-certificates": "/x"}
    result = run(client_ca_paths, machine.context(ca_file=ca, https_port=8443))
    assert result.status is Status.FAIL
    remedy = result.remedy or ""
    assert f"sudo cp {ca} /usr/local/share/ca-certificates/ghes-ca.crt" in remedy
    assert (
        f"sudo mkdir -p /etc/docker/certs.d/{REG}:8443 && "
        f"sudo cp {ca} /etc/docker/certs.d/{REG}:8443/ca.crt" in remedy
    )
    states = {loc["client"]: loc["state"] for loc in result.details["locations"]}
    assert states["podman/skopeo/buildah"] == "not used"


def test_ca_in_the_store_covers_docker_and_node_needs_its_variable(tmp_path: Path) -> None:
    p = pki()
    extra = tmp_path / "node-ca.pem"
    extra.write_bytes(cert_pem(p.inter.cert))  # the wrong certificate
    # The machine's files live under its root folder: /node-ca.pem is tmp_path/node-ca.pem.
    machine = healthy(tmp_path, env={"NODE_EXTRA_CA_CERTS": "/node-ca.pem"})
    machine.tools = {"docker": "/usr/bin/docker"}
    result = run(client_ca_paths, machine.context(is_root=True))
    assert result.status is Status.FAIL
    states = {loc["client"]: loc["state"] for loc in result.details["locations"]}
    assert states["docker"] == "covered" and states["npm/node"] == "missing"
    assert "cat CA.crt >> /node-ca.pem" in (result.remedy or "")
    extra.write_bytes(cert_pem(p.root.cert))
    fixed = run(client_ca_paths, machine.context(is_root=True))
    assert fixed.status is Status.PASS, fixed


def test_certs_d_file_counts_as_installed(tmp_path: Path) -> None:
    p = pki()
    folder = tmp_path / "etc/docker/certs.d" / REG
    folder.mkdir(parents=True)
    (folder / "ca.crt").write_bytes(cert_pem(p.root.cert))
    machine = healthy(tmp_path)
    machine.served = (p.leaf(), p.inter.cert, p.root.cert)
    machine.store = ()
    machine.tools = {"docker": "/usr/bin/docker"}
    result = run(client_ca_paths, machine.context())
    states = {loc["client"]: loc["state"] for loc in result.details["locations"]}
    assert states["docker"] == "installed"
    assert states["system store (OpenSSL, Go, curl, git)"] == "missing"


def test_public_ca_needs_nothing(tmp_path: Path) -> None:
    machine = healthy(tmp_path)
    machine.public = (pki().root.cert,)
    result = run(client_ca_paths, machine.context())
    assert result.status is Status.PASS and result.details["public"] is True


# ------------------------------------------------------------------ client-proxy


def test_proxy_that_reaches_the_appliance_warns_and_is_tried_per_name(tmp_path: Path) -> None:
    machine = healthy(tmp_path, env={"HTTPS_PROXY": "http://bob:pw@proxy.corp:3128"})
    result = run(client_proxy, machine.context())
    assert result.status is Status.WARN
    assert {host for _, host, _ in machine.connects} == {HOST, REG}
    assert "pw" not in json.dumps(dict(result.details)) + result.summary


def test_only_curl_through_a_failing_proxy_is_a_warning(tmp_path: Path) -> None:
    machine = healthy(tmp_path, env={"https_proxy": "http://p:3128", "NO_PROXY": f"*.{HOST},*"})
    machine.connect = (502, "HTTP/1.1 502 Bad Gateway")
    # Go: "*" anywhere means no proxy; curl: "*" only alone, and *.HOST matches nothing.
    result = run(client_proxy, machine.context())
    assert result.status is Status.WARN, result
    assert "curl and git" in result.summary


def test_a_space_separated_no_proxy_is_named_and_the_remedy_uses_commas(tmp_path: Path) -> None:
    # curl stops at "localhost" (a blank not followed by a comma ends its list) and Go takes
    # "localhost HOST" as one entry: both send the appliance through the proxy.
    machine = healthy(
        tmp_path, env={"HTTPS_PROXY": "http://p:3128", "NO_PROXY": f"localhost {HOST}"}
    )
    machine.connect = (502, "HTTP/1.1 502 Bad Gateway")
    result = run(client_proxy, machine.context())
    assert result.status is Status.FAIL, result
    assert "space alone" in result.summary
    assert result.remedy is not None
    assert f"export NO_PROXY=localhost,{HOST} no_proxy=localhost,{HOST} " in result.remedy
    assert all(row["bypass"] is None for row in result.details["curl"])


# ------------------------------------------------------------------ client-token


@pytest.mark.parametrize(
    ("token", "api", "status", "words"),
    [
        (FINE, (200, {}, "octo"), Status.FAIL, ["fine-grained", "as octo"]),
        (CLASSIC, (401, {}, None), Status.FAIL, ["HTTP 401"]),
        (CLASSIC, (200, {"X-OAuth-Scopes": "repo"}, "octo"), Status.FAIL, ["no package scope"]),
        (CLASSIC, (200, {"X-OAuth-Scopes": "read:packages"}, "octo"), Status.WARN, ["pull"]),
        (
            CLASSIC,
            (
                200,
                {
                    "X-OAuth-Scopes": "write:packages, repo",
                    "GitHub-Authentication-Token-Expiration": "2027-01-01 00:00:00 UTC",
                },
                "octo",
            ),
            Status.PASS,
            ["pull and push", "expires 2027-01-01"],
        ),
        (CLASSIC, (200, {}, "octo"), Status.FAIL, ["without X-OAuth-Scopes"]),
        ("ghs_" + "c" * 36, (200, {}, "bot"), Status.WARN, ["permissions: packages"]),
    ],
)
def test_token_kinds_and_scopes_are_named_and_the_value_never_shown(
    tmp_path: Path,
    token: str,
    api: tuple[int, dict[str, str], str | None],
    status: Status,
    words: list[str],
) -> None:
    machine = healthy(tmp_path)
    machine.api = {token: api}
    result = run(client_token, machine.context(token=Secret(token, "GHES_SETUP_TOKEN")))
    assert result.status is status, result
    for word in words:
        assert word in result.summary
    text = json.dumps([result.summary, result.remedy, dict(result.details)])
    assert token not in text
    assert result.details["source"] == "GHES_SETUP_TOKEN"


def test_no_token_skips(tmp_path: Path) -> None:
    assert run(client_token, healthy(tmp_path).context()).status is Status.SKIP


# ------------------------------------------------------------------ client-docker


def test_docker_without_credentials_gives_the_login_line_with_the_tokens_owner(
    tmp_path: Path,
) -> None:
    machine = healthy(tmp_path)
    machine.tools = {"docker": "/usr/bin/docker"}
    machine.api = {CLASSIC: (200, {"X-OAuth-Scopes": "write:packages"}, "octo")}
    result = run(client_docker, machine.context(token=Secret(CLASSIC)))
    assert result.status is Status.WARN
    assert "docker 27.3.1" in result.summary
    assert result.details["login_command"] == (f"docker login {REG} -u octo --password-stdin")
    assert CLASSIC not in (result.remedy or "")


@pytest.mark.parametrize(
    ("config", "found"),
    [
        ({"auths": {f"https://{REG}": {"auth": "x"}}}, "auths entry"),
        ({"credHelpers": {REG: "pass"}}, "docker-credential-pass"),
        ({"credsStore": "desktop"}, "may hold it"),
    ],
)
def test_docker_credentials_are_found(
    tmp_path: Path, config: dict[str, object], found: str
) -> None:
    folder = tmp_path / "home" / ".docker"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    machine = healthy(tmp_path)
    machine.tools = {"docker": "/usr/bin/docker"}
    result = run(client_docker, machine.context())
    assert result.status is Status.PASS, result
    assert found in result.summary


def test_podman_auth_file_and_no_cli(tmp_path: Path) -> None:
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {REG: {"auth": "x"}}}), encoding="utf-8")
    machine = healthy(tmp_path, env={"REGISTRY_AUTH_FILE": str(auth)})
    machine.tools = {"podman": "/usr/bin/podman"}
    assert run(client_docker, machine.context()).status is Status.PASS
    machine.tools = {}
    none = run(client_docker, machine.context(user="ci-bot"))
    assert none.status is Status.WARN
    assert none.details["login_command"] == f"docker login {REG} -u ci-bot --password-stdin"


# ------------------------------------------------------------------ the table, versions


def test_the_whole_table_passes_on_a_prepared_machine(tmp_path: Path) -> None:
    folder = tmp_path / "home" / ".docker"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"auths": {REG: {}}}), encoding="utf-8")
    machine = healthy(tmp_path)
    machine.tools = {"docker": "/usr/bin/docker"}
    machine.api = {CLASSIC: (200, {"X-OAuth-Scopes": "write:packages"}, "octo")}
    results = run_checks(CHECKS, machine.context(token=Secret(CLASSIC)))
    assert [r.status for r in results] == [Status.PASS] * 6, results
    assert [r.id for r in results] == [
        "client-dns",
        "client-tls-trust",
        "client-ca-paths",
        "client-proxy",
        "client-token",
        "client-docker",
    ]


def test_ecosystem_subdomains_come_from_the_facts_table_per_version() -> None:
    assert ecosystem_labels(("container", "npm", "maven"), None) == ("containers", "npm", "maven")
    # The Container registry (containers.) exists from GHES 3.5 on.
    assert ecosystem_labels(("container", "npm"), GhesVersion.parse("3.4")) == ("npm",)
    assert parse_ecosystems(["NPM", "containers", "docker"]) == ("container", "npm", "docker")
    with pytest.raises(InputError, match="not a GitHub Packages ecosystem"):
        parse_ecosystems(["pypi"])


def test_cli_refuses_bad_input_before_any_probe(cli: CliRunner) -> None:
    bad = cli("client", "check", HOST, "--ecosystem", "pypi")
    assert bad.exit_code == 3 and "pypi" in bad.stderr
    smoke = cli("client", "check", HOST, "--smoke")
    assert smoke.exit_code == 3 and "--smoke needs a token" in smoke.stderr
    both = cli("client", "check", HOST, "--token-stdin", "--token-file", "/x")
    assert both.exit_code == 2
    nothing = cli("client", "check")  # no HOSTNAME and no site file
    assert nothing.exit_code == 3 and "no hostname given" in nothing.stderr
    assert "Traceback" not in bad.output + smoke.output + nothing.output


def test_cli_takes_format_and_strict_but_no_textfile(cli: CliRunner, tmp_path: Path) -> None:
    """`with_report(textfile=False)`: the report options of the other check commands but
    --textfile; a report format is accepted up to the first input error."""
    textfile = cli("client", "check", HOST, "--textfile", str(tmp_path / "c.prom"))
    assert textfile.exit_code == 2 and "No such option: --textfile" in textfile.stderr
    json_bad = cli("client", "check", HOST, "--format", "json", "--strict", "--ecosystem", "pypi")
    assert json_bad.exit_code == 3 and "pypi" in json_bad.stderr
    assert not (tmp_path / "c.prom").exists()


def test_cli_reads_the_token_file_from_the_current_folder(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--token-file (the option registry smoke also takes) is read before any probe; a relative
    path is from the current folder: its error names the absolute path, never the token."""
    (tmp_path / "pat").write_text("\nghp_second_line_is_not_read\n")
    (tmp_path / "pat").chmod(0o600)
    monkeypatch.chdir(tmp_path)
    result = cli("client", "check", HOST, "--token-file", "pat")
    assert result.exit_code == 3, result
    assert f"--token-file {tmp_path / 'pat'}" in result.stderr
    assert "empty first line" in result.stderr
    assert "ghp_second_line_is_not_read" not in result.output


# ------------------------------------------------------------------ registry-smoke from here


def _smoke_ctx(tmp_path: Path, fake: FakeRegistry, env: dict[str, str]) -> tuple[Any, list[Any]]:
    used: list[str | None] = []

    def http(proxy: str | None) -> Any:
        used.append(proxy)
        return lambda _request: fake.client()

    machine = FakeMachine(root=tmp_path, env=env)
    request = SmokeRequest(
        hostname=FAKE_HOST,
        token=Secret("pat-write"),
        namespace="octo-org",
        size=200_000,
        retry=RetryPolicy(attempts=2, initial_delay_s=0.001, max_delay_s=0.01),
        workdir=tmp_path,
    )
    return machine.context(hostname=FAKE_HOST, smoke=request, smoke_http=http), used


def test_smoke_goes_through_the_proxy_docker_would_use(tmp_path: Path) -> None:
    fake = FakeRegistry()
    ctx, used = _smoke_ctx(tmp_path, fake, {"HTTPS_PROXY": "http://u:pw@proxy.corp:3128"})
    result = run(client_smoke, ctx)
    assert result.status is Status.PASS, result
    assert used == ["http://u:pw@proxy.corp:3128"]
    assert result.details["proxy"] == "http://u:***@proxy.corp:3128"
    direct, used_direct = _smoke_ctx(tmp_path, FakeRegistry(), {"NO_PROXY": FAKE_HOST})
    assert run(client_smoke, direct).status is Status.PASS
    assert used_direct == [None]


def test_a_413_on_upload_is_named_request_body_too_large(tmp_path: Path) -> None:
    fake = FakeRegistry()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", 413, code="SIZE_INVALID", times=10))
    ctx, _ = _smoke_ctx(tmp_path, fake, {"HTTPS_PROXY": "http://proxy.corp:3128"})
    result = run(client_smoke, ctx)
    assert result.status is Status.FAIL, result
    assert result.summary.startswith(
        "request body too large (HTTP 413) from the proxy http://proxy.corp:3128"
    )
    assert "NO_PROXY" in (result.remedy or "")
