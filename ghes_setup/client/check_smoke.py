"""registry-smoke from this machine: the registry smoke test, the way docker on it would go.

The work is the registry area's (`registry.smoke.smoke_outcome`: push a generated image, pull
it by tag and digest, verify, clean up); this module runs it with this machine's resolver and
system trust store (no pins, no `--ca-file`), and through the HTTPS proxy docker would use for
`containers.HOSTNAME` (Go's `HTTPS_PROXY`/`NO_PROXY` rules, `client.noproxy`), so that a
proxy's request-body limit shows up with `--size`. An HTTP 413 answer is named as such: a
proxy or the front door refuses large request bodies, which `docker push` of a big layer hits.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ghes_setup.checks import Outcome, check
from ghes_setup.client.context import ClientContext
from ghes_setup.client.noproxy import Rules, choose, redact_url
from ghes_setup.errors import GhesSetupError
from ghes_setup.registry.smoke import smoke_outcome

_TOO_LARGE = re.compile(r"\bHTTP 413\b")


@check(
    "registry-smoke",
    area="registry",
    requires=("client-dns", "client-tls-trust", "client-token"),
)
def client_smoke(ctx: ClientContext) -> Outcome:
    """Container registry from this machine: push, pull by tag and digest, verify, clean up."""
    if ctx.smoke is None:  # the service adds this check only with a smoke request
        return Outcome.skipped("no --smoke")
    route = choose(ctx.environ, ctx.registry_host, ctx.https_port, Rules.GO)
    via = f" through the proxy {redact_url(route.proxy)}" if route.proxy else ""
    factory = ctx.smoke_http(route.proxy) if ctx.smoke_http is not None else None
    try:
        outcome = smoke_outcome(ctx.smoke, http_factory=factory)
    except GhesSetupError as exc:
        return Outcome.errored(
            f"{exc.message}{via}", exc.hint, details={"registry": ctx.registry_host}
        )
    details = {**outcome.details, "proxy": redact_url(route.proxy) if route.proxy else None}
    if outcome.status.ok or not _TOO_LARGE.search(outcome.summary):
        return replace(outcome, details=details)
    where = f"the proxy {redact_url(route.proxy)}" if route.proxy else "the front door"
    return replace(
        outcome,
        summary=f"request body too large (HTTP 413) from {where}: {outcome.summary}",
        remedy=(
            f"raise the request-body limit of {where} (nginx: client_max_body_size 0 for "
            f"{ctx.registry_host}; a proxy: its body-size limit), or send "
            f"{ctx.registry_host} around the proxy (NO_PROXY)"
        ),
        details=details,
    )
