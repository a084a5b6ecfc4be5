"""tls-enabled: TLS is on and a certificate is installed."""

from __future__ import annotations

from ghes_setup.appliance.context import ApplianceContext
from ghes_setup.appliance.plan import describe_pem
from ghes_setup.checks import Outcome, check


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
    return Outcome.passed("TLS is on", details={"certificate": describe_pem(cert)})
