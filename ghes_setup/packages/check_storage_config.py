"""packages-storage-config: the site's Packages storage is one GHES can use (storage lint).

Reads only the site file and the secret the backend's lint reads
(`GHES_SETUP_AZURE_CONNECTION_STRING` for azure, when set): no network. `fail` for what
GHES refuses (an Azure connection string with a SAS, or without AccountName or AccountKey),
`warn` for what works badly (an AWS service URL that is not a regional endpoint:
AuthorizationHeaderMalformed for buckets outside us-east-1; MinIO over plain http), `pass`
otherwise, `skip` when the site turns Packages off or names no storage. The rules and the GHES
documents behind them: `packages.lint`.
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError
from ghes_setup.packages.backends import lint_storage
from ghes_setup.packages.context import PackagesContext
from ghes_setup.packages.desired import storage_backend
from ghes_setup.packages.lint import CHECK_ID
from ghes_setup.secrets import from_env


@check(CHECK_ID, area="packages")
def packages_storage_config(ctx: PackagesContext) -> Outcome:
    """The site's Packages storage settings pass the storage lint."""
    pk = ctx.site.packages
    if pk.enabled is False or pk.storage is None:
        return Outcome.skipped("the site file configures no GitHub Packages storage")
    backend = storage_backend(ctx.site)
    read = backend.lint_secret
    conn = None
    if read is not None:
        try:
            secret = from_env(read.env)
        except GhesSetupError as exc:
            return Outcome.errored(f"cannot read {read.env}: {exc.message}", exc.hint)
        conn = secret.reveal() if secret is not None else None
    findings = lint_storage(ctx.site, conn)
    details: dict[str, object] = {
        "storage": pk.storage,
        "findings": [f.document() for f in findings],
    }
    if read is not None and conn is None:
        details["connection_string_linted"] = False
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        return Outcome.failed("; ".join(f.message for f in errors), errors[0].hint, details=details)
    if findings:
        return Outcome.warned(
            "; ".join(f.message for f in findings), findings[0].hint, details=details
        )
    return Outcome.passed(
        f"{backend.label} storage settings pass the storage lint", details=details
    )
