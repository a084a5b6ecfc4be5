"""Bad input is exit 3 with one line naming its source (file key, variable or flag), never 70.

Timeouts (site, environment, flag), `ghes_version` written as a TOML number, site files that
are not regular files or are huge, host names with a port or a broken A-label, an `address`
that is not an IP, and a passphrase-protected SSH identity (docs/site-file.md,
docs/exit-codes.md).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ghes_setup.config.site import MAX_SITE_BYTES, load_site, validate_hostname
from ghes_setup.errors import InputError, MaterialError, SiteFileError
from tests.conftest import CliRunner, assert_no_traceback

SITE = 'hostname = "ghe.example.com"\n'


def _site(tmp_path: Path, text: str = SITE) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def _one_line_exit_3(result: object) -> str:
    from tests.conftest import CliResult

    assert isinstance(result, CliResult)
    assert result.exit_code == 3, result
    assert_no_traceback(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result
    return lines[0]


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "0.0"])
def test_timeout_in_the_site_file_is_refused_naming_the_key(tmp_path: Path, value: str) -> None:
    path = _site(tmp_path, SITE + f"[connection]\ntimeout = {value}\n")
    with pytest.raises(SiteFileError) as info:
        load_site(path, environ={})
    assert info.value.message.startswith(f"{path}: [connection] timeout: ")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "NaN", "inf", "Infinity"])
def test_timeout_from_the_environment_is_blamed_on_the_variable(tmp_path: Path, value: str) -> None:
    path = _site(tmp_path)
    with pytest.raises(SiteFileError) as info:
        load_site(path, environ={"GHES_SETUP_CONNECTION_TIMEOUT": value})
    assert info.value.message.startswith("GHES_SETUP_CONNECTION_TIMEOUT: ")
    assert str(path) not in info.value.message


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--timeout", "-1"),
        ("check", "--timeout", "nan"),
        ("snapshot", "--out", "x.json", "--timeout", "0"),
        ("up", "--timeout", "inf"),
        ("up", "--registry-timeout", "-5"),
        ("config", "apply", "--timeout", "nan"),
        ("packages", "enable", "--timeout", "0"),
        ("registry", "start", "--timeout", "-inf"),
        ("dns", "check", "ghe.example.com", "--timeout", "nan"),
        ("tls", "probe", "ghe.example.com", "--timeout", "0"),
    ],
)
def test_timeout_flag_is_exit_3_blamed_on_the_flag(
    cli: CliRunner, tmp_path: Path, args: tuple[str, ...]
) -> None:
    flag = next(a for a in args if a.endswith("timeout"))
    line = _one_line_exit_3(cli(*args, "--site", str(_site(tmp_path))))
    assert line.startswith(f"ghes-setup: {flag}: "), line


def test_timeout_flag_in_nagios_mode_is_an_unknown_line(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("check", "--format", "nagios", "--site", str(_site(tmp_path)), "--timeout", "nan")
    assert result.exit_code == 3
    assert result.stdout.startswith("GHES-SETUP UNKNOWN - --timeout: ")


@pytest.mark.parametrize(("toml", "shown"), [("3.10", "3.1"), ("3.9", "3.9"), ("3", "3")])
def test_ghes_version_as_a_toml_number_is_refused_saying_to_quote_it(
    tmp_path: Path, toml: str, shown: str
) -> None:
    path = _site(tmp_path, SITE + f"ghes_version = {toml}\n")
    with pytest.raises(SiteFileError) as info:
        load_site(path, environ={})
    assert f"ghes_version: {shown} is a number" in info.value.message
    assert info.value.hint is not None and "quote it" in info.value.hint


def test_ghes_version_as_text_still_works(tmp_path: Path) -> None:
    site = load_site(_site(tmp_path, SITE + 'ghes_version = "3.10"\n'), environ={})
    assert str(site.ghes_version) == "3.10"


@pytest.mark.timeout(20)
@pytest.mark.parametrize("where", ["flag", "root flag", "environment"])
@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "folder"])
def test_site_file_that_is_not_a_regular_file_is_refused_at_once(
    cli: CliRunner, tmp_path: Path, where: str, target: str
) -> None:
    if target == "fifo":
        path = tmp_path / "site.fifo"
        os.mkfifo(path)  # nobody writes to it: reading it would wait for ever
    elif target == "folder":
        path = tmp_path
    else:
        path = Path(target)
    if where == "flag":
        result = cli("config", "plan", "--site", str(path))
    elif where == "root flag":
        result = cli("--site", str(path), "config", "plan")
    else:
        result = cli("config", "plan", env={"GHES_SETUP_SITE": str(path)})
    line = _one_line_exit_3(result)
    assert f"site file {path} is not a regular file" in line


def test_huge_site_file_is_refused(tmp_path: Path) -> None:
    path = _site(tmp_path, SITE + "#" * MAX_SITE_BYTES + "\n")
    with pytest.raises(SiteFileError, match="larger than"):
        load_site(path, environ={})


@pytest.mark.parametrize("where", ["flag", "root flag", "environment"])
def test_site_that_cannot_be_read_is_exit_3_not_a_usage_error(
    cli: CliRunner, tmp_path: Path, where: str
) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    path = blocker / "site.toml"  # ENOTDIR: cannot be opened, as an unreadable file
    if where == "flag":
        result = cli("config", "plan", "--site", str(path))
    elif where == "root flag":
        result = cli("--site", str(path), "config", "plan")
    else:
        result = cli("config", "plan", env={"GHES_SETUP_SITE": str(path)})
    line = _one_line_exit_3(result)
    assert f"cannot read site file {path}" in line


def test_unreadable_site_as_an_ordinary_user_is_exit_3(tmp_path: Path) -> None:
    """Root reads any file, so the check runs as `nobody` in a subprocess."""
    import sys

    path = _site(tmp_path)
    path.chmod(0o000)
    tmp_path.chmod(0o755)
    code = (
        "import sys; from ghes_setup.config.site import load_site\n"
        "from ghes_setup.errors import SiteFileError\n"
        "try:\n    load_site(__import__('pathlib').Path(sys.argv[1]), environ={})\n"
        "except SiteFileError as exc:\n    print(exc.message); sys.exit(3)\n"
    )
    env = {"PYTHONPATH": os.pathsep.join(sys.path), "PATH": os.environ.get("PATH", "")}
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    proc = subprocess.run(
        [*as_nobody, sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd="/",
    )
    assert proc.returncode == 3, proc
    assert f"cannot read site file {path}: Permission denied" in proc.stdout


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ghe.example.com:8443", "has a port"),
        ("ghe.example.com:", "has a port"),
        ("xn--zz.example.com", "not a valid internationalised label"),
        ("ghe.xn--a.com", "not a valid internationalised label"),
        ("https://ghe.example.com", "not a host name"),
    ],
)
def test_host_name_with_a_port_or_a_broken_a_label_is_refused(name: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        validate_hostname(name)


def test_valid_a_labels_still_pass() -> None:
    assert validate_hostname("ghe.xn--bcher-kva.example") == "ghe.xn--bcher-kva.example"
    assert validate_hostname("ghe.Bücher.example") == "ghe.xn--bcher-kva.example"


def test_hostname_from_the_environment_is_blamed_on_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_site(None, environ={"GHES_SETUP_HOSTNAME": "ghe.example.com:443"})
    assert info.value.message.startswith("GHES_SETUP_HOSTNAME: ")


def test_hostname_argument_is_blamed_on_the_argument(cli: CliRunner) -> None:
    line = _one_line_exit_3(cli("registry", "status", "ghe.example.com:443"))
    assert "ghe.example.com:443" in line and "has a port" in line


@pytest.mark.parametrize("address", ["ghe.internal", "10.0.0.5:22", "not an ip"])
def test_connection_address_must_be_an_ip(tmp_path: Path, address: str) -> None:
    path = _site(tmp_path, SITE + f'[connection]\naddress = "{address}"\n')
    with pytest.raises(SiteFileError) as info:
        load_site(path, environ={})
    assert info.value.message.startswith(f"{path}: [connection] address: ")
    with pytest.raises(SiteFileError) as info:
        load_site(_site(tmp_path), environ={"GHES_SETUP_CONNECTION_ADDRESS": address})
    assert info.value.message.startswith("GHES_SETUP_CONNECTION_ADDRESS: ")


@pytest.mark.parametrize("address", ["10.0.0.5", "::1", "[2001:db8::5]"])
def test_connection_address_accepts_ipv4_and_ipv6(tmp_path: Path, address: str) -> None:
    site = load_site(_site(tmp_path, SITE + f'[connection]\naddress = "{address}"\n'), environ={})
    assert site.connection.address == address


def test_env_values_are_blamed_on_their_variable_not_the_site_file(tmp_path: Path) -> None:
    path = _site(tmp_path)
    for name, value in (
        ("GHES_SETUP_CONNECTION_SSH_PORT", "0"),
        ("GHES_SETUP_CONNECTION_HOST_KEY", "MD5:xx"),
        ("GHES_SETUP_TLS_CRIT_DAYS", "-1"),
        ("GHES_SETUP_GHES_VERSION", "three"),
        ("GHES_SETUP_CONNECTION_TRANSPORT", "carrier-pigeon"),
    ):
        with pytest.raises(SiteFileError) as info:
            load_site(path, environ={name: value})
        assert info.value.message.startswith(f"{name}: "), (name, info.value.message)


def test_flag_values_are_blamed_on_the_flag(tmp_path: Path) -> None:
    from ghes_setup.cli.common import FLAG_NAMES
    from ghes_setup.config.site import SiteOverrides

    with pytest.raises(SiteFileError) as info:
        load_site(
            _site(tmp_path),
            environ={},
            overrides=SiteOverrides(host_key="MD5:xx"),
            flag_names=FLAG_NAMES,
        )
    assert info.value.message.startswith("--host-key: ")


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
@pytest.mark.parametrize("pem", [False, True])
def test_passphrase_protected_identity_is_an_input_error_saying_what_to_do(
    tmp_path: Path, kind: str, pem: bool
) -> None:
    from ghes_setup.appliance.ssh_connection import SshConnection, SshOptions

    key = tmp_path / f"id_{kind}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "a passphrase", "-f", str(key)]
        + (["-m", "PEM"] if pem else []),
        check=True,
    )
    connection = SshConnection(SshOptions(host="ghe.example.com", identity=key, use_agent=False))
    with pytest.raises(MaterialError) as info:
        connection._authenticate(None)  # type: ignore[arg-type]  # fails before any I/O
    assert "protected by a passphrase" in info.value.message
    assert info.value.hint is not None
    assert "ssh-agent" in info.value.hint and "without a passphrase" in info.value.hint
