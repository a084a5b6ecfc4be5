"""The debug trace (`--debug`, `--log-file`), curl's HTTPS_PROXY/NO_PROXY rules and `-q`.

The trace is scanned for seeded secrets in every form the scrubber knows
(`secrets.encoded_forms`: raw, escaped, percent-encoded, base64 at each alignment).
"""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from ghes_setup import trace
from ghes_setup.appliance.ssh import (
    APPLY_SCRIPT,
    READ_SCRIPT,
    STATUS_SCRIPT,
    UTILITY_SCRIPT,
    WRITE_SCRIPT,
    remote_command,
    script_name,
)
from ghes_setup.httpclient import env_proxy, make_client
from ghes_setup.secrets import Secret, encoded_forms
from tests.conftest import CliRunner, assert_no_traceback


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lines() -> Iterator[list[str]]:
    seen: list[str] = []
    trace.enable(seen.append)
    try:
        yield seen
    finally:
        trace.disable()


def _assert_scrubbed(text: str, value: str) -> None:
    for form in sorted(encoded_forms(value)):
        assert form not in text, f"secret form {form!r} in the trace"


def test_http_requests_and_responses_are_traced_with_secrets_scrubbed(
    http_server: str, lines: list[str]
) -> None:
    value = "s3cr3t/Pa$$+w0rd=?&"
    Secret(value, "seeded")
    with make_client(env_proxies=False) as client:
        response = client.get(f"{http_server}/api/v3/user?access_token={quote(value, safe='')}")
        client.get(f"{http_server}/plain", params={"t": value})
    assert response.status_code == 200
    text = "".join(lines)
    assert "http > GET http://127.0.0.1:" in text
    assert "http < HTTP/1.0 200 OK (GET http://127.0.0.1:" in text
    assert "/api/v3/user?access_token=" in text
    # and a secret inside an Authorization-like text, base64 at another alignment:
    trace.event("http", "Authorization: Basic " + base64.b64encode(f"x:{value}".encode()).decode())
    text = "".join(lines)
    _assert_scrubbed(text, value)
    assert text.count("\n") == len(lines)  # one line per event


def test_trace_is_off_by_default_and_costs_nothing(http_server: str) -> None:
    assert not trace.enabled()
    with make_client(env_proxies=False) as client:
        assert client.get(http_server).status_code == 200


def test_ssh_commands_are_traced_by_script_name_never_arguments() -> None:
    names = {
        READ_SCRIPT: "read-settings",
        WRITE_SCRIPT: "write-settings",
        APPLY_SCRIPT: "start-config-apply",
        STATUS_SCRIPT: "config-apply-status",
        UTILITY_SCRIPT: "utility",
    }
    for script, name in names.items():
        command = remote_command(script, ["1", "secrets.packages.aws-secret-key"])
        assert script_name(command) == name
    assert script_name("ghe-config --list") == "command"


@pytest.mark.parametrize(
    ("env", "url", "want"),
    [
        ({}, "https://ghe.example.com/", None),
        ({"HTTPS_PROXY": "http://p:3128"}, "https://ghe.example.com/", "http://p:3128"),
        ({"https_proxy": "p:3128"}, "https://ghe.example.com/", "http://p:3128"),
        (  # curl: the lower-case variable first
            {"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"},
            "https://ghe.example.com/",
            "http://low:1",
        ),
        ({"ALL_PROXY": "http://all:1"}, "https://ghe.example.com/", "http://all:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://ghe.ex.com/", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ex.com"}, "https://ghe.ex.com/", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".ex.com"}, "https://ghe.ex.com/", None),
        (  # a suffix that is not a label boundary does not match
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ample.com"},
            "https://ghe.example.com/",
            "http://p:1",
        ),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ghe.example.com"},
            "https://containers.ghe.example.com/v2/",
            None,
        ),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, "https://ghe.example.com/", None),
        (  # `*` inside a list is not "everything" for curl
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "a.test,*"},
            "https://ghe.example.com/",
            "http://p:1",
        ),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3/", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://11.0.0.1/", "http://p:1"),
        (  # loopback is not special for curl: it goes through the proxy unless listed
            {"HTTPS_PROXY": "http://p:1"},
            "https://127.0.0.1:8443/",
            "http://p:1",
        ),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "g.ex.com:8443"}, "https://g.ex.com:8443", None),
        (  # plain http: only the lower-case http_proxy
            {"HTTP_PROXY": "http://up:1"},
            "http://ghe.example.com:8080/",
            None,
        ),
    ],
)  # fmt: skip
def test_env_proxy_follows_curl(env: dict[str, str], url: str, want: str | None) -> None:
    assert env_proxy(httpx.URL(url), env) == want


