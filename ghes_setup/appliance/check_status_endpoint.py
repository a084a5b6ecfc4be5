"""status-endpoint: `https://HOSTNAME/status` answers 200.

GHES answers 200 when the node is healthy and able to serve, 503 in maintenance mode or on a
passive replica (docs/reference/ghes-facts.md §7: health_checks.md, maintenance-mode-status.md). It
is the check a load balancer uses; cron uses it for the same reason. TLS is verified like every
other request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from ghes_setup import facts, httpclient
from ghes_setup.checks import Outcome, check
from ghes_setup.errors import GhesSetupError
from ghes_setup.net import AddressResolver


@dataclass(frozen=True, slots=True)
class StatusEndpointContext:
    hostname: str
    resolver: AddressResolver | None = None
    ca_file: Path | None = None
    https_port: int = facts.HTTPS_PORT
    timeout: float = 10.0

    @property
    def url(self) -> str:
        port = "" if self.https_port == facts.HTTPS_PORT else f":{self.https_port}"
        return f"https://{self.hostname}{port}/status"


@check("status-endpoint", area="appliance")
def status_endpoint(ctx: StatusEndpointContext) -> Outcome:
    """https://HOSTNAME/status returns 200 (the node is healthy and serving)."""
    try:
        with (
            httpclient.make_client(
                resolver=ctx.resolver, ca_file=ctx.ca_file, timeout=ctx.timeout
            ) as client,
            httpclient.translated(f"GET {ctx.url}"),
        ):
            response = client.get(ctx.url)
    except GhesSetupError as exc:
        return Outcome.errored(exc.message, exc.hint, details={"url": ctx.url})
    except httpx.HTTPError as exc:  # protocol errors that are not transport errors
        return Outcome.errored(
            f"GET {ctx.url}: {httpclient.describe(exc)}", details={"url": ctx.url}
        )
    details = {"url": ctx.url, "http_status": response.status_code}
    if response.status_code == 200:
        return Outcome.passed(f"{ctx.url} answers 200", details=details)
    if response.status_code == 503:
        return Outcome.failed(
            f"{ctx.url} answers 503: the appliance is in maintenance mode or is a passive replica",
            "if maintenance is not planned, turn it off (ghe-maintenance -u, or the Management "
            "Console); a replica answers 503 by design: point the check at the primary",
            details=details,
        )
    return Outcome.failed(
        f"{ctx.url} answers {response.status_code}, not 200",
        "check the appliance's services (ghe-service-list) and its front door",
        details=details,
    )
