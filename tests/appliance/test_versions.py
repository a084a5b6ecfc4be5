"""Supported releases: `facts.TESTED_RELEASES` is the vendored descriptions, and preflight warns
(never refuses) on a release newer than the newest tested one."""

from __future__ import annotations

import json

import pytest

from ghes_setup import facts
from ghes_setup.appliance.check_version import version_outcome
from ghes_setup.appliance.fake import FakeAppliance
from ghes_setup.appliance.preflight import MANAGE_API, preflight
from ghes_setup.appliance.selector import RoutedTransport
from ghes_setup.checks import Status
from ghes_setup.errors import UnsupportedVersion
from ghes_setup.progress import RecordingProgress
from tests.contract.validate import DESCRIPTIONS, vendored_versions


def test_the_tested_releases_are_exactly_the_vendored_descriptions() -> None:
    provenance = json.loads((DESCRIPTIONS / "provenance.json").read_text())["versions"]
    assert [str(t.version) for t in facts.TESTED_RELEASES] == vendored_versions()
    assert facts.TESTED_RELEASES[0].version == facts.MANAGE_API_SINCE
    for tested in facts.TESTED_RELEASES:
        feature = str(tested.version)
        assert tested.description == f"tests/contract/descriptions/ghes-{feature}.json"
        assert (DESCRIPTIONS / f"ghes-{feature}.json").is_file()
        assert tested.package == f"@octokit/openapi@{provenance[feature]['package_version']}"


def test_a_newer_release_than_the_newest_tested_is_a_warning_not_a_refusal() -> None:
    newer = f"{facts.NEWEST_TESTED.major}.{facts.NEWEST_TESTED.minor + 1}.0"
    progress = RecordingProgress()
    info = preflight(FakeAppliance(version=newer), writes=True, progress=progress)
    assert str(info.version) == newer
    assert any("untested release" in text for _, text in progress.events)
    outcome = version_outcome(info, {})
    assert outcome.status is Status.WARN and "untested release" in outcome.summary
    assert outcome.details["newest_tested"] == str(facts.NEWEST_TESTED)


def test_a_tested_release_passes_naming_its_description() -> None:
    progress = RecordingProgress()
    info = preflight(FakeAppliance(version="3.17.4"), progress=progress)
    assert not any("untested" in text for _, text in progress.events)
    outcome = version_outcome(info, {})
    assert outcome.status is Status.PASS
    assert outcome.details["tested_against"] == "tests/contract/descriptions/ghes-3.17.json"


@pytest.mark.parametrize("version", ["3.11.9", "3.8.0"])
def test_below_3_12_the_manage_api_path_is_refused(version: str) -> None:
    with pytest.raises(UnsupportedVersion, match=r"3\.12"):
        preflight(FakeAppliance(version=version), needs=(MANAGE_API,))
    api = FakeAppliance(version=version)
    with pytest.raises(UnsupportedVersion, match=r"3\.12"):
        RoutedTransport(ssh=None, api=api, mode="api").identify()
