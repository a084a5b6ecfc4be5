"""The Container registry smoke test (`registry-smoke`): push a generated image, pull it back
by tag and by digest, verify every byte, clean up.

Steps, each timed (details.steps), each proving one thing:
  ping            https://containers.HOSTNAME/v2/ is a registry (401 + Bearer challenge, or 200)
  auth            the PAT is valid (`GET /api/v3/user`), its scopes are read from X-OAuth-Scopes,
                  and the registry's token service gives us a push+pull token
  push blobs      the layers and config upload (storage behind the registry accepts writes)
  push manifest   the manifest is accepted; the digest the registry reports is our bytes' sha256
  pull by tag     the tag resolves to exactly the manifest we pushed
  pull by digest  the manifest by digest, then every blob, streamed and hashed while reading
  verify          config diff_ids = the layers' uncompressed sha256, the marker file holds this
                  run's id, the tag is listed
  cleanup         what we pushed is deleted: REST package-version delete (GHES), else the
                  registry's manifest DELETE; skipped with --keep

Outcome: `fail` at the first step that proves the registry broken (missing write:packages,
refused push, digest mismatch...), `warn` when only the cleanup failed, `pass` otherwise.
Raised instead of returned (exit 4 in the CLI): `Unreachable` (no connection to the
appliance) and `AuthenticationFailed` (the PAT was refused by the REST API or token service).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx

from ghes_setup import facts
from ghes_setup.checks.model import CheckResult, JsonValue, Outcome, Status
from ghes_setup.errors import GhesSetupError, InputError
from ghes_setup.net import AddressResolver
from ghes_setup.progress import NullProgress, ProgressSink
from ghes_setup.registry.errors import (
    DigestMismatch,
    InsufficientScope,
    RegistryError,
    RegistryHTTPError,
)
from ghes_setup.registry.oci import ManifestFormat, is_repository_name, parse_manifest
from ghes_setup.registry.retry import RetryPolicy
from ghes_setup.secrets import Secret

if TYPE_CHECKING:
    # The protocol client, the image builder and the REST client load when a smoke test runs:
    # `ghes-setup check` without --smoke imports this module for SmokeRequest alone.
    from ghes_setup.config.site import Site
    from ghes_setup.registry.client import RegistryClient
    from ghes_setup.registry.image import LayerInspector, SmokeImage
    from ghes_setup.registry.rest import RestApi, TokenInfo

CHECK_ID: Final = "registry-smoke"
AREA: Final = "registry"
STEPS: Final = (
    "ping",
    "auth",
    "push blobs",
    "push manifest",
    "pull by tag",
    "pull by digest",
    "verify",
    "cleanup",
)
DEFAULT_IMAGE: Final = "ghes-setup-smoke"
# Below this, a throughput says more about round trips than about the registry.
_RATE_MIN_BYTES: Final = 1024 * 1024

HttpFactory = Callable[["SmokeRequest"], httpx.Client]


@dataclass(frozen=True, slots=True)
class SmokeRequest:
    """Everything one smoke run needs; `token` is a classic PAT (write:packages)."""

    hostname: str
    token: Secret
    user: str | None = None
    namespace: str | None = None
    image: str = DEFAULT_IMAGE
    size: int = 0
    keep: bool = False
    chunk_size: int | None = None
    manifest_format: ManifestFormat = "oci"
    https_port: int = facts.HTTPS_PORT
    ca_file: Path | None = None
    resolver: AddressResolver | None = None
    timeout: float = 30.0
    workdir: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    run_id: str | None = None

    @classmethod
    def for_site(
        cls,
        site: Site,
        token: Secret,
        resolver: AddressResolver | None,
        *,
        keep: bool = False,
        chunk_size: int | None = None,
        manifest_format: ManifestFormat = "oci",
        timeout: float | None = None,
    ) -> SmokeRequest:
        """The smoke test of `site`: its hostname, its [smoke] user, namespace, image and
        size, its HTTPS port and CA file (`registry smoke`, `check --smoke` and `up`).
        `timeout` is per read or write, at least 60 s by default (the site's if longer): a large
        blob's closing PUT may take a while to commit."""
        smoke, c = site.smoke, site.connection
        if timeout is None:
            timeout = max(c.timeout, 60.0)
        return cls(
            hostname=site.hostname,
            token=token,
            user=smoke.user,
            namespace=smoke.namespace,
            image=smoke.image,
            size=smoke.size,
            keep=keep,
            chunk_size=chunk_size,
            manifest_format=manifest_format,
            https_port=c.https_port,
            ca_file=c.ca_file,
            resolver=resolver,
            timeout=timeout,
        )

    @property
    def web_host(self) -> str:
        return facts.https_authority(self.hostname, self.https_port)

    @property
    def registry_host(self) -> str:
        return f"{facts.CONTAINER_REGISTRY_LABEL}.{self.web_host}"


def default_http(request: SmokeRequest) -> httpx.Client:
    from ghes_setup.registry.transport import make_registry_http

    return make_registry_http(
        resolver=request.resolver, ca_file=request.ca_file, timeout=request.timeout
    )


def run_smoke(
    request: SmokeRequest,
    progress: ProgressSink | None = None,
    *,
    http_factory: HttpFactory | None = None,
) -> CheckResult:
    """Run the smoke test; the result of check `registry-smoke`.

    Raises `Unreachable` / `AuthenticationFailed` (exit 4) and `InputError` (exit 3).
    """
    started = time.perf_counter()
    outcome = smoke_outcome(request, progress, http_factory=http_factory)
    return CheckResult.from_outcome(CHECK_ID, AREA, outcome, time.perf_counter() - started)


def smoke_outcome(
    request: SmokeRequest,
    progress: ProgressSink | None = None,
    *,
    http_factory: HttpFactory | None = None,
) -> Outcome:
    sink = progress or NullProgress()
    namespace = (request.namespace or request.user or "").strip()
    repository_image = request.image.strip().lower()
    if not request.size >= 0:
        raise InputError("--size must be 0 or more bytes")
    if request.chunk_size is not None and request.chunk_size <= 0:
        raise InputError("--chunk-size must be more than 0 bytes")
    if not is_repository_name(repository_image):
        raise InputError(
            f"image name {request.image!r} is not a valid repository name",
            hint="lower-case letters, digits, '.', '_', '-' and '/' between components",
        )
    if namespace and not is_repository_name(namespace.lower()):
        raise InputError(f"namespace {namespace!r} is not a valid user or organization name")
    from ghes_setup.registry.image import new_run_id

    run = _SmokeRun(request, sink, request.run_id or new_run_id())
    with (http_factory or default_http)(request) as http:
        return run.execute(http, namespace)


# --------------------------------------------------------------------------- the run


@dataclass
class _Step:
    name: str
    status: str = "not run"
    duration_s: float = 0.0
    summary: str = ""

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "step": self.name,
            "status": self.status,
            "duration_s": round(self.duration_s, 6),
            "summary": self.summary,
        }