def test_unreachable_env_proxy_is_used_not_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy in the environment really carries the request: a dead one fails it."""
    from ghes_setup.errors import Unreachable
    from ghes_setup.httpclient import translated
    from tests.ports import free_port

    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port('127.0.0.1')}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(Unreachable), translated("GET"), make_client(timeout=2) as client:
        client.get("https://ghe.example.invalid/")


def test_cli_debug_traces_dns_queries_to_stderr_and_log_file_is_0600(
    cli: CliRunner, tmp_path: Path
) -> None:
    from tests.ports import free_port

    log = tmp_path / "trace.log"
    port = free_port("127.0.0.1", udp=True)
    old = os.umask(0)
    try:
        result = cli(
            "--debug", "--log-file", str(log), "dns", "check", "ghe.example.com",
            "--nameserver", f"127.0.0.1:{port}", "--timeout", "1", "--format", "json",
        )  # fmt: skip
    finally:
        os.umask(old)
    assert_no_traceback(result)
    assert "debug " in result.stderr and "dns  > A ghe.example.com @127.0.0.1:" in result.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "dns  > A ghe.example.com" in text
    assert f"exit code {result.exit_code}" in text
    # --log-file without --debug: the file only, standard error stays quiet.
    again = cli("--log-file", str(log), "dns", "check", "ghe.example.com",
                "--nameserver", f"127.0.0.1:{port}", "--format", "json")  # fmt: skip
    assert "debug " not in again.stderr
    assert log.read_text().count("run  ghes-setup") == 2  # appended, not replaced
    assert not trace.enabled()  # the run ended its trace


def test_log_file_is_never_written_through_a_symlink(cli: CliRunner, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "trace.log"
    link.symlink_to(victim)
    result = cli("--log-file", str(link), "dns", "check", "ghe.example.com", "--format", "json")
    assert result.exit_code == 3, result
    assert "symbolic link" in result.stderr
    assert victim.read_text() == "keep\n"


def test_log_file_tightens_an_existing_file_to_0600(tmp_path: Path) -> None:
    from ghes_setup.files import open_private_log

    path = tmp_path / "old.log"
    path.write_text("before\n")
    path.chmod(0o644)
    with open_private_log(path) as handle:
        handle.write("after\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "before\nafter\n"


def test_root_options_are_accepted_anywhere_on_the_line() -> None:
    from ghes_setup.cli.main import _hoist_root_options

    front, rest = _hoist_root_options(
        ["dns", "check", "-q", "h.example", "--log-file", "f.log", "--debug", "--", "-v"]
    )
    assert front == ["--quiet", "--log-file", "f.log", "--debug"]
    assert rest == ["dns", "check", "h.example", "--", "-v"]


def test_quiet_and_verbose_together_are_a_usage_error(cli: CliRunner) -> None:
    result = cli("-q", "-v", "dns", "check", "ghe.example.com")
    assert result.exit_code == 2, result


def test_quiet_still_prints_the_refusal_to_change_without_a_terminal(cli: CliRunner) -> None:
    result = cli("-q", "config", "apply")
    assert result.exit_code == 2, result
    assert "pass --yes" in result.stderr


def test_system_resolver_lookups_are_traced(lines: list[str]) -> None:
    from ghes_setup.net import SystemResolver

    assert SystemResolver().addresses("localhost")
    text = "".join(lines)
    assert "dns  > localhost (system resolver, getaddrinfo)" in text
    assert "dns  < localhost: " in text
