"""Human output off a terminal (plain, aligned, width-independent), `-v` details as
`key: value`, `-q`, server text never read as markup, PYTHONIOENCODING=ascii, and shell
completion for bash, zsh and fish driven through the real entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.reporting import human
from tests.conftest import ROOT

BOX = set("─│┌┐└┘├┤┬┴┼━┃┏┓┗┛╭╮╯╰═║╔╗╚╝")
LONG = "the served chain lacks the intermediate " * 8


def _report() -> Report:
    return Report(
        "check",
        (
            CheckResult("dns-hostname", "dns", Status.PASS, "ghe.example.com resolves to 10.0.0.5",
                        details={"addresses": ["10.0.0.5", "10.0.0.6"], "ttl": 300}),
            CheckResult("tls-served", "tls", Status.FAIL, LONG.strip(),
                        remedy="set [connection] ca_file to the CA (see [tls] cert)",
                        details={"chain": {"depth": 1, "complete": False}, "sni": None}),
            CheckResult("appliance-config-apply", "appliance", Status.ERROR,
                        "could not read [bold]run[/bold] status", remedy=None),
        ),
        "ghe.example.com",
    )  # fmt: skip


def test_plain_is_aligned_without_box_drawing_and_never_wrapped() -> None:
    text = human.plain(_report(), verbose=True)
    assert not BOX & set(text)
    lines = text.splitlines()
    assert lines[0] == "check - ghe.example.com"
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in
            ("dns-hostname", "tls-served", "appliance-config-apply")}  # fmt: skip
    # the summary column starts at the same place on every row
    starts = {row.index(summary) for row, summary in (
        (rows["dns-hostname"], "ghe.example.com resolves"),
        (rows["tls-served"], "the served chain"),
        (rows["appliance-config-apply"], "could not read"),
    )}  # fmt: skip
    assert len(starts) == 1
    assert LONG.strip() in text  # one line, whatever the width
    assert "remedy: set [connection] ca_file to the CA (see [tls] cert)" in text
    assert "[bold]run[/bold]" in text
    assert "addresses: 10.0.0.5, 10.0.0.6" in text
    assert "chain: depth=1, complete=no" in text and "sni: -" in text
    assert "['" not in text and "{'" not in text  # no Python reprs
    assert lines[-1] == "overall: FAIL  (1 fail, 1 error, 1 pass)"
    assert lines[1].index("status") == rows["tls-served"].index("FAIL")  # header aligned too
    assert all(line == line.rstrip() for line in lines)


def test_nested_details_read_as_text() -> None:
    value = {"a.example": {"status": "ok", "addresses": ["10.0.0.5"]}, "b": [{"x": 1}, {"x": 2}]}
    assert human.detail_value(value) == "a.example=(status=ok, addresses=10.0.0.5), b=(x=1); (x=2)"


def test_terminal_table_shows_bracketed_server_text() -> None:
    console = Console(width=300, record=True, color_system=None)
    console.print(human.render(_report(), verbose=True))
    text = console.export_text()
    assert "set [connection] ca_file to the CA (see [tls] cert)" in text
    assert "[bold]run[/bold]" in text
    assert "addresses: 10.0.0.5, 10.0.0.6" in text


def test_quiet_keeps_only_failed_checks_and_nothing_when_all_pass() -> None:
    text = human.plain(_report(), quiet=True)
    assert "tls-served" in text and "appliance-config-apply" in text
    assert "dns-hostname" not in text and "overall" not in text
    ok = Report("check", (CheckResult("dns-hostname", "dns", Status.PASS, "fine"),), "h.example")
    assert human.plain(ok, quiet=True) == ""


def _tls_args(tmp_path: Path) -> list[str]:
    from ghes_setup.tls.issue import create_ca

    ca = tmp_path / "ca"
    create_ca(ca, name="Test CA")
    subprocess.run(
        [sys.executable, "-m", "ghes_setup", "tls", "issue", "ghe.example.com",
         "--ca", str(ca), "--out", str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return [
        "tls", "check", "--cert", str(tmp_path / "ghe.example.com-chain.pem"),
        "--key", str(tmp_path / "ghe.example.com.key"), "--hostname", "ghe.example.com",
        "--ca-file", str(ca / "ca.pem"), "--warn-days", "1000",
    ]  # fmt: skip


@pytest.mark.parametrize("columns", ["40", "300"])
def test_piped_output_is_plain_in_ascii_and_the_same_at_any_width(
    tmp_path: Path, columns: str
) -> None:
    args = _tls_args(tmp_path)
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": columns}
    env.pop("GHES_SETUP_SITE", None)
    runs = [
        subprocess.run([sys.executable, "-m", "ghes_setup", *args, *extra], env=env,
                       capture_output=True, text=True, check=False)
        for extra in ([], ["-v"], ["-q"])
    ]  # fmt: skip
    plain, verbose, quiet = runs
    assert plain.returncode == 0 and "Traceback" not in plain.stderr, plain
    assert not BOX & set(plain.stdout)
    assert plain.stdout.startswith("tls check - ghe.example.com\ncheck ")
    assert "tls-expiry" in plain.stdout and "warn" in plain.stdout
    assert all(len(line) < 400 for line in plain.stdout.splitlines())
    assert verbose.returncode == 0 and ": " in verbose.stdout
    assert "{'" not in verbose.stdout and "['" not in verbose.stdout
    assert quiet.returncode == 0 and quiet.stdout == ""  # a warning is not an error
    assert quiet.stderr == ""


def test_a_terminal_dash_in_ascii_does_not_crash(tmp_path: Path) -> None:
    """Rich on an ascii terminal: the em dash of the table title becomes `?`, no crash."""
    args = _tls_args(tmp_path)
    code = (
        "import sys; sys.stdout.isatty = lambda: True; "
        "from ghes_setup.cli.main import main; main(sys.argv[1:])"
    )
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc
    assert "tls-expiry" in proc.stdout and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ shell completion


def _entry_point() -> str:
    found = shutil.which("ghes-setup")
    assert found, "the ghes-setup entry point is not installed (pip install -e .)"
    return found


def _complete(shell: str, words: str, cword: int | None = None) -> str:
    env = {**os.environ, "_GHES_SETUP_COMPLETE": f"complete_{shell}", "PYTHONPATH": str(ROOT)}
    if shell == "bash":
        env |= {"COMP_WORDS": words, "COMP_CWORD": str(cword)}
    else:
        env |= {"_TYPER_COMPLETE_ARGS": words}
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    proc = subprocess.run([_entry_point()], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc
    return proc.stdout


def test_bash_completion_protocol_completes_commands_subcommands_and_options() -> None:
    assert _complete("bash", "ghes-setup tl", 1).split() == ["tls"]
    assert "probe" in _complete("bash", "ghes-setup tls ", 2).split()
    assert "init" in _complete("bash", "ghes-setup ", 1).split()
    assert "--from-appliance" in _complete("bash", "ghes-setup init --fr", 2).split()


def test_zsh_and_fish_completion_protocols() -> None:
    assert '"probe"' in _complete("zsh", "ghes-setup tls pr")
    assert _complete("fish", "ghes-setup tls pr").startswith("probe")
    assert "--from-appliance" in _complete("fish", "ghes-setup init --fr")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_each_shells_script(shell: str) -> None:
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run([_entry_point(), "--show-completion", shell], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc
    assert f"_GHES_SETUP_COMPLETE=complete_{shell}" in proc.stdout
    assert "not supported" not in proc.stdout + proc.stderr


def test_bash_script_completes_in_a_real_bash(tmp_path: Path) -> None:
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = subprocess.run([_entry_point(), "--show-completion", "bash"], env=env,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    (tmp_path / "c.sh").write_text(script)
    probe = (
        f'source "{tmp_path / "c.sh"}"; COMP_WORDS=(ghes-setup tls pr); COMP_CWORD=2; '
        '_ghes_setup_completion ghes-setup; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(["bash", "--norc", "-c", probe], env=os.environ, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.stdout.split() == ["probe"], proc


def test_install_completion_for_bash_writes_the_script_under_home(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run([_entry_point(), "--install-completion", "bash"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc
    installed = list(tmp_path.rglob("ghes-setup*"))
    assert installed, proc
    assert "_GHES_SETUP_COMPLETE=complete_bash" in installed[0].read_text()
    assert str(installed[0].name) in (tmp_path / ".bashrc").read_text()


def test_a_report_off_a_terminal_loads_no_rich() -> None:
    # cron, Ansible and pipes get plain text, nagios, prometheus or JSON: none needs rich,
    # which costs every such run about 30 ms to import (docs/performance.md).
    code = """
import sys
from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.reporting import human, json_report, nagios, prometheus
report = Report("check", (CheckResult("dns-hostname", "dns", Status.PASS, "resolves"),), "h")
human.write(report, console=lambda: None)
nagios.render(report)
prometheus.render(report, exit_code=0)
json_report.render(report)
assert "rich" not in sys.modules, sorted(m for m in sys.modules if m.startswith("rich"))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2].split() == ["dns-hostname", "pass", "resolves"]
