"""Flags reach the site model as a typed `SiteOverrides`: every field sets one site key, and
every flag name a message may blame belongs to a field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ghes_setup.cli.common import FLAG_NAMES
from ghes_setup.config.site import _OVERRIDE_KEYS, Site, SiteOverrides, load_site
from ghes_setup.errors import SiteFileError


def test_every_override_sets_a_key_of_the_site_model() -> None:
    fields = [f.name for f in dataclasses.fields(SiteOverrides)]
    assert sorted(fields) == sorted(_OVERRIDE_KEYS)
    site = Site(hostname="ghe.example.com")
    for key in _OVERRIDE_KEYS.values():
        section, _, name = key.partition(".")
        holder = getattr(site, section) if name else site
        assert hasattr(holder, name or section), key


def test_flag_names_name_override_fields() -> None:
    assert set(FLAG_NAMES) <= {f.name for f in dataclasses.fields(SiteOverrides)}


def test_overrides_win_and_unset_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('hostname = "ghe.example.com"\n[smoke]\nuser = "file-user"\n')
    site = load_site(
        path,
        environ={"GHES_SETUP_SMOKE_NAMESPACE": "env-org"},
        overrides=SiteOverrides(smoke_image="flag-image", nameservers=(), smoke_user=None),
    )
    assert (site.smoke.user, site.smoke.namespace, site.smoke.image) == (
        "file-user",
        "env-org",
        "flag-image",
    )
    assert site.connection.nameservers == ()


def test_an_override_without_a_flag_name_is_blamed_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('hostname = "ghe.example.com"\n')
    with pytest.raises(SiteFileError) as info:
        load_site(path, environ={}, overrides=SiteOverrides(https_port=70000))
    assert info.value.message.startswith("command line ([connection] https_port): ")
    with pytest.raises(SiteFileError) as info:
        load_site(
            path, environ={}, overrides=SiteOverrides(https_port=70000), flag_names=FLAG_NAMES
        )
    assert info.value.message.startswith("--port: ")
