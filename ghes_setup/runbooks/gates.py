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
    return run_tls_check(TlsCheckRequest.from_site(site))
