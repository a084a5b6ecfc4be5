"""Secrets never show their value; they come only from env, file or stdin."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from ghes_setup.errors import MaterialError, SecretMissing
from ghes_setup.reporting.json_report import dumps
from ghes_setup.secrets import REDACTED, Secret, from_env, require, scrub

VALUE = "s3cr3t-admin-password-xyz"


def test_secret_redacts_itself_in_repr_str_format_and_json() -> None:
    s = Secret(VALUE, "GHES_SETUP_ADMIN_PASSWORD")
    for text in (
        repr(s),
        str(s),
        f"{s}",
        f"{s:>40}",
        "%s" % s,  # noqa: UP031 - the old formatting path must redact too
        dumps({"pw": s}),
    ):
        assert VALUE not in text
    assert REDACTED in str(s)
    assert json.loads(dumps({"pw": s})) == {"pw": REDACTED}
    assert s.reveal() == VALUE


def test_secret_is_redacted_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(VALUE, "x")
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("password is %s", s)
    assert VALUE not in caplog.text


def test_secret_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret(VALUE))


def test_scrub_removes_known_secret_values_from_any_text() -> None:
    Secret("another-long-secret-123")
    assert scrub("auth failed for another-long-secret-123!") == f"auth failed for {REDACTED}!"


def test_from_env_prefers_stdin_then_file_then_variable_then_file_variable(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("from-file-value\n")
    env = {"GHES_SETUP_TOKEN": "from-env-value", "GHES_SETUP_TOKEN_FILE": str(f)}
    got = from_env("GHES_SETUP_TOKEN", env, stdin=io.StringIO("from-stdin-value\n"))
    assert got is not None and got.reveal() == "from-stdin-value"
    got = from_env("GHES_SETUP_TOKEN", env, file=f)
    assert got is not None and got.reveal() == "from-file-value"
    got = from_env("GHES_SETUP_TOKEN", env)
    assert got is not None and got.reveal() == "from-env-value"
    got = from_env("GHES_SETUP_TOKEN", {"GHES_SETUP_TOKEN_FILE": str(f)})
    assert got is not None and got.reveal() == "from-file-value"
    assert from_env("GHES_SETUP_TOKEN", {}) is None


def test_require_names_every_way_to_give_the_secret() -> None:
    with pytest.raises(SecretMissing) as info:
        require(
            "GHES_SETUP_TOKEN",
            {},
            purpose="the smoke test",
            stdin_option="--token-stdin",
            file_option="--token-file",
        )
    hint = info.value.hint or ""
    for way in ("GHES_SETUP_TOKEN", "GHES_SETUP_TOKEN_FILE", "--token-file", "--token-stdin"):
        assert way in hint


def test_missing_or_empty_secret_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(MaterialError):
        from_env("X", {}, file=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SecretMissing):
        from_env("X", {}, file=empty)


def test_empty_stdin_is_an_input_error() -> None:
    with pytest.raises(SecretMissing):
        from_env("X", {}, stdin=io.StringIO(""))
