"""A secret is one line of printable ASCII, whatever its source; a bad one names the source only.

Also: a secret file's first line is the secret (the rest is ignored with a warning), a file
others may read gets a warning, a device is not read without end, and the scrubber catches a
secret's escaped and encoded forms (docs/security.md).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from ghes_setup import secrets
from ghes_setup.errors import SecretInvalid, SecretMissing
from ghes_setup.secrets import REDACTED, Secret, from_env, scrub
from tests.conftest import CliRunner, assert_no_traceback

GOOD = "ghp_Secret0123456789abcdefABCDEF0123"
BAD = {
    "a line break": GOOD[:10] + "\n" + GOOD[10:],
    "a carriage return": GOOD[:10] + "\r" + GOOD[10:],
    "a tab": GOOD + "\t",
    "a non-ASCII character": GOOD[:5] + "\u00e9" + GOOD[5:],
    "a control character": GOOD + "\x00",
    "leading or trailing spaces": " " + GOOD + " ",
}


@pytest.fixture
def warnings_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(secrets, "warn", seen.append)
    return seen


def _assert_names_source_not_value(exc: SecretInvalid, source: str, value: str) -> None:
    text = f"{exc.message} {exc.hint}"
    assert source in text
    for piece in (value, value.strip(), GOOD[:10], GOOD[10:]):
        assert piece not in text


@pytest.mark.parametrize("problem", sorted(BAD))
def test_bad_secret_from_the_environment_is_refused_naming_the_variable(problem: str) -> None:
    with pytest.raises(SecretInvalid) as info:
        from_env("GHES_SETUP_TOKEN", {"GHES_SETUP_TOKEN": BAD[problem]})
    assert problem in info.value.message
    _assert_names_source_not_value(info.value, "GHES_SETUP_TOKEN", BAD[problem])


@pytest.mark.parametrize("problem", sorted(set(BAD) - {"a line break"}))
def test_bad_secret_from_a_file_is_refused_naming_the_file_option(
    problem: str, tmp_path: Path
) -> None:
    f = tmp_path / "pat"
    f.write_bytes(BAD[problem].encode() + b"\n")
    f.chmod(0o600)
    with pytest.raises(SecretInvalid) as info:
        from_env("GHES_SETUP_TOKEN", {}, file=f, file_option="--token-file")
    _assert_names_source_not_value(info.value, f"--token-file {f}", BAD[problem])


@pytest.mark.parametrize("problem", sorted(set(BAD) - {"a line break"}))
def test_bad_secret_from_a_file_variable_is_refused_naming_the_variable(
    problem: str, tmp_path: Path
) -> None:
    f = tmp_path / "pw"
    f.write_bytes(BAD[problem].encode())
    f.chmod(0o600)
    with pytest.raises(SecretInvalid) as info:
        from_env("GHES_SETUP_ADMIN_PASSWORD", {"GHES_SETUP_ADMIN_PASSWORD_FILE": str(f)})
    _assert_names_source_not_value(info.value, "GHES_SETUP_ADMIN_PASSWORD_FILE", BAD[problem])


@pytest.mark.parametrize("problem", sorted(set(BAD) - {"a line break"}))
def test_bad_secret_on_standard_input_is_refused_naming_stdin(problem: str) -> None:
    with pytest.raises(SecretInvalid) as info:
        from_env(
            "GHES_SETUP_TOKEN",
            {},
            stdin=io.StringIO(BAD[problem] + "\n"),
            stdin_option="--token-stdin",
        )
    _assert_names_source_not_value(info.value, "standard input (--token-stdin)", BAD[problem])


def test_secret_file_first_line_is_the_secret_and_more_lines_are_warned_about(
    tmp_path: Path, warnings_seen: list[str]
) -> None:
    f = tmp_path / "pat"
    f.write_text(f"{GOOD}\nsecond-line-here\n\nthird\n")
    f.chmod(0o600)
    got = from_env("GHES_SETUP_TOKEN", {}, file=f, file_option="--token-file")
    assert got is not None and got.reveal() == GOOD
    assert len(warnings_seen) == 1 and "2 more line(s) ignored" in warnings_seen[0]
    assert "second-line-here" not in warnings_seen[0]


def test_secret_file_with_crlf_ending_reads_the_line_without_the_cr(
    tmp_path: Path, warnings_seen: list[str]
) -> None:
    f = tmp_path / "pat"
    f.write_bytes(GOOD.encode() + b"\r\n")
    f.chmod(0o600)
    got = from_env("X", {}, file=f)
    assert got is not None and got.reveal() == GOOD
    assert warnings_seen == []


def test_secret_file_with_an_empty_first_line_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "pat"
    f.write_text(f"\n{GOOD}\n")
    with pytest.raises(SecretMissing, match="empty first line"):
        from_env("X", {}, file=f, file_option="--token-file")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_file_readable_by_others_gets_a_warning(
    tmp_path: Path, warnings_seen: list[str], mode: int
) -> None:
    f = tmp_path / "pw"
    f.write_text(GOOD)
    f.chmod(mode)
    from_env("X", {}, file=f, file_option="--password-file")
    assert len(warnings_seen) == 1
    assert f"--password-file {f}" in warnings_seen[0] and f"{mode:04o}" in warnings_seen[0]
    assert GOOD not in warnings_seen[0]


def test_private_secret_file_gets_no_warning(tmp_path: Path, warnings_seen: list[str]) -> None:
    f = tmp_path / "pw"
    f.write_text(GOOD)
    f.chmod(0o600)
    from_env("X", {}, file=f)
    assert warnings_seen == []


def test_secret_file_that_never_ends_is_refused_at_once() -> None:
    with pytest.raises(SecretInvalid, match="KiB"):
        from_env("X", {}, file=Path("/dev/zero"), file_option="--token-file")


def test_warning_goes_to_standard_error_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "pw"
    f.write_text(GOOD)
    f.chmod(0o644)
    from_env("X", {}, file=f)
    err = capsys.readouterr().err
    assert err.startswith("ghes-setup: warning: ") and GOOD not in err


def _forms_seen_by_a_reader(value: str) -> dict[str, str]:
    """How a secret shows up in other people's error texts, computed independently."""
    basic = base64.b64encode(f"api_key:{value}".encode()).decode()
    return {
        "repr": repr(f"header value {value}"),
        "bytes repr": repr(f"Basic {value}".encode()),
        "json": json.dumps({"token": value}),
        "double json": json.dumps(json.dumps({"token": value})),
        "percent": f"https://x/?t={quote(value, safe='')}",
        "percent plus": quote_plus(f"t={value}"),
        "base64": base64.b64encode(value.encode()).decode(),
        "urlsafe base64": base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        "basic auth": f"Authorization: Basic {basic}",
        "basic auth, shifted": base64.b64encode(f"api_key1:{value}".encode()).decode(),
        "basic auth, shifted twice": base64.b64encode(f"api_key12:{value}".encode()).decode(),
    }


