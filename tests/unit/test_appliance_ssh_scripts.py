"""The admin-shell scripts of SshTransport, run by a local bash against state-based stubs.

No sockets: `bash -c SCRIPT` runs here with a `ghe-config` stub (git-config files, like
backup-utils' test/bin stub) first on PATH. This is where the two-phase write protocol's
rollback paths are proven one by one (a failing write, end of input, a killed script).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ghes_setup.appliance import ssh
from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions
from ghes_setup.errors import Unreachable

GHE_CONFIG_STUB = r"""#!/bin/bash
# Test stub: git-config storage; secrets.* in secrets.conf. FAIL_KEY makes setting it fail.
conf=$STUB/github.conf; secrets=$STUB/secrets.conf
file_for() { case $1 in secrets.*) echo "$secrets" ;; *) echo "$conf" ;; esac; }
echo "$*" | cut -c1-200 >> "$STUB/calls"
case "$1" in
  --unset)
    git config -f "$(file_for "$2")" --unset-all "$2"; rc=$?
    [ $rc -eq 5 ] && rc=0; exit $rc ;;
esac
if [ -n "${READ_DELAY:-}" ] && [ $# -eq 1 ]; then  # "KEY SECONDS ...": that read is slow
  set -- "$1" $READ_DELAY; key=$1; shift
  while [ $# -ge 2 ]; do [ "$1" = "$key" ] && sleep "$2"; shift 2; done; set -- "$key"
fi
if [ "${BROKEN_KEY:-}" = "$1" ] && [ $# -eq 1 ]; then echo "error: cannot read $1" >&2; exit 2; fi
if [ $# -eq 1 ]; then exec git --no-pager config -f "$(file_for "$1")" --get "$1"; fi
if [ "${FAIL_KEY:-}" = "$1" ]; then echo "error: refusing $1" >&2; exit 3; fi
git config -f "$(file_for "$1")" "$1" "$2"
"""

GHE_VERSION_STUB = """#!/bin/bash
echo "GitHub Enterprise Server 3.17.4 lab 2026-11-01 abc123"
"""

GHE_CONFIG_APPLY_STUB = """#!/bin/bash
echo "Validating configuration"
sleep "${APPLY_SLEEP:-0}"
echo "Reloading application services"
if [ "${APPLY_RC:-0}" != 0 ]; then echo "[ERROR] github-unicorn did not start"; fi
exit "${APPLY_RC:-0}"
"""


class Shell:
    """A fake admin shell: HOME, PATH with stubs, and the settings files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()
        for name, text in (
            ("ghe-config", GHE_CONFIG_STUB),
            ("ghe-version", GHE_VERSION_STUB),
            ("ghe-config-apply", GHE_CONFIG_APPLY_STUB),
        ):
            path = self.bin / name
            path.write_text(text)
            path.chmod(0o755)
        self.env = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(self.home),
            "STUB": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
        }

    def config(self, key: str) -> str | None:
        file = "secrets.conf" if key.startswith("secrets.") else "github.conf"
        proc = subprocess.run(
            ["git", "config", "-f", str(self.root / file), "--get", key],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout[:-1] if proc.returncode == 0 else None

    def set(self, key: str, value: str) -> None:
        file = "secrets.conf" if key.startswith("secrets.") else "github.conf"
        subprocess.run(["git", "config", "-f", str(self.root / file), key, value], check=True)

    def popen(self, script: str, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["bash", "-c", script, "ghes-setup", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**self.env, **env},
        )

    def run(self, script: str, args: list[str], stdin: bytes = b"", **env: str) -> tuple[int, str]:
        proc = self.popen(script, args, **env)
        out, _ = proc.communicate(stdin, timeout=30)
        return proc.returncode, out.decode()

    @property
    def journal(self) -> Path:
        return self.home / ".ghes-setup" / "journal"


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\nAbC=\n-----END CERTIFICATE-----\n"


def write_payload(pairs: dict[str, str | None]) -> bytes:
    """The write script's input: length-framed values, then "end"."""
    out = b""
    for key, value in pairs.items():
        if value is None:
            out += f"unset {key}\n".encode()
        else:
            data = value.encode()
            out += f"set {key} {len(data)}\n".encode() + data + b"\n"
    return out + b"end\n"


def test_read_script_reports_values_exactly_and_unset_keys(shell: Shell) -> None:
    shell.set("core.github-hostname", "ghe.example.com")
    shell.set("github-ssl.cert", PEM)
    shell.set("secrets.packages.aws-secret-key", "sécret ✓\nline two")
    keys = ["core.github-hostname", "github-ssl.cert", "github-ssl.key"]
    proc = shell.popen(ssh.READ_SCRIPT, ["1", *keys, "secrets.packages.aws-secret-key"])
    out, _ = proc.communicate(b"", timeout=30)
    assert proc.returncode == 0, out
    records = ssh.parse_read_output(out)
    assert records is not None
    fields = dict(records)
    assert "3.17.4" in fields["V"]
    assert fields["C"] == "0"
    assert fields["K core.github-hostname 0"] == "ghe.example.com"
    assert fields["K github-ssl.cert 0"] == PEM  # trailing newline kept
    assert fields["K github-ssl.key 1"] == ""
    assert fields["K secrets.packages.aws-secret-key 0"] == "sécret ✓\nline two"


def test_reads_run_at_once_yet_answer_in_the_order_asked(shell: Shell) -> None:
    keys = [f"app.k{i}" for i in range(6)]
    for i, key in enumerate(keys):
        shell.set(key, f"value {i}")
    # The first reads are the slowest: run one after the other this takes 1.5 s.
    delays = "app.k0 0.5 app.k1 0.4 app.k2 0.3 app.k3 0.2 app.k4 0.1"
    started = time.monotonic()
    rc, out = shell.run(ssh.READ_SCRIPT, ["0", *keys], READ_DELAY=delays, BROKEN_KEY="app.k5")
    assert time.monotonic() - started < 1.2
    assert rc == 0
    records = ssh.parse_read_output(out.encode())
    assert records == [
        *((f"K app.k{i} 0", f"value {i}") for i in range(5)),
        ("K app.k5 2", ""),  # a read that failed says so, in its place
    ]
    assert sorted(p.name for p in (shell.home / ".ghes-setup").iterdir()) == ["lock"]


def test_cut_short_read_output_is_detected() -> None:
    assert ssh.parse_read_output(b"K a.b 0 10\nshort\n") is None
    assert ssh.parse_read_output(b"K a.b 0 5\nshort\nEND\n") == [("K a.b 0", "short")]


def test_write_script_commits_every_value_and_removes_the_journal(shell: Shell) -> None:
    shell.set("core.github-hostname", "old.example.com")
    proc = shell.popen(ssh.WRITE_SCRIPT, [])
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(
        write_payload(
            {"core.github-hostname": "new.example.com", "github-ssl.cert": PEM, "x.y": None}
        )
    )
    proc.stdin.flush()
    assert proc.stdout.readline() == b"PREPARED\n"
    assert shell.journal.exists()  # recorded before writing
    proc.stdin.write(b"commit\n")
    proc.stdin.close()
    assert proc.stdout.readline() == b"COMMITTED\n"
    assert proc.wait(10) == 0
    proc.stdout.close()
    assert shell.config("core.github-hostname") == "new.example.com"
    assert shell.config("github-ssl.cert") == PEM
    assert not shell.journal.exists()


def test_write_script_puts_everything_back_when_one_write_fails(shell: Shell) -> None:
    shell.set("core.github-hostname", "old.example.com")
    payload = write_payload(
        {
            "core.github-hostname": "new.example.com",
            "github-ssl.cert": PEM,
            "secrets.packages.aws-secret-key": "s3cr3t-value",
        }
    )
    rc, out = shell.run(ssh.WRITE_SCRIPT, [], payload, FAIL_KEY="secrets.packages.aws-secret-key")
    assert rc == 1
    assert out.startswith("FAIL secrets.packages.aws-secret-key ")
    assert "refusing secrets.packages.aws-secret-key" in out
    assert shell.config("core.github-hostname") == "old.example.com"
    assert shell.config("github-ssl.cert") is None  # was unset before: unset again
    assert not shell.journal.exists()


def test_write_script_rolls_back_when_input_ends_before_commit(shell: Shell) -> None:
    shell.set("core.subdomain-isolation", "false")
    rc, out = shell.run(ssh.WRITE_SCRIPT, [], write_payload({"core.subdomain-isolation": "true"}))
    assert out.splitlines() == ["PREPARED", "ROLLEDBACK"]
    assert rc == 3
    assert shell.config("core.subdomain-isolation") == "false"


def test_truncated_input_writes_nothing(shell: Shell) -> None:
    shell.set("core.subdomain-isolation", "false")
    payload = write_payload({"core.subdomain-isolation": "true", "x.y": "long value"})[:-12]
    rc, out = shell.run(ssh.WRITE_SCRIPT, [], payload)
    assert rc == 94 and "truncated" in out
    assert shell.config("core.subdomain-isolation") == "false"
    calls = shell.root / "calls"
    assert not calls.exists() or "core.subdomain-isolation true" not in calls.read_text()


def test_a_killed_write_script_is_undone_by_the_next_script(shell: Shell) -> None:
    shell.set("core.github-hostname", "old.example.com")
    proc = shell.popen(ssh.WRITE_SCRIPT, [])
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(write_payload({"core.github-hostname": "new.example.com"}))
    proc.stdin.flush()
    assert proc.stdout.readline() == b"PREPARED\n"
    os.kill(proc.pid, signal.SIGKILL)  # no trap runs: only the journal is left
    proc.wait(10)
    proc.stdin.close()
    proc.stdout.close()
    assert shell.config("core.github-hostname") == "new.example.com"
    assert shell.journal.exists()
    rc, out = shell.run(ssh.READ_SCRIPT, ["0", "core.github-hostname"])
    assert rc == 0, out
    assert shell.config("core.github-hostname") == "old.example.com"
    assert not shell.journal.exists()


def test_sigterm_during_the_commit_wait_restores(shell: Shell) -> None:
    shell.set("core.github-hostname", "old.example.com")
    proc = shell.popen(ssh.WRITE_SCRIPT, [])
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(write_payload({"core.github-hostname": "new.example.com"}))
    proc.stdin.flush()
    assert proc.stdout.readline() == b"PREPARED\n"
    proc.terminate()
    proc.wait(10)
    proc.stdin.close()
    proc.stdout.close()
    assert shell.config("core.github-hostname") == "old.example.com"


def test_hostile_values_are_stored_verbatim_and_never_on_a_command_line(shell: Shell) -> None:
    secret = "pa$$ word; rm -rf / `id` 'quoted'\n-----BEGIN x\n\nend\ncommit\n"
    proc = shell.popen(ssh.WRITE_SCRIPT, [])
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(write_payload({"secrets.packages.aws-secret-key": secret}))
    proc.stdin.flush()
    assert proc.stdout.readline() == b"PREPARED\n"
    proc.stdin.write(b"commit\n")
    proc.stdin.close()
    assert proc.stdout.readline() == b"COMMITTED\n"
    proc.wait(10)
    proc.stdout.close()
    assert shell.config("secrets.packages.aws-secret-key") == secret
    command = ssh.remote_command(ssh.WRITE_SCRIPT)
    assert secret not in command and b64(secret) not in command


def test_apply_script_runs_detached_and_status_reads_its_log(shell: Shell) -> None:
    rc, out = shell.run(ssh.APPLY_SCRIPT, ["run-1"], APPLY_SLEEP="0.3")
    assert (rc, out.strip()) == (0, "STARTED run-1")
    rc, out = shell.run(ssh.APPLY_SCRIPT, ["run-2"])
    assert out.startswith("BUSY run-1")
    deadline = time.monotonic() + 10
    while True:
        rc, out = shell.run(ssh.STATUS_SCRIPT, ["", "0"])
        if out.startswith("DONE") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    head, log = out.splitlines()
    assert head == "DONE run-1 0"
    size, data = log.split()[1:]
    assert "Reloading application services" in base64.b64decode(data).decode()
    assert int(size) == len(base64.b64decode(data))


def test_status_of_an_unknown_run_is_unknown(shell: Shell) -> None:
    assert shell.run(ssh.STATUS_SCRIPT, ["nope", "-"])[1].strip() == "UNKNOWN"


def test_utility_script_passes_arguments_verbatim_without_a_shell(shell: Shell) -> None:
    argv = ["printf", "%s|", "a b", "$(id)", "-cs", "key=v;x"]
    payload = (f"{len(argv)}\n" + "".join(b64(a) + "\n" for a in argv)).encode()
    rc, out = shell.run(ssh.UTILITY_SCRIPT, [], payload)
    assert (rc, out) == (0, "a b|$(id)|-cs|key=v;x|")


def test_the_latest_run_is_the_last_started_not_the_last_by_name(shell: Shell) -> None:
    def wait(run_id: str) -> None:
        deadline = time.monotonic() + 10
        while not shell.run(ssh.STATUS_SCRIPT, [run_id, "-"])[1].startswith("DONE"):
            assert time.monotonic() < deadline
            time.sleep(0.02)

    assert shell.run(ssh.APPLY_SCRIPT, ["zzz-first"])[0] == 0
    wait("zzz-first")
    time.sleep(0.01)  # distinct mtimes
    assert shell.run(ssh.APPLY_SCRIPT, ["aaa-second"])[0] == 0
    wait("aaa-second")
    assert shell.run(ssh.STATUS_SCRIPT, ["", "-"])[1].startswith("DONE aaa-second 0")


def test_an_empty_value_and_exit_1_both_read_as_unset(shell: Shell) -> None:
    shell.set("app.packages.npm-enabled", "")  # ghe-config prints an empty line, exit 0
    keys = ["app.packages.npm-enabled", "app.packages.maven-enabled"]  # the second: exit 1
    proc = shell.popen(ssh.READ_SCRIPT, ["0", *keys])
    out, _ = proc.communicate(b"", timeout=30)
    records = ssh.parse_read_output(out)
    assert records is not None
    fields = dict(records)
    assert fields["K app.packages.npm-enabled 1"] == ""  # empty output: unset
    assert fields["K app.packages.maven-enabled 1"] == ""
    assert ssh.key_value("0", "") is None and ssh.key_value("1", "") is None
    assert ssh.key_value("0", "false") == "false"


def test_a_roll_back_unsets_a_key_that_printed_an_empty_value(shell: Shell) -> None:
    # Such a key is unset: the journal must say "unset", or the roll-back would set it to "".
    shell.set("github-ssl.cert", "")
    payload = write_payload({"github-ssl.cert": PEM, "secrets.packages.aws-secret-key": "v"})
    rc, out = shell.run(ssh.WRITE_SCRIPT, [], payload, FAIL_KEY="secrets.packages.aws-secret-key")
    assert rc == 1 and out.startswith("FAIL ")
    assert shell.config("github-ssl.cert") is None


# --- after a dropped write: was it committed?

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class ReadsBack(ssh.SshTransport):
    """A transport whose reconnect after a drop reads `stored` back for every key."""

    def __init__(self, stored: str) -> None:
        super().__init__(SshConnection(SshOptions(host="ghe.example.com")))
        self.stored = stored

    def _read(self, *, identify: bool, keys: list[str]) -> tuple[None, dict[str, str | None]]:
        return None, dict.fromkeys(keys, self.stored)


@pytest.mark.parametrize("stored", [PEM, PEM.rstrip("\n"), PEM.replace("\n", "\r\n")])
def test_a_certificate_committed_before_the_drop_is_found_in_any_pem_form(stored: str) -> None:
    ReadsBack(stored)._after_drop({"github-ssl.cert": PEM}, "connection reset")  # committed


def test_a_write_rolled_back_after_the_drop_says_nothing_was_changed() -> None:
    with pytest.raises(Unreachable, match="nothing was changed"):
        ReadsBack("old value")._after_drop({"core.subdomain-isolation": "true"}, "reset")
