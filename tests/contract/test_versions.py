"""The releases the lab can imitate are exactly those with a vendored official description."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghes_setup.errors import InputError
from ghes_setup.lab.layout import SUPPORTED_RELEASES
from ghes_setup.lab.service import UpOptions, new_config
from tests.contract.validate import vendored_versions


def test_lab_releases_are_the_vendored_descriptions() -> None:
    assert list(SUPPORTED_RELEASES) == vendored_versions()


@pytest.mark.parametrize("version", ["3.11.9", "3.20.0", "4.0.0"])
def test_lab_up_refuses_a_release_it_cannot_imitate(tmp_path: Path, version: str) -> None:
    with pytest.raises(InputError, match=r"3\.12 to 3\.19") as caught:
        new_config(UpOptions(tmp_path, ghes_version=version))
    assert "3.12" in str(caught.value.hint)


@pytest.mark.parametrize("version", ["3.12.0", "3.19.2"])
def test_lab_up_takes_the_oldest_and_newest(tmp_path: Path, version: str) -> None:
    assert new_config(UpOptions(tmp_path, ghes_version=version)).ghes_version == version


def test_settings_document_has_prometheus_only_from_3_16() -> None:
    from ghes_setup.lab.settings import to_document

    def doc(version: str) -> dict[str, object]:
        return to_document({}, configuration_id=1, run_count=0, ghes_version=version)

    assert "prometheus" not in doc("3.15.0")
    assert "prometheus" in doc("3.16.0")
