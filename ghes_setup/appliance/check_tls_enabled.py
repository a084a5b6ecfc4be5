"""tls-enabled: TLS is on and a certificate is installed: the site file's, when it gives one.

The stored certificate is compared with the site's `[tls] cert` as a plan compares them (PEM
whitespace does not count): a certificate installed by hand, or one the site file renews but
nobody applied, is a difference, not a pass.
"""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.plan import describe_pem, desired_settings
from ghes_setup.appliance.transport import same_value
from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError


@check("tls-enabled", area="appliance", requires=("appliance-reachable",))
def tls_enabled(ctx: ApplianceContext) -> Outcome:
    """TLS is enabled with a certificate (subdomain isolation requires TLS)."""
    if not all(ctx.transport.supports(n) for n in ("tls.enabled", "tls.cert")):
        return Outcome.errored("no transport in use can read the TLS settings")
    settings = ctx.settings()
    enabled, cert = settings["tls.enabled"], settings["tls.cert"]
    remedy = "give [tls] cert and key in the site file, then ghes-setup config apply"
    if enabled is not True:
        return Outcome.failed("TLS is off", remedy)
    if not isinstance(cert, str) or not cert.strip():
        return Outcome.failed("TLS is on but no certificate is installed", remedy)
    details = {"certificate": describe_pem(cert)}
    if ctx.site is not None and ctx.site.tls.cert is not None:
        try:
            wanted = desired_settings(ctx.site, scope=("tls.cert",)).get("tls.cert")
        except GhesSetupError as exc:
            return Outcome.errored(
                f"cannot read the site file's certificate: {exc.message}", exc.hint
            )
        if isinstance(wanted, str) and not same_value("tls.cert", cert, wanted):
            return Outcome.failed(
                f"the installed certificate is not the site file's ({ctx.site.tls.cert.name})",
                "ghes-setup config apply --site SITE installs it (tls check validates it first)",
                details={**details, "site_certificate": describe_pem(wanted)},
            )
    return Outcome.passed("TLS is on", details=details)
