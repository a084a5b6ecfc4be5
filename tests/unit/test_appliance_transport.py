"""Setting values and their two wire forms (ghe-config text, Manage API JSON)."""

from __future__ import annotations

import pytest

from ghes_setup.appliance.transport import (
    Settings,
    SettingsRejected,
    decode_api,
    decode_config,
    encode_api,
    encode_config,
    normalise_pem,
    same_value,
    validate,
)
from ghes_setup.errors import ApplianceResponseError
from ghes_setup.secrets import REDACTED, Secret

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("subdomain_isolation", True, "true"),
        ("subdomain_isolation", False, "false"),
        ("hostname", "ghe.example.com", "ghe.example.com"),
        ("tls.cert", PEM, PEM),
        ("packages.ecosystems.container", "read-only", "readonly"),
        ("packages.ecosystems.npm", "disabled", "false"),
        ("packages.ecosystems.maven", "enabled", "true"),
    ],
)
def test_config_text_round_trips(name: str, value: object, text: str) -> None:
    assert encode_config(name, value) == text  # type: ignore[arg-type]
    assert decode_config(name, text) == value


def test_unset_is_none_both_ways() -> None:
    assert encode_config("tls.cert", None) is None
    assert decode_config("tls.cert", None) is None


def test_secret_is_decoded_as_a_secret_that_redacts_itself() -> None:
    value = decode_config("tls.key", "-----BEGIN PRIVATE KEY-----\nabc\n")
    assert isinstance(value, Secret)
    assert repr(Settings({"tls.key": value})).count(REDACTED) == 1
    assert "abc" not in repr(Settings({"tls.key": value}))


def test_odd_bool_text_is_a_response_error() -> None:
    with pytest.raises(ApplianceResponseError, match="expected true or false"):
        decode_config("subdomain_isolation", "maybe")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("subdomain_isolation", "yes", "expected true or false"),
        ("tls.cert", "not a certificate", "not PEM"),
        ("tls.key", "plain text key", "Secret"),
        ("packages.ecosystems.npm", "on", "not one of"),
    ],
)
def test_wrong_values_are_refused_before_any_wire_form(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsRejected, match=message):
        validate(name, value)
    with pytest.raises(SettingsRejected):
        encode_api(name, value)


def test_api_values_decode_by_kind() -> None:
    assert decode_api("subdomain_isolation", True) is True
    assert decode_api("tls.cert", None) is None
    assert decode_api("tls.key", "") is None
    key = decode_api("tls.key", "k3y-material")
    assert isinstance(key, Secret) and key.reveal() == "k3y-material"
    with pytest.raises(ApplianceResponseError, match="expected a boolean"):
        decode_api("subdomain_isolation", "true")


def test_pem_and_pem_secrets_compare_without_whitespace_noise() -> None:
    crlf = PEM.replace("\n", "\r\n") + "\n\n"
    assert same_value("tls.cert", PEM, crlf)
    assert normalise_pem(crlf) == PEM
    assert same_value("tls.key", Secret("-----BEGIN X-----\nk\n"), Secret("-----BEGIN X-----\nk"))
    assert not same_value("tls.key", Secret("one-value"), Secret("other-value"))


def test_settings_refuse_unknown_names_and_compare_as_mappings() -> None:
    with pytest.raises(KeyError, match=r"not in facts\.SETTINGS"):
        Settings({"no.such.setting": True})
    a = Settings({"hostname": "a.example.com", "subdomain_isolation": True})
    assert a == {"hostname": "a.example.com", "subdomain_isolation": True}
    assert a.subset(["hostname"]) == {"hostname": "a.example.com"}