@pytest.mark.parametrize(
    "value", ["pa'ss\"wo\\rd/+ %x", "ghp_0123456789abcdefABCDEF", "é€ü-secret"]
)
def test_scrub_catches_escaped_and_encoded_forms(value: str) -> None:
    Secret(value, "test")
    for name, text in _forms_seen_by_a_reader(value).items():
        cleaned = scrub(text)
        assert REDACTED in cleaned, name
        leftovers = _forms_seen_by_a_reader(value)
        assert value not in cleaned, name
        assert leftovers["base64"].rstrip("=")[:-2] not in cleaned, name


def test_secret_with_a_line_break_is_refused_by_the_cli_exit_3(cli: CliRunner) -> None:
    value = "ghp_abcdefghijklmnop\nqrstuvwxyz0123456789"
    result = cli(
        "registry",
        "smoke",
        "ghe.example.com",
        "--user",
        "octo",
        "--namespace",
        "octo",
        env={"GHES_SETUP_TOKEN": value},
    )
    assert result.exit_code == 3, result
    assert "GHES_SETUP_TOKEN" in result.stderr and "line break" in result.stderr
    for piece in ("ghp_abcdefghijklmnop", "qrstuvwxyz0123456789"):
        assert piece not in result.output
    assert_no_traceback(result)


def test_password_file_with_a_tab_is_refused_naming_the_option(
    cli: CliRunner, tmp_path: Path
) -> None:
    f = tmp_path / "pw"
    f.write_text("admin-password-1\t\n")
    f.chmod(0o600)
    site = tmp_path / "site.toml"
    site.write_text('hostname = "ghe.example.com"\n')
    result = cli("config", "plan", "--site", str(site), "--password-file", str(f))
    assert result.exit_code == 3, result
    assert f"--password-file {f}" in result.stderr and "a tab" in result.stderr
    assert "admin-password-1" not in result.output
    assert_no_traceback(result)
