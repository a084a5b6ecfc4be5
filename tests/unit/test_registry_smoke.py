"""The smoke test service (`run_smoke`) against the in-process fake registry: no sockets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ghes_setup import exit_codes
from ghes_setup.checks import Report, Status
from ghes_setup.errors import AuthenticationFailed, InputError, Unreachable
from ghes_setup.progress import RecordingProgress
from ghes_setup.registry import smoke as smoke_module
from ghes_setup.registry.check_smoke import registry_smoke
from ghes_setup.registry.retry import RetryPolicy
from ghes_setup.registry.smoke import STEPS, SmokeRequest, run_smoke
from ghes_setup.reporting import json_report
from ghes_setup.secrets import Secret
from tests.contract.validate import install_validation, vendored_versions
from tests.registry.fake import HOST, REGISTRY, FakeRegistry, Fault, Pat

FAST = RetryPolicy(attempts=4, initial_delay_s=0.001, max_delay_s=0.01)


def request(tmp_path: Path, pat: str = "pat-write", **kw: object) -> SmokeRequest:
    args: dict[str, object] = {
        "hostname": HOST,
        "token": Secret(pat),
        "namespace": "octo-org",
        "retry": FAST,
        "workdir": tmp_path,
    }
    args.update(kw)
    return SmokeRequest(**args)  # type: ignore[arg-type]


def smoke(fake: FakeRegistry, req: SmokeRequest, progress: RecordingProgress | None = None):  # type: ignore[no-untyped-def]
    return run_smoke(req, progress or RecordingProgress(), http_factory=lambda _: validated(fake))


def validated(fake: FakeRegistry) -> httpx.Client:
    """The fake's client, with every REST exchange (`/api/v3/...`) held to the official
    description of the newest vendored release; the registry's `/v2/` is not described."""
    client = fake.client()
    if not fake.refuse_last_version:  # a github.com answer (400) the description does not list
        install_validation(client, vendored_versions()[-1])
    return client


def steps(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s["step"]: s["status"] for s in result.details["steps"]}


def test_full_run_passes_with_every_step_timed_and_cleans_up(tmp_path: Path) -> None:
    fake = FakeRegistry()
    progress = RecordingProgress()
    result = smoke(fake, request(tmp_path, size=300_000), progress)
    assert result.status is Status.PASS, result.summary
    assert result.id == "registry-smoke" and result.area == "registry"
    assert steps(result) == dict.fromkeys(STEPS, "pass")
    assert all(s["duration_s"] >= 0 for s in result.details["steps"])
    tag = result.details["tag"]
    assert result.details["reference"] == f"{REGISTRY}/octo-org/ghes-setup-smoke:{tag}"
    assert result.details["manifest_digest"].startswith("sha256:")
    assert result.metrics["push_bytes_per_second"] > 0
    assert result.metrics["pull_bytes_per_second"] > 0
    assert result.metrics["push_bytes"] > 300_000
    assert result.details["cleanup"]["deleted"] is True
    assert "REST API" in result.details["cleanup"]["method"]
    assert not fake.manifests and not fake.tags  # nothing left behind
    assert ("stage", "push blobs") in progress.events
    assert any(kind == "advance" for kind, _ in progress.events)
    assert not any(tmp_path.iterdir())  # the generated layer is gone


def test_read_only_token_fails_at_push_naming_write_packages(tmp_path: Path) -> None:
    fake = FakeRegistry()
    result = smoke(fake, request(tmp_path, "pat-read"))
    assert result.status is Status.FAIL
    assert "lacks the write:packages scope" in result.summary
    assert "read:packages" in result.summary  # what it does have
    assert result.remedy and "/settings/tokens/new?scopes=write:packages" in result.remedy
    assert steps(result)["push blobs"] == "fail"
    assert steps(result)["ping"] == steps(result)["auth"] == "pass"
    assert fake.requests("POST", "/blobs/uploads/") == []  # nothing was attempted
    assert exit_codes.for_status(result.status) == 1


class PullOnlyGrants(FakeRegistry):
    """The token service grants pull only: the user may not publish in the namespace, though
    the PAT has write:packages (the granted set is the intersection, distribution token spec)."""

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.grant_less_once = True
        return super()._token(request)


def test_a_write_token_whose_user_may_not_publish_is_sent_to_the_package_permissions(
    tmp_path: Path,
) -> None:
    result = smoke(PullOnlyGrants(), request(tmp_path))
    assert result.status is Status.FAIL and steps(result)["push blobs"] == "fail"
    assert result.remedy and "may publish packages in octo-org" in result.remedy
    assert "classic" not in result.remedy  # the token has the scope: not the token's fault