class _StepFailed(Exception):
    def __init__(self, summary: str, remedy: str | None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.remedy = remedy


class _SmokeRun:
    def __init__(self, request: SmokeRequest, progress: ProgressSink, run_id: str) -> None:
        self.request = request
        self.progress = progress
        self.run_id = run_id
        self.steps = {name: _Step(name) for name in STEPS}
        self.details: dict[str, Any] = {"run_id": run_id, "registry": request.registry_host}
        self.metrics: dict[str, float] = {}
        self.client: RegistryClient | None = None
        self.repository = ""
        self.pushed_manifest: str | None = None
        self.info: TokenInfo | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[_Step]:
        step = self.steps[name]
        self.progress.stage(name)
        started = time.perf_counter()
        try:
            yield step
        except _StepFailed as exc:
            step.status = "fail"
            step.summary = exc.summary
            raise
        except RegistryError as exc:
            step.status = "fail"
            step.summary = exc.message
            raise _StepFailed(exc.message, exc.hint) from None
        except GhesSetupError as exc:
            step.status = "error"
            step.summary = exc.message
            raise
        except BaseException:
            step.status = "error"
            step.summary = step.summary or "interrupted"
            raise
        else:
            if step.status == "not run":
                step.status = "pass"
        finally:
            step.duration_s = time.perf_counter() - started
            self.progress.finish(step.status == "pass", step.summary)

    def _bytes_progress(self, base: int, total: int) -> Callable[[int], None]:
        def report(n: int) -> None:
            self.progress.advance(base + n, total, "bytes")

        return report

    # -------------------------------------------------------------- orchestration

    def execute(self, http: httpx.Client, namespace: str) -> Outcome:
        from ghes_setup.registry.client import RegistryClient
        from ghes_setup.registry.rest import RestApi

        request = self.request
        rest = RestApi(http, request.web_host, request.token, retry=request.retry)
        client = RegistryClient(
            http, request.registry_host, retry=request.retry, on_event=self.progress.log
        )
        self.client = client
        image: SmokeImage | None = None
        try:
            self._ping(client)
            namespace = self._auth(rest, client, namespace)
            image = _generate(request, self.run_id)
            self._push(client, image)
            self._pull_and_verify(client, image)
        except _StepFailed as exc:
            self._cleanup(rest, client, namespace)
            return self._outcome(Status.FAIL, exc.summary, exc.remedy)
        except GhesSetupError:
            self._cleanup(rest, client, namespace, quiet=True)
            raise
        finally:
            if image is not None:
                image.close()
        cleanup_ok = self._cleanup(rest, client, namespace)
        return self._final(cleanup_ok)

    def _ping(self, client: RegistryClient) -> None:
        with self.step("ping") as step:
            ping = client.ping()
            bearer = ping.bearer
            if ping.status == 401 and bearer is not None:
                step.summary = f"/v2/ answers 401 with a Bearer challenge (realm {bearer.realm})"
                self.details["token_realm"] = bearer.realm
                self.details["token_service"] = bearer.service
            elif ping.status == 401 and any(c.scheme == "basic" for c in ping.challenges):
                step.summary = "/v2/ answers 401 with a Basic challenge"
            elif ping.status == 200:
                step.summary = "/v2/ answers 200 (no authentication)"
            else:
                raise _StepFailed(
                    f"https://{self.request.registry_host}/v2/ answered HTTP {ping.status}, "
                    "not a registry's 401 or 200",
                    "enable GitHub Packages with the Container registry (subdomain isolation "
                    "on) and check the front door routes containers.HOSTNAME to it",
                )

    def _auth(self, rest: RestApi, client: RegistryClient, namespace: str) -> str:
        request = self.request
        with self.step("auth") as step:
            info = rest.whoami()
            self.info = info
            user = request.user or info.login
            namespace = namespace or info.login
            self.repository = f"{namespace.lower()}/{request.image.strip().lower()}"
            tag = self.run_id
            self.details.update(
                {
                    "reference": f"{request.registry_host}/{self.repository}:{tag}",
                    "repository": self.repository,
                    "tag": tag,
                    "namespace": namespace,
                    "user": user,
                    "token_login": info.login,
                    "token_scopes": sorted(info.scopes) if info.scopes is not None else None,
                }
            )
            if info.scopes is None:
                self.details["token_note"] = (
                    f"{rest.base}/user sent no {facts.OAUTH_SCOPES_HEADER} header: this is not "
                    "a classic personal access token, and GitHub Packages accepts only those"
                )
            from ghes_setup.registry.client import Credentials

            client.set_credentials(Credentials(user, request.token))
            can_push = info.allows(facts.PACKAGE_SCOPES["push"])
            actions = ("pull", "push") if can_push is not False else ("pull",)
            token = client.login(self.repository, actions)
            granted = f"a token for {','.join(actions)}" if token else "no token needed"
            step.summary = (
                f"token of {info.login} accepted; scopes {info.describe_scopes()}; {granted}"
            )
        return namespace

    def _push(self, client: RegistryClient, image: SmokeImage) -> None:
        request = self.request
        info = self.info
        write = facts.PACKAGE_SCOPES["push"]
        with self.step("push blobs") as step:
            if info is not None and info.allows(write) is False:
                raise _StepFailed(
                    f"cannot push: the token of {info.login} lacks the {write} scope (its "
                    f"scopes: {info.describe_scopes()})",
                    f"create a classic personal access token with {write} at https://"
                    f"{request.web_host}{facts.NEW_PACKAGES_TOKEN_PATH} and pass it in "
                    "GHES_SETUP_TOKEN",
                )
            total = sum(b.descriptor.size for b in image.blobs)
            done_before = 0
            sent = 0
            seconds = 0.0
            blobs: list[dict[str, JsonValue]] = []
            self.details["blobs"] = blobs
            for blob in image.blobs:
                try:
                    pushed = client.push_blob(
                        self.repository,
                        blob,
                        chunk_size=request.chunk_size,
                        progress=self._bytes_progress(done_before, total),
                    )
                except RegistryError as exc:
                    raise _StepFailed(
                        f"push of blob {blob.descriptor.digest} to {self.repository} failed: "
                        f"{exc.message}",
                        self._remedy(exc),
                    ) from None
                done_before += blob.descriptor.size
                sent += pushed.bytes_sent
                seconds += pushed.seconds
                blobs.append(
                    {
                        **pushed.descriptor.to_json(),
                        "skipped": pushed.skipped,
                        "retries": pushed.retries,
                        "seconds": round(pushed.seconds, 6),
                    }
                )
            self.metrics["push_bytes"] = float(sent)
            if seconds > 0:
                self.metrics["push_bytes_per_second"] = round(sent / seconds, 1)
            step.summary = f"{len(blobs)} blobs, {_size(total)}{_rate(sent, seconds)}"
        with self.step("push manifest") as step:
            try:
                digest = client.push_manifest(
                    self.repository, self.run_id, image.manifest, image.manifest_media_type
                )
            except RegistryError as exc:
                if isinstance(exc, DigestMismatch):
                    # The registry took the manifest (and the run's tag) but under another
                    # digest: cleanup must still try to delete it, or say it is left behind.
                    self.pushed_manifest = exc.actual or exc.digest
                raise _StepFailed(
                    f"push of the manifest {self.repository}:{self.run_id} failed: {exc.message}",
                    self._remedy(exc),
                ) from None
            self.pushed_manifest = digest
            self.details["manifest_digest"] = digest
            self.details["media_type"] = image.manifest_media_type
            step.summary = f"{self.repository}:{self.run_id} -> {digest}"

    def _remedy(self, exc: RegistryError) -> str:
        """What to do about a refused push: the error's own hint, but never "use a classic PAT
        with write:packages" for a token the auth step has shown to have it. The token
        service then granted less than asked (the distribution token spec grants the
        intersection with what the user may do): the user may not publish there."""
        has_write = self.info is not None and self.info.allows("write:packages")
        if isinstance(exc, InsufficientScope) and has_write:
            return self._push_remedy(exc)
        return exc.hint or self._push_remedy(exc)

    def _push_remedy(self, exc: RegistryError) -> str:
        status = exc.status if isinstance(exc, RegistryHTTPError) else None
        if status is not None and status >= 500:
            # A 5xx is the registry (or the front door before it) failing, not a permission:
            # sending the admin to package settings would hide the broken service.
            return (
                f"the registry is failing (HTTP {status}): check the registry service on the "
                "appliance (ghes-setup registry status; ghe-config.log, the registry's logs) "
                "and run the smoke test again"
            )
        login = self.info.login if self.info else "the token's user"
        namespace = self.details.get("namespace", "the namespace")
        return (
            f"the token has write:packages; check that {login} may publish packages in "
            f"{namespace} (organization package settings, package access)"
        )

    def _pull_and_verify(self, client: RegistryClient, image: SmokeImage) -> None:
        from ghes_setup.registry.image import MARKER_FILE, LayerInspector, check_config

        expected = image.manifest_digest
        with self.step("pull by tag") as step:
            by_tag = client.get_manifest(self.repository, self.run_id)
            if by_tag.digest != expected or by_tag.body != image.manifest:
                raise _StepFailed(
                    f"tag {self.run_id} resolves to {by_tag.digest}, not the manifest we "
                    f"pushed ({expected})",
                    "another client may be pushing the same tag; rerun",
                )
            step.summary = f"{self.run_id} -> {by_tag.digest} ({by_tag.media_type})"
        inspectors: list[LayerInspector] = []
        pulled_config = bytearray()
        with self.step("pull by digest") as step:
            by_digest = client.get_manifest(self.repository, expected)
            try:
                manifest = parse_manifest(by_digest.body, by_digest.media_type)
            except ValueError as exc:
                raise _StepFailed(f"the manifest pulled by digest: {exc}", None) from None
            total = manifest.config.size + sum(layer.size for layer in manifest.layers)
            done = 0
            received = 0
            seconds = 0.0
            for layer in manifest.layers:
                inspector = LayerInspector()
                inspectors.append(inspector)
                pulled = client.pull_blob(
                    self.repository,
                    layer,
                    inspector,
                    progress=self._bytes_progress(done, total),
                )
                done += layer.size
                received += layer.size
                seconds += pulled.seconds
            pulled = client.pull_blob(self.repository, manifest.config, pulled_config.extend)
            received += manifest.config.size
            seconds += pulled.seconds
            self.metrics["pull_bytes"] = float(received)
            if seconds > 0:
                self.metrics["pull_bytes_per_second"] = round(received / seconds, 1)
            step.summary = (
                f"manifest and {len(manifest.layers) + 1} blobs, {_size(received)}"
                f"{_rate(received, seconds)}, every sha256 checked"
            )
        with self.step("verify") as step:
            diff_ids: list[str] = []
            for index, inspector in enumerate(inspectors):
                diff_id = inspector.finish()
                if diff_id is None:
                    raise _StepFailed(
                        f"layer {manifest.layers[index].digest}: {inspector.error}", None
                    )
                diff_ids.append(diff_id)
            problem = check_config(bytes(pulled_config), diff_ids)
            if problem is not None:
                raise _StepFailed(f"the pulled image is not valid: {problem}", None)
            marker = inspectors[0].read_file(MARKER_FILE) if inspectors else None
            if marker is None or marker.decode(errors="replace").strip() != self.run_id:
                raise _StepFailed(
                    f"the marker layer does not hold this run's id {self.run_id} "
                    f"(found {marker!r})",
                    "the registry served another image's content under our digests",
                )
            tags = client.list_tags(self.repository)
            if self.run_id not in tags:
                raise _StepFailed(
                    f"tag {self.run_id} is missing from the tag list of {self.repository}", None
                )
            step.summary = (
                f"config diff_ids match the {len(diff_ids)} layer(s), the marker holds "
                f"{self.run_id}, the tag is listed"
            )

    def _cleanup(
        self, rest: RestApi, client: RegistryClient, namespace: str, *, quiet: bool = False
    ) -> bool:
        """Delete what the run pushed. True when nothing is left behind (or --keep)."""
        step = self.steps["cleanup"]
        digest = self.pushed_manifest
        if digest is None:
            step.summary = "nothing to clean up"
            self.details["cleanup"] = {"method": None, "deleted": False, "reason": step.summary}
            return True
        if self.request.keep:
            step.status = "skip"
            step.summary = f"kept {self.details.get('reference')} (--keep)"
            self.details["cleanup"] = {"method": None, "deleted": False, "reason": "--keep"}
            return True
        started = time.perf_counter()
        self.progress.stage("cleanup")
        method, deleted, reasons = self._delete(rest, client, namespace, digest)
        step.duration_s = time.perf_counter() - started
        step.status = "pass" if deleted else "warn"
        step.summary = (
            f"deleted through the {method}"
            if deleted
            else f"could not delete {digest}: " + "; ".join(reasons)
        )
        self.details["cleanup"] = {
            "method": method if deleted else None,
            "deleted": deleted,
            "reason": "; ".join(reasons),
        }
        self.progress.finish(deleted, step.summary)
        return deleted or quiet

    def _delete(
        self, rest: RestApi, client: RegistryClient, namespace: str, digest: str
    ) -> tuple[str, bool, list[str]]:
        reasons: list[str] = []
        info = self.info
        # Deleting a version needs read:packages AND delete:packages (REST docs): say which
        # of the two the token lacks, before any request.
        missing = [sc for sc in facts.DELETE_SCOPES if info is not None and not info.allows(sc)]
        if info is not None and info.scopes is not None and missing:
            return (
                "",
                False,
                [
                    f"the token lacks {' and '.join(missing)} (deleting a package version "
                    f"needs {' and '.join(facts.DELETE_SCOPES)}; its scopes: "
                    f"{info.describe_scopes()})"
                ],
            )
        image = self.request.image.strip().lower()
        try:
            lookup = rest.find_container_version(
                namespace, image, digest, login=info.login if info else None
            )
            if lookup.version_id is not None and lookup.owner_kind is not None:
                result = rest.delete_container_version(
                    lookup.owner_kind, namespace, image, lookup.version_id
                )
                if result.deleted:
                    return "REST API (package version)", True, reasons
                reasons.append(f"REST version delete: HTTP {result.status} {result.message}")
                last = facts.LAST_VERSION_DELETE_REFUSED.value
                if result.status == 400 and str(last) in result.message and lookup.only_version:
                    package = rest.delete_container_package(lookup.owner_kind, namespace, image)
                    if package.deleted:
                        return "REST API (package, its only version was ours)", True, reasons
                    reasons.append(f"REST package delete: HTTP {package.status}")
            else:
                reasons.append(f"REST API: {lookup.reason or 'version not found'}")
        except GhesSetupError as exc:
            reasons.append(f"REST API: {exc.message}")
        try:
            result_registry = client.delete_manifest(self.repository, digest)
        except GhesSetupError as exc:
            reasons.append(f"registry: {exc.message}")
            return "", False, reasons
        if result_registry.deleted:
            return "registry API (manifest DELETE)", True, reasons
        reasons.append(f"registry: {result_registry.reason}")
        return "", False, reasons

    # -------------------------------------------------------------- result

    def _stats(self, client: RegistryClient) -> None:
        stats = client.stats
        self.details["requests"] = stats.requests
        self.details["retries"] = stats.retries
        self.details["uploads_resumed"] = stats.uploads_resumed
        self.details["uploads_restarted"] = stats.uploads_restarted
        self.details["token_requests"] = stats.token_requests
        if stats.events:
            self.details["events"] = stats.events[-20:]

    def _outcome(self, status: Status, summary: str, remedy: str | None) -> Outcome:
        if self.client is not None:
            self._stats(self.client)
        self.details["steps"] = [s.to_json() for s in self.steps.values()]
        return Outcome(status, summary, remedy, details=dict(self.details), metrics=self.metrics)

    def _final(self, cleanup_ok: bool) -> Outcome:
        reference = self.details.get("reference", "")
        push = self.metrics.get("push_bytes_per_second", 0.0)
        pull = self.metrics.get("pull_bytes_per_second", 0.0)
        cleanup = self.steps["cleanup"]
        pushed = self.metrics.get("push_bytes", 0.0)
        rates = f", push {_mb(push)}, pull {_mb(pull)}" if pushed >= _RATE_MIN_BYTES else ""
        summary = (
            f"pushed and pulled {reference} ({_size(pushed)}{rates}): every digest verified; "
            f"{cleanup.summary}"
        )
        if not cleanup_ok:
            return self._outcome(
                Status.WARN,
                summary,
                f"delete {reference} by hand (package settings) or give the token "
                f"{' and '.join(facts.DELETE_SCOPES)}",
            )
        return self._outcome(Status.PASS, summary, None)


def _generate(request: SmokeRequest, run_id: str) -> SmokeImage:
    from ghes_setup.registry.image import build_image

    try:
        return build_image(
            run_id, size=request.size, fmt=request.manifest_format, workdir=request.workdir
        )
    except OSError as exc:
        where = request.workdir or Path(tempfile.gettempdir())
        raise InputError(
            f"cannot write the generated {_size(request.size)} layer in {where}: "
            f"{exc.strerror or exc}",
            hint="free some space there, or point TMPDIR at a folder with room",
        ) from None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _rate(n: int, seconds: float) -> str:
    """`, 93.4 MB/s`, or nothing for transfers too small to measure."""
    return f", {_mb(n / seconds)}" if seconds > 0 and n >= _RATE_MIN_BYTES else ""


def _mb(rate: float) -> str:
    return f"{rate / 1e6:.1f} MB/s"
