"""packages-enabled: GitHub Packages is on, with blob storage, and the ecosystems as desired.

Read over the admin SSH shell (`ghe-config`): `app.packages.enabled` is true, a blob storage
type is set with its credentials, the storage matches the site file's (MinIO is stored as
`s3`), and every ecosystem the site lists is in the state it asks for. The container
ecosystem is expected enabled unless the site says otherwise (the Container registry depends
on it). An ecosystem key that is unset counts as enabled: that is how GHES reads it
(UNVERIFIED keys, docs/reference/ghes-facts.md §2.2). Details list every ecosystem and the storage
(never a credential, only whether it is set).
"""

from __future__ import annotations

from typing import Any

from ghes_setup.checks import Outcome, check
from ghes_setup.errors import SiteFileError
from ghes_setup.packages import backends
from ghes_setup.packages.context import PackagesContext
from ghes_setup.packages.desired import CONTAINER, ECOSYSTEMS, check_ecosystems, ecosystem_setting

ENABLE_REMEDY = "ghes-setup packages enable --site SITE (runs the storage precheck first)"


@check("packages-enabled", area="packages")
def packages_enabled(ctx: PackagesContext) -> Outcome:
    """GitHub Packages is enabled with blob storage and the desired ecosystems."""
    pk = ctx.site.packages
    if pk.enabled is False:
        if ctx.settings()["packages.enabled"] is True:
            return Outcome.failed(
                "GitHub Packages is enabled; the site file turns it off ([packages] enabled)",
                "ghes-setup up --site SITE turns it off (or set enabled = true in the site file "
                "to keep it)",
                details={"enabled": True},
            )
        return Outcome.skipped("GitHub Packages is off, as the site file says")
    try:
        check_ecosystems(ctx.site)  # what `up` and `packages enable` refuse, never dropped
    except SiteFileError as exc:
        return Outcome.errored(exc.message, exc.hint)
    s = ctx.settings()
    storage = s["packages.storage_type"]
    ecosystems = {name: (s[ecosystem_setting(name)] or "enabled") for name in ECOSYSTEMS}
    details: dict[str, Any] = {
        "enabled": s["packages.enabled"] is True,
        "storage": storage,
        "ecosystems": ecosystems,
        "ecosystems_unset": [n for n in ECOSYSTEMS if s[ecosystem_setting(n)] is None],
    }
    # The stored type's settings (an appliance without one: the first backend's, S3's).
    shown = backends.storing(str(storage)) if storage is not None else backends.backends()[:1]
    if shown:
        for name in shown[0].site_settings:
            details[shown[0].site_key(name)] = s[name]
        details["credentials_set"] = all(s[name] for name in shown[0].secret_settings)

    if s["packages.enabled"] is not True:
        return Outcome.failed("GitHub Packages is not enabled", ENABLE_REMEDY, details=details)
    if not storage:
        return Outcome.failed(
            "GitHub Packages is enabled without blob storage", ENABLE_REMEDY, details=details
        )
    problems = _storage_problems(ctx, storage, details)
    wanted = {name: state for name, state in pk.ecosystems.items() if name in ECOSYSTEMS}
    wanted.setdefault(CONTAINER, "enabled")
    wrong = {n: (ecosystems[n], want) for n, want in wanted.items() if ecosystems[n] != want}
    problems += [f"{n} is {have} (desired {want})" for n, (have, want) in wrong.items()]
    if problems:
        details["problems"] = problems
        return Outcome.failed(
            f"GitHub Packages is enabled, but not as desired: {'; '.join(problems)}",
            ENABLE_REMEDY,
            details=details,
        )
    where = details.get(shown[0].site_key(shown[0].location)) if shown else None
    return Outcome.passed(
        f"GitHub Packages is enabled with {storage} storage"
        + (f" ({where})" if where else "")
        + f"; container ecosystem {ecosystems[CONTAINER]}",
        details=details,
    )


def _storage_problems(ctx: PackagesContext, storage: object, details: dict[str, Any]) -> list[str]:
    pk = ctx.site.packages
    problems: list[str] = []
    if not details.get("credentials_set"):
        problems.append(f"the {storage} storage credentials are not set")
    if pk.storage is None:
        return problems
    backend = backends.backend(pk.storage)
    if storage != backend.storage_type:
        return [*problems, f"storage is {storage} (site file: {pk.storage})"]
    for name in backend.site_settings:
        key = backend.site_key(name)
        value = getattr(pk, key)
        if value is not None and key in details and details[key] != value:
            problems.append(f"{key} is {details[key]!r} (site file: {value!r})")
    return problems