def test_a_manifest_stored_under_another_digest_is_not_called_nothing_to_clean_up(
    tmp_path: Path,
) -> None:
    fake = FakeRegistry()
    fake.wrong_manifest_digest = True  # 201, but another Docker-Content-Digest
    result = smoke(fake, request(tmp_path))
    assert result.status is Status.FAIL and steps(result)["push manifest"] == "fail"
    cleanup = result.details["cleanup"]
    assert cleanup["reason"] != "nothing to clean up"
    # The fake announced a digest nothing is stored under: the run says what it left behind.
    assert fake.tags and cleanup["deleted"] is False and steps(result)["cleanup"] == "warn"
    assert "sha256:" in cleanup["reason"]


def test_every_smoke_of_a_site_waits_as_long_for_a_large_blobs_commit() -> None:
    # `registry smoke`, `check --smoke` and `up` all build their request here.
    from ghes_setup.config.site import Site

    site = Site(hostname=HOST)
    assert SmokeRequest.for_site(site, Secret("pat-write"), None).timeout == 60.0
    assert SmokeRequest.for_site(site, Secret("pat-write"), None, timeout=5.0).timeout == 5.0


def test_wrong_token_raises_authentication_failed(tmp_path: Path) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        smoke(FakeRegistry(), request(tmp_path, "nope-nope"))
    assert "401" in info.value.message and "nope-nope" not in info.value.message
    assert exit_codes.for_error(info.value) == 4


def test_fine_grained_token_is_named_as_such(tmp_path: Path) -> None:
    fake = FakeRegistry(pats={"fg-token": Pat("octo", set(), classic=False)})
    with pytest.raises(AuthenticationFailed) as info:
        smoke(fake, request(tmp_path, "fg-token"))
    assert "classic" in (info.value.hint or "")


def test_unreachable_appliance_raises_unreachable(tmp_path: Path) -> None:
    fake = FakeRegistry()
    fake.unreachable = True
    with pytest.raises(Unreachable):
        smoke(fake, request(tmp_path))


def test_not_a_registry_fails_at_ping(tmp_path: Path) -> None:
    fake = FakeRegistry()
    fake.not_a_registry = True
    result = smoke(fake, request(tmp_path))
    assert result.status is Status.FAIL and "HTTP 404" in result.summary
    assert steps(result)["ping"] == "fail" and steps(result)["auth"] == "not run"


def test_blob_corrupted_in_storage_is_a_digest_mismatch_naming_it(tmp_path: Path) -> None:
    fake = FakeRegistry()

    class CorruptAfterPush(RecordingProgress):
        def stage(self, name: str, detail: str = "") -> None:
            super().stage(name, detail)
            if name == "pull by tag":
                fake.corrupt.update(fake.blobs)

    result = smoke(fake, request(tmp_path, size=10_000), CorruptAfterPush())
    assert result.status is Status.FAIL
    assert "does not match its digest" in result.summary
    blob_digest = result.summary.split("blob ")[1].split()[0]
    assert blob_digest in fake.blobs
    assert steps(result)["pull by digest"] == "fail"
    assert steps(result)["cleanup"] == "pass"  # the run still removed what it pushed
    assert not fake.manifests


def test_server_error_mid_upload_is_retried_and_the_run_passes(tmp_path: Path) -> None:
    fake = FakeRegistry()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", 503, after_bytes=1000))
    result = smoke(fake, request(tmp_path, size=50_000))
    assert result.status is Status.PASS, result.summary
    assert result.details["retries"] >= 1
    assert any("503" in e for e in result.details["events"])


def test_upload_that_keeps_failing_fails_the_run_cleanly(tmp_path: Path) -> None:
    fake = FakeRegistry()
    fake.faults.append(Fault("PUT", "/blobs/uploads/", 503, times=100))
    result = smoke(fake, request(tmp_path, size=50_000))
    assert result.status is Status.FAIL
    assert "failed after 4 attempt(s)" in result.summary and "503" in result.summary
    assert steps(result)["push blobs"] == "fail"


def test_chunked_push_uses_patches(tmp_path: Path) -> None:
    fake = FakeRegistry()
    result = smoke(fake, request(tmp_path, size=250_000, chunk_size=100_000))
    assert result.status is Status.PASS
    assert len(fake.requests("PATCH")) >= 3


def test_keep_leaves_the_image_and_says_so(tmp_path: Path) -> None:
    fake = FakeRegistry()
    result = smoke(fake, request(tmp_path, keep=True))
    assert result.status is Status.PASS
    assert steps(result)["cleanup"] == "skip"
    assert result.details["cleanup"] == {"method": None, "deleted": False, "reason": "--keep"}
    assert ("octo-org/ghes-setup-smoke", result.details["tag"]) in fake.tags


def test_cleanup_falls_back_to_the_registry_delete(tmp_path: Path) -> None:
    fake = FakeRegistry()
    fake.rest_packages = False
    result = smoke(fake, request(tmp_path))
    assert result.status is Status.PASS
    assert result.details["cleanup"]["method"] == "registry API (manifest DELETE)"
    assert not fake.manifests


