"""`client check` from a simulated runner against the lab appliance (real nginx, registry,
dnsmasq, token service; a real tinyproxy as the egress proxy).

Each test builds a runner (tests/client/machine.py): a private mount namespace with its own
/etc/hosts, /etc/resolv.conf, trust store, /etc/docker, /etc/containers, HOME and environment.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.client.machine import DEAD_RESOLVER, Machine, lab_hosts, tinyproxy
from tests.fixtures.lab import LabHandle

pytestmark = pytest.mark.lab


def _doc(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        return dict(json.loads(proc.stdout))
    except ValueError:
        raise AssertionError(f"not JSON ({proc.returncode}): {proc.stdout}{proc.stderr}") from None


def _result(doc: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(r for r in doc["results"] if r["id"] == check_id)


def _ca_subject(lab: LabHandle) -> str:
    return x509.load_pem_x509_certificate(lab.ca_file.read_bytes()).subject.rfc4514_string()


@pytest.fixture
def runner(registry_lab: LabHandle, tmp_path: Path) -> Machine:
    """A runner whose resolver is the lab's DNS server (the wildcard included), and whose
    trust store is this host's distribution store (without the lab CA)."""
    return Machine.create(tmp_path / "runner", hosts="", nameserver=registry_lab.address)


def test_untrusted_private_ca_names_the_issuer_and_its_remedy_fixes_it(
    registry_lab: LabHandle, runner: Machine
) -> None:
    site = str(registry_lab.site_path)
    before = runner.client_check("--site", site, "--format", "json")
    doc = _doc(before)
    trust = _result(doc, "client-tls-trust")
    assert trust["status"] == "fail", trust
    issuer = _ca_subject(registry_lab)
    assert issuer in trust["summary"]
    assert "unknown authority" in trust["summary"]
    command = re.search(r"`([^`]+)`", trust["remedy"])
    assert command is not None, trust["remedy"]
    assert "update-ca-certificates" in command.group(1)
    assert str(registry_lab.ca_file) in command.group(1)
    assert _result(doc, "client-ca-paths")["status"] == "fail"
    assert before.returncode == 1
    nagios = runner.client_check("--site", site, "--format", "nagios")
    assert nagios.returncode == 2  # CRITICAL
    assert nagios.stdout.startswith("GHES-SETUP CRITICAL - client-tls-trust: ")

    applied = runner.shell(command.group(1))
    assert applied.returncode == 0, applied.stderr

    after = _doc(runner.client_check("--site", site, "--format", "json"))
    assert _result(after, "client-tls-trust")["status"] == "pass", _result(
        after, "client-tls-trust"
    )
    # Clients that do not read the system store (node, if this machine has it) still miss
    # it; applying what client-ca-paths prints for them makes it pass too.
    env: dict[str, str] = {}
    for location in _result(after, "client-ca-paths")["details"]["locations"]:
        if location["state"] != "missing":
            continue
        fix = location["fix"]
        if fix.startswith("export "):
            name, _, value = fix.removeprefix("export ").partition("=")
            env[name] = value
        else:
            assert runner.shell(fix).returncode == 0, fix
    after = _doc(runner.client_check("--site", site, "--format", "json", env=env))
    paths = _result(after, "client-ca-paths")
    assert paths["status"] == "pass", paths
    store = next(loc for loc in paths["details"]["locations"] if "system" in loc["client"])
    assert store["state"] == "installed"
    # The names the site's ecosystems need were checked too (npm is enabled in the lab site).
    dns = _result(after, "client-dns")
    assert dns["status"] == "pass", dns
    assert f"npm.{registry_lab.hostname}" in dns["details"]["names"]


def test_runs_without_root_and_then_prints_sudo_in_its_commands(
    registry_lab: LabHandle, runner: Machine
) -> None:
    whoami = runner.run(["id", "-u"], unprivileged=True)
    assert whoami.stdout.strip() == "65534", whoami.stderr
    proc = runner.client_check(
        registry_lab.hostname, "--format", "json", env={"HOME": "/nonexistent"}, unprivileged=True
    )
    doc = _doc(proc)
    assert _result(doc, "client-dns")["status"] == "pass", _result(doc, "client-dns")
    trust = _result(doc, "client-tls-trust")
    assert trust["status"] == "fail"
    assert (
        "`sudo cp CA.crt /usr/local/share/ca-certificates/ghes-ca.crt && sudo " in trust["remedy"]
    )
    assert proc.returncode == 1, proc.stderr


def test_resolver_without_the_wildcard_fails_client_dns(
    registry_lab: LabHandle, runner: Machine
) -> None:
    registry_lab.fault("dns-no-wildcard")
    try:
        doc = _doc(runner.client_check(registry_lab.hostname, "--format", "json"))
    finally:
        registry_lab.clear_faults()
    dns = _result(doc, "client-dns")
    assert dns["status"] == "fail", dns
    assert f"{registry_lab.registry_host}: no such host" in dns["summary"]
    assert "no *.HOSTNAME wildcard" in dns["summary"]
    assert f"*.{registry_lab.hostname}" in dns["remedy"]


def test_answers_other_than_the_appliance_dns_are_named_split_horizon(
    registry_lab: LabHandle, runner: Machine
) -> None:
    elsewhere = "127.77.206.9"
    runner.set_hosts(lab_hosts(registry_lab, address=elsewhere))
    doc = _doc(
        runner.client_check(
            registry_lab.hostname,
            "--nameserver",
            registry_lab.address,
            "--format",
            "json",
        )
    )
    dns = _result(doc, "client-dns")
    assert dns["status"] == "fail", dns
    assert dns["summary"].startswith("split-horizon DNS")
    assert elsewhere in dns["summary"] and registry_lab.address in dns["summary"]


