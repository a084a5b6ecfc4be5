"""The site file: TOML, GHES_SETUP_* environment, flags; one precedence; one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup.config.site import SiteOverrides, env_name, load_site, validate_hostname
from ghes_setup.errors import InputError, SiteFileError
from ghes_setup.facts import GhesVersion

FULL = """
hostname = "ghe.example.com"
ghes_version = "3.17"
[connection]
address = "10.0.0.5"
ssh_port = 122
ssh_user = "admin"
ssh_identity = "keys/id_ed25519"
known_hosts = "~/.ssh/known_hosts"
api_port = 8443
https_port = 443
ca_file = "certs/corp-root.pem"
nameservers = ["10.0.0.53"]
transport = "auto"
[tls]
cert = "certs/ghe-chain.pem"
key = "certs/ghe.key"
warn_days = 30
crit_days = 7
[packages]
enabled = true
storage = "s3"
service_url = "https://minio.example.com:9000"
bucket = "ghes-packages"
ecosystems = { container = "enabled", npm = "enabled", maven = "read-only" }
[smoke]
user = "octo-admin"
namespace = "octo-org"
image = "ghes-setup-smoke"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.toml"
    p.write_text(text)
    return p


def test_design_doc_example_loads_with_relative_paths_resolved(tmp_path: Path) -> None:
    site = load_site(write(tmp_path, FULL), environ={})
    assert site.hostname == "ghe.example.com"
    assert site.ghes_version == GhesVersion(3, 17)
    assert site.connection.address == "10.0.0.5"
    assert site.connect_host == "10.0.0.5"
    assert site.connection.ca_file == tmp_path / "certs/corp-root.pem"
    assert site.connection.known_hosts == Path("~/.ssh/known_hosts").expanduser()
    assert site.tls.cert == tmp_path / "certs/ghe-chain.pem"
    assert site.packages.ecosystems == {
        "container": "enabled",
        "npm": "enabled",
        "maven": "read-only",
    }
    assert site.smoke.namespace == "octo-org"


def test_precedence_is_flags_then_env_then_file_then_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    env = {"GHES_SETUP_CONNECTION_SSH_PORT": "2222", "GHES_SETUP_TLS_WARN_DAYS": "45"}
    site = load_site(path, environ=env, overrides=SiteOverrides(ssh_port=3333, crit_days=None))
    assert site.connection.ssh_port == 3333  # flag beats env
    assert site.tls.warn_days == 45  # env beats file
    assert site.tls.crit_days == 7  # unset flag does not win
    assert site.connection.timeout == 10.0  # default


def test_environment_alone_can_describe_a_site() -> None:
    env = {
        "GHES_SETUP_HOSTNAME": "GHE.Example.com.",
        "GHES_SETUP_CONNECTION_NAMESERVERS": "10.0.0.53, 10.0.0.54",
        "GHES_SETUP_SUBDOMAIN_ISOLATION": "false",
        "GHES_SETUP_PACKAGES_ECOSYSTEMS": "container=enabled,npm=disabled",
    }
    site = load_site(None, environ=env)
    assert site.hostname == "ghe.example.com"
    assert site.connection.nameservers == ("10.0.0.53", "10.0.0.54")
    assert site.subdomain_isolation is False
    assert site.packages.ecosystems == {"container": "enabled", "npm": "disabled"}


