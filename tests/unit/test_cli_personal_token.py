"""`cli.common.personal_token`: the one place the commands read the PAT (`GHES_SETUP_TOKEN`,
its _FILE, --token-file, --token-stdin) from: optional, or required for a named purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup.cli.common import personal_token, token_inputs
from ghes_setup.errors import SecretMissing

PAT = "ghp_Secret0123456789abcdefABCDEF0123"


@pytest.fixture(autouse=True)
def no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GHES_SETUP_TOKEN", raising=False)
    monkeypatch.delenv("GHES_SETUP_TOKEN_FILE", raising=False)


def test_no_token_anywhere_is_none_when_optional() -> None:
    assert personal_token(token_inputs(False, None)) is None


def test_the_environment_gives_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GHES_SETUP_TOKEN", PAT)
    token = personal_token(token_inputs(False, None), "the smoke test")
    assert token.reveal() == PAT


def test_token_file_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GHES_SETUP_TOKEN", "ghp_other")
    path = tmp_path / "pat"
    path.write_text(PAT + "\n", encoding="utf-8")
    path.chmod(0o600)
    token = personal_token(token_inputs(False, path))
    assert token is not None
    assert token.reveal() == PAT


def test_a_missing_required_token_names_its_purpose_and_the_flags() -> None:
    with pytest.raises(SecretMissing) as caught:
        personal_token(token_inputs(False, None), "the smoke test (registry-smoke)")
    assert "the smoke test (registry-smoke) needs a secret" in caught.value.message
    assert caught.value.hint is not None
    assert "--token-file" in caught.value.hint
    assert "--token-stdin" in caught.value.hint