# (NO_PROXY, client-proxy status, words in the summary). The proxy resolves nothing of the lab,
# like an egress proxy outside the internal DNS view: whatever goes through it fails.
PROXY_CASES = [
    (None, "fail", ["through the proxy", "cannot reach"]),
    ("{host}", "pass", ["NO_PROXY covers every needed name"]),
    (".{host}", "fail", ["docker and curl disagree", "{host}: docker proxy, curl direct"]),
    ("*.{host}", "fail", ["through the proxy"]),
    ("127.77.0.0/16", "fail", ["CIDRs with IP-literal URLs only"]),
    ("*", "pass", ["NO_PROXY covers"]),
]


@pytest.mark.parametrize(("no_proxy", "status", "words"), PROXY_CASES)
def test_proxy_verdicts_follow_go_and_curl_rules_with_a_real_proxy(
    registry_lab: LabHandle,
    runner: Machine,
    tmp_path: Path,
    no_proxy: str | None,
    status: str,
    words: list[str],
) -> None:
    host = registry_lab.hostname
    with tinyproxy(tmp_path / "proxy", hosts="") as proxy:
        env = {"HTTPS_PROXY": proxy}
        if no_proxy is not None:
            env["NO_PROXY"] = no_proxy.format(host=host)
        doc = _doc(runner.client_check(host, "--format", "json", env=env))
    result = _result(doc, "client-proxy")
    assert result["status"] == status, result
    for word in words:
        assert word.format(host=host) in result["summary"], result["summary"]
    if status == "fail":
        assert f"NO_PROXY={host}" in result["remedy"] or f",{host}" in result["remedy"]


def test_a_proxy_that_reaches_the_appliance_is_a_warning(
    registry_lab: LabHandle, runner: Machine, tmp_path: Path
) -> None:
    with tinyproxy(tmp_path / "proxy", hosts=lab_hosts(registry_lab)) as proxy:
        doc = _doc(
            runner.client_check(
                registry_lab.hostname, "--format", "json", env={"https_proxy": proxy}
            )
        )
    result = _result(doc, "client-proxy")
    assert result["status"] == "warn", result
    assert "it reaches the appliance" in result["summary"]
    assert all(c["status"] == 200 for c in result["details"]["connect"].values())


@pytest.mark.parametrize(
    ("which", "status", "words"),
    [
        (
            "fine_grained_token",
            "fail",
            [
                "fine-grained",
                "authenticates to the REST API",
                "classic personal access tokens only",
            ],
        ),
        ("read_token", "warn", ["can pull but not push", "read:packages"]),
        ("write_token", "pass", ["can pull and push"]),
    ],
)
def test_tokens_are_named_precisely_and_never_printed(
    registry_lab: LabHandle, runner: Machine, which: str, status: str, words: list[str]
) -> None:
    token = getattr(registry_lab, which)
    assert token, f"the lab has no {which}"
    runner.trust(registry_lab.ca_file)
    for fmt in ("json", "human"):
        proc = runner.client_check(
            registry_lab.hostname, "--token-stdin", "--format", fmt, input=token + "\n"
        )
        assert token not in proc.stdout + proc.stderr
        if fmt == "human":
            assert "--password-stdin" in proc.stdout
            continue
        doc = _doc(proc)
        result = _result(doc, "client-token")
        assert result["status"] == status, result
        for word in words:
            assert word in result["summary"], result["summary"]
        docker = _result(doc, "client-docker")
        assert docker["details"]["login_command"] == (
            f"docker login {registry_lab.registry_host} -u {registry_lab.user} --password-stdin"
        )


def test_smoke_from_the_runner_pushes_and_pulls_through_the_front_door(
    registry_lab: LabHandle, runner: Machine
) -> None:
    runner.trust(registry_lab.ca_file)
    proc = runner.client_check(
        "--site",
        str(registry_lab.site_path),
        "--smoke",
        "--size",
        "1MiB",
        "--format",
        "json",
        env={"GHES_SETUP_TOKEN": registry_lab.write_token},
    )
    doc = _doc(proc)
    smoke = _result(doc, "registry-smoke")
    assert smoke["status"] == "pass", smoke
    steps = {s["step"]: s["status"] for s in smoke["details"]["steps"]}
    assert steps["push blobs"] == "pass" and steps["pull by digest"] == "pass", steps
    assert registry_lab.write_token not in proc.stdout + proc.stderr
    assert DEAD_RESOLVER not in proc.stdout


def test_smoke_goes_through_the_runners_proxy_like_docker(
    registry_lab: LabHandle, runner: Machine, tmp_path: Path
) -> None:
    runner.trust(registry_lab.ca_file)
    with tinyproxy(tmp_path / "proxy", hosts=lab_hosts(registry_lab)) as proxy:
        proc = runner.client_check(
            registry_lab.hostname,
            "--smoke",
            "--format",
            "json",
            env={"GHES_SETUP_TOKEN": registry_lab.write_token, "HTTPS_PROXY": proxy},
        )
        log = (tmp_path / "proxy" / "tinyproxy.log").read_text(encoding="utf-8", errors="replace")
    doc = _doc(proc)
    smoke = _result(doc, "registry-smoke")
    assert smoke["status"] == "pass", smoke
    assert smoke["details"]["proxy"] == proxy
    assert f"CONNECT {registry_lab.registry_host}:443" in log
    assert registry_lab.write_token not in proc.stdout + proc.stderr + log
