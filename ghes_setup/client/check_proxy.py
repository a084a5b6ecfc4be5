"""client-proxy: an HTTPS proxy in the environment does not stand between this machine and the
appliance (or, if it does, it gets there).

Behind an egress proxy, `docker pull containers.HOSTNAME/...` hangs or fails when `NO_PROXY`
misses the appliance: the proxy, outside the company's internal DNS view, cannot reach it.
Which names a client sends through the proxy depends on how it reads `NO_PROXY`, and docker
(Go) and curl disagree (`ghes_setup.client.noproxy` has both rule sets). For every needed name
this check decides with both; each name Go would send through the proxy is then tried through
it (one `CONNECT name:443`), so the verdict says whether the proxy actually gets there.

The docker daemon, which does the pulls, has its own proxy settings (a systemd drop-in or
`daemon.json` `proxies`); this checks the environment of the shell it runs in, which is what
the docker CLI, podman, skopeo, npm and the Actions runner use.
"""

from __future__ import annotations

import ipaddress
import re

from ghes_setup.checks import Outcome, check
from ghes_setup.client.check_dns import resolve_all
from ghes_setup.client.context import ClientContext
from ghes_setup.client.noproxy import (
    ProxyChoice,
    Rules,
    choose,
    curl_entries,
    no_proxy_variable,
    redact_url,
)


def _cidr_hints(ctx: ClientContext, no_proxy: str, hosts: list[str]) -> list[str]:
    """NO_PROXY CIDRs that contain a host's resolved address: they still do not match a name."""
    answers = ctx.once("dns", lambda: resolve_all(ctx))
    hints = []
    for entry in (e.strip() for e in no_proxy.split(",")):
        if "/" not in entry:
            continue
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        for host in hosts:
            addresses = answers.get(host, ((), None))[0]
            if any(ipaddress.ip_address(a) in net for a in addresses):
                hints.append(
                    f"NO_PROXY entry {entry} contains {host}'s address, but curl and Go compare "
                    "CIDRs with IP-literal URLs only, never with a resolved name"
                )
                break
    return hints


@check("client-proxy", area="client")
def client_proxy(ctx: ClientContext) -> Outcome:
    """An HTTPS proxy, if set, is bypassed for the appliance or reaches it."""
    go = [choose(ctx.environ, h, ctx.https_port, Rules.GO) for h in ctx.hosts]
    curl = [choose(ctx.environ, h, ctx.https_port, Rules.CURL) for h in ctx.hosts]
    no_proxy, np_var = no_proxy_variable(ctx.environ, Rules.GO)

    def row(c: ProxyChoice) -> dict[str, object]:
        return {
            "host": c.host,
            "proxy": redact_url(c.proxy) if c.proxy else None,
            "variable": c.variable,
            "bypass": c.bypass,
        }

    details: dict[str, object] = {
        "no_proxy": no_proxy or None,
        "no_proxy_variable": np_var,
        "go": [row(c) for c in go],
        "curl": [row(c) for c in curl],
    }
    if all(c.direct for c in go) and all(c.direct for c in curl):
        if not any(c.bypass for c in go + curl):
            return Outcome.passed("no HTTPS proxy set: clients connect directly", details=details)
        entries = sorted({c.bypass for c in go + curl if c.bypass})
        return Outcome.passed(
            f"HTTPS proxy set, and NO_PROXY covers every needed name for docker and curl "
            f"(entries {', '.join(entries)})",
            details=details,
        )
    proxied = [c for c in go if not c.direct] or [c for c in curl if not c.direct]
    tries: dict[str, tuple[int | None, str]] = {}
    for c in proxied:
        assert c.proxy is not None
        tries[c.host] = ctx.connect_probe(c.proxy, c.host, ctx.https_port)
    details["connect"] = {h: {"status": s, "answer": t} for h, (s, t) in tries.items()}
    failed = {h: t for h, t in tries.items() if t[0] != 200}
    names = sorted({c.host for c in proxied})
    proxy_text = redact_url(proxied[0].proxy or "")
    variable = proxied[0].variable
    who = "docker, podman, skopeo (Go rules)" if proxied[0].rules is Rules.GO else "curl and git"
    hints = _cidr_hints(ctx, no_proxy, names)
    words = [w for w in re.split(r"[,\s]+", no_proxy) if w]
    curl_no_proxy, _ = no_proxy_variable(ctx.environ, Rules.CURL)
    if len(curl_entries(curl_no_proxy)) < len([w for w in re.split(r"[,\s]+", curl_no_proxy) if w]):
        hints.append(
            "NO_PROXY separates entries with a space alone: Go takes the words as one entry "
            "that matches nothing, and curl 8.9 and later stop reading at that space (earlier "
            "curl took it as a separator); separate entries with commas"
        )
    if hints:
        details["hints"] = hints
    wanted = ",".join(dict.fromkeys([*words, ctx.hostname]))
    remedy = (
        f"export NO_PROXY={wanted} no_proxy={wanted} (a plain {ctx.hostname} entry covers "
        "it and every subdomain, for Go and curl alike; `.NAME` and `*.NAME` miss NAME itself "
        "in Go); set the same in the docker daemon's proxy settings"
    )
    mismatch = ""
    if [c.direct for c in go] != [c.direct for c in curl]:
        mismatch = (
            " (docker and curl disagree on this NO_PROXY: "
            + "; ".join(
                f"{g.host}: docker {'direct' if g.direct else 'proxy'}, curl "
                f"{'direct' if c.direct else 'proxy'}"
                for g, c in zip(go, curl, strict=True)
                if g.direct != c.direct
            )
            + ")"
        )
    extra = f"; {hints[0]}" if hints else ""
    if failed:
        host, (status, text) = next(iter(failed.items()))
        answer = f"HTTP {status}" if status is not None else text
        # Only curl and git affected (docker goes direct): a warning, the registry works.
        verdict = Outcome.failed if proxied[0].rules is Rules.GO else Outcome.warned
        return verdict(
            f"{who} send {', '.join(names)} through the proxy {proxy_text} ({variable}; "
            f"NO_PROXY does not cover them), and the proxy cannot reach {host}: "
            f"{answer}{mismatch}{extra}",
            remedy,
            details=details,
        )
    return Outcome.warned(
        f"{who} send {', '.join(names)} through the proxy {proxy_text} ({variable}); it "
        f"reaches the appliance, but every image layer passes through it (body-size limits, "
        f"timeouts){mismatch}{extra}",
        remedy,
        details=details,
    )