def test_site_path_comes_from_GHES_SETUP_SITE(tmp_path: Path) -> None:
    path = write(tmp_path, 'hostname = "ghe.example.com"\n')
    assert load_site(None, environ={"GHES_SETUP_SITE": str(path)}).source == path


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (
            'hostname = "ghe.example.com"\n[connection]\nssh_port = "abc"\n',
            {},
            r"\[connection\] ssh_port: expected an integer",
        ),
        ('hostname = "ghe.example.com"\n[conection]\n', {}, r"unknown key 'conection'"),
        (
            'hostname = "ghe.example.com"\n[connection]\nsshport = 1\n',
            {},
            r"unknown key \[connection\] sshport",
        ),
        (
            'hostname = "ghe.example.com"\n[connection]\ntransport = "telnet"\n',
            {},
            r"'telnet' is not one of",
        ),
        ('hostname = "ghe.example.com\n', {}, r"invalid TOML.*line 1"),
        (
            'hostname = "ghe.example.com"\n',
            {"GHES_SETUP_CONNECTION_API_PORT": "x"},
            r"GHES_SETUP_CONNECTION_API_PORT: expected an integer",
        ),
        ('hostname = "ghe.example.com"\n[connection]\nssh_port = 70000\n', {}, r"not a port"),
        ('hostname = "ghe.example.com"\n[tls]\ncert = "a.pem"\n', {}, r"cert and key go together"),
        ('hostname = "ghe.example.com"\n[tls]\nwarn_days = 3\ncrit_days = 7\n', {}, r"warn_days"),
        ('hostname = "ghe.example.com"\n[packages]\nenabled = true\n', {}, r"needs storage"),
        (
            'hostname = "ghe.example.com"\n[packages]\nenabled = true\nstorage = "s3"\n',
            {},
            r"needs bucket",
        ),
        (
            'hostname = "ghe.example.com"\n[packages]\nenabled = true\nstorage = "s3"\n'
            'bucket = "b"\n',
            {},
            r"needs service_url",
        ),
        ('hostname = "10.0.0.5"\n', {}, r"IP address"),
        ('hostname = "localhost"\n', {}, r"localhost"),
        ('ghes_version = "three"\nhostname = "ghe.example.com"\n', {}, r"ghes_version"),
        ('[connection]\nhost_key = "abc"\nhostname = "x"\n', {}, r"unknown key|host_key"),
        ("", {}, r"no hostname given"),
    ],
)
def test_invalid_site_gets_one_line_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(InputError, match=expected) as info:
        load_site(write(tmp_path, text), environ=env)
    assert "\n" not in info.value.message


def test_secret_keys_in_the_file_are_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError) as info:
        load_site(
            write(tmp_path, 'hostname = "ghe.example.com"\nadmin_password = "x"\n'), environ={}
        )
    assert "environment" in (info.value.hint or "")


def test_missing_site_file_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(SiteFileError, match="does not exist") as info:
        load_site(tmp_path / "nope.toml", environ={})
    assert "--site" in (info.value.hint or "")


@pytest.mark.parametrize(
    "name", ["ghe.example.com", "GHE.EXAMPLE.COM", "a-b.c-d.example", "ghe.example.com."]
)
def test_valid_hostnames(name: str) -> None:
    assert validate_hostname(name) == name.lower().rstrip(".")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "ghe",
        "-ghe.example.com",
        "ghe_x.example.com",
        "a..b",
        "::1",
        "*.ghe.example.com",
        "x" * 64 + ".com",
    ],
)
def test_invalid_hostnames(name: str) -> None:
    with pytest.raises(InputError):
        validate_hostname(name)


def test_env_name_follows_the_key_path() -> None:
    assert env_name("connection.ssh_port") == "GHES_SETUP_CONNECTION_SSH_PORT"
    assert env_name("hostname") == "GHES_SETUP_HOSTNAME"


def test_every_site_key_is_documented_in_docs_site_file() -> None:
    import dataclasses

    from ghes_setup.config import site as model

    doc = (Path(__file__).resolve().parents[2] / "docs" / "site-file.md").read_text()
    sections = {
        "connection": model.Connection,
        "tls": model.TlsSettings,
        "packages": model.PackagesSettings,
        "smoke": model.SmokeSettings,
    }
    keys = ["hostname", "ghes_version", "subdomain_isolation"]
    keys += [f.name for cls in sections.values() for f in dataclasses.fields(cls)]
    missing = [k for k in keys if f"| `{k}` |" not in doc]
    assert not missing, f"docs/site-file.md does not document: {missing}"


def test_internationalised_hostnames_become_their_a_labels() -> None:
    assert validate_hostname("GHÉ.Example.com") == "xn--gh-cja.example.com"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"hostname = \xff\xfe\n", "not UTF-8"), (b"hostname = 5\n", "expected a string")],
)
def test_undecodable_or_mistyped_site_file_is_exit_3_material(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(content)
    with pytest.raises(SiteFileError, match=expected):
        load_site(path, environ={})


def test_undecodable_secret_file_never_quotes_its_bytes(tmp_path: Path) -> None:
    from ghes_setup.errors import MaterialError
    from ghes_setup.secrets import from_env

    secret = tmp_path / "pw"
    secret.write_bytes(b"hunter\xff2")
    with pytest.raises(MaterialError) as info:
        from_env("X", {}, file=secret)
    assert "hunter" not in str(info.value) and "not UTF-8" in str(info.value)
