"""Gates pipelines put in front of a change: the one place the appliance and TLS areas meet.

The appliance area never imports the TLS area (independent areas); a command that may push a
certificate passes this gate into `apply_site`.
"""

from __future__ import annotations

from ghes_setup.checks import Report
from ghes_setup.config.site import Site
from ghes_setup.tls.service import TlsCheckRequest, run_tls_check


def tls_gate(site: Site) -> Report:
    """`tls check` on the site's certificate and key (the gate before a certificate push)."""
    if site.tls.cert is None or site.tls.key is None:
        raise ValueError("tls_gate needs [tls] cert and key")  # apply_site only calls it then
    return run_tls_check(
        TlsCheckRequest(
            cert=site.tls.cert,
            key=site.tls.key,
            hostname=site.hostname,
            ca_file=site.connection.ca_file,
            warn_days=site.tls.warn_days,
            crit_days=site.tls.crit_days,
            ghes_version=site.ghes_version,
        )
    )