def test_last_version_rule_deletes_the_package_holding_only_our_version(tmp_path: Path) -> None:
    fake = FakeRegistry(refuse_last_version=True)
    result = smoke(fake, request(tmp_path))
    assert result.status is Status.PASS
    assert "package" in result.details["cleanup"]["method"]
    assert fake.deleted_packages == ["orgs/octo-org/ghes-setup-smoke"]


def test_cleanup_that_cannot_delete_is_a_warning_with_a_remedy(tmp_path: Path) -> None:
    fake = FakeRegistry(allow_delete=False)
    fake.rest_packages = False
    result = smoke(fake, request(tmp_path))
    assert result.status is Status.WARN
    assert steps(result)["cleanup"] == "warn"
    assert "does not allow deletes" in result.details["cleanup"]["reason"]
    assert result.remedy and "delete:packages" in result.remedy


def test_token_without_delete_scope_skips_cleanup_with_a_warning(tmp_path: Path) -> None:
    fake = FakeRegistry(pats={"pat-wo": Pat("octo", {"read:packages", "write:packages"})})
    result = smoke(fake, request(tmp_path, "pat-wo"))
    assert result.status is Status.WARN
    assert "lacks delete:packages" in result.details["cleanup"]["reason"]
    assert not fake.requests("DELETE")  # refused before any request


def test_cleanup_scope_precheck_names_both_scopes_deletion_needs(tmp_path: Path) -> None:
    fake = FakeRegistry(pats={"pat-w": Pat("octo", {"write:packages"})})
    result = smoke(fake, request(tmp_path, "pat-w"))
    assert result.status is Status.WARN
    assert result.details["cleanup"]["reason"] == (
        "the token lacks delete:packages (deleting a package version needs read:packages and "
        "delete:packages; its scopes: write:packages)"
    )
    assert result.remedy and "read:packages and delete:packages" in result.remedy
    assert not fake.requests("DELETE")


def test_user_namespace_defaults_to_the_tokens_login(tmp_path: Path) -> None:
    fake = FakeRegistry()
    result = smoke(fake, request(tmp_path, namespace=None))
    assert result.status is Status.PASS
    assert result.details["repository"] == "octo/ghes-setup-smoke"
    # The token owner's own (private) package: /user/..., not /users/{username}/... (public
    # packages only, where the version would not be found).
    assert any("/api/v3/user/packages/container/" in u for u in fake.requests("DELETE"))
    assert not any("/api/v3/users/" in u for u in fake.requests("GET") + fake.requests("DELETE"))
    assert result.details["cleanup"]["deleted"] is True


def test_docker_schema2_manifest_option(tmp_path: Path) -> None:
    fake = FakeRegistry()
    result = smoke(fake, request(tmp_path, manifest_format="docker"))
    assert result.status is Status.PASS
    assert result.details["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"


@pytest.mark.parametrize(
    "kw", [{"image": "Bad Name"}, {"namespace": "no spaces!"}, {"size": -1}, {"chunk_size": 0}]
)
def test_invalid_input_is_an_input_error_before_any_request(tmp_path: Path, kw: dict) -> None:  # type: ignore[type-arg]
    fake = FakeRegistry()
    with pytest.raises(InputError):
        smoke(fake, request(tmp_path, **kw))
    assert fake.log == []


def test_no_secret_in_the_json_document(tmp_path: Path) -> None:
    fake = FakeRegistry()
    result = smoke(fake, request(tmp_path))
    text = json_report.render(Report("registry smoke", (result,), HOST))
    assert "pat-write" not in text
    assert not any(token in text for token in fake.tokens)
    assert result.details["manifest_digest"] in text


def test_check_wrapper_turns_a_refused_token_into_an_error_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRegistry()
    # The check builds its HTTP client with the default factory: point that at the fake.
    monkeypatch.setattr(smoke_module, "default_http", lambda _: fake.client())
    result = registry_smoke.run(request(tmp_path, "nope-nope"))
    assert result.status is Status.ERROR and "401" in result.summary
    assert result.remedy and "classic personal access token" in result.remedy


def test_no_room_for_the_generated_layer_is_an_input_error(tmp_path: Path) -> None:
    fake = FakeRegistry()
    with pytest.raises(InputError) as info:
        smoke(fake, request(tmp_path, size=1000, workdir=tmp_path / "missing"))
    assert "cannot write the generated" in info.value.message
    assert "TMPDIR" in (info.value.hint or "")
    assert fake.requests("POST") == []  # nothing was pushed


def test_a_502_from_the_registry_says_it_is_failing_not_check_package_permissions(
    tmp_path: Path,
) -> None:
    fake = FakeRegistry()
    fake.faults.append(Fault("PUT", "/manifests/", 502, times=100, code="UNKNOWN"))
    result = smoke(fake, request(tmp_path))
    assert result.status is Status.FAIL, result.summary
    assert "502" in result.summary
    assert "registry is failing" in (result.remedy or ""), result.remedy
    assert "publish packages" not in (result.remedy or "")
