"""Which proxy a client uses for a URL: `HTTPS_PROXY` and `NO_PROXY` as curl and Go read them.

Pure functions over an environment mapping; no network. Two rule sets, because the clients a
runner uses do not agree (https://about.gitlab.com/blog/we-need-to-talk-no-proxy/ tabulates
the differences):

Go (`golang.org/x/net/http/httpproxy`, used by docker, podman, skopeo, the Actions runner's
container steps):
- variables: `HTTPS_PROXY` before `https_proxy`, `NO_PROXY` before `no_proxy`;
- `localhost` and loopback addresses never go through a proxy;
- entries are comma-separated and trimmed; `*` anywhere in the list disables the proxy;
- `example.com` matches `example.com` and every name under it; `.example.com` and
  `*.example.com` match only names under it (not `example.com` itself);
- `host:port` matches only that port; IP addresses and CIDRs match IP-literal hosts only
  (a name is never resolved to compare it with a CIDR).

curl (`lib/noproxy.c`, curl 7.86 and later; also git's HTTPS transport, which is libcurl):
- variables: `https_proxy` before `HTTPS_PROXY`, `no_proxy` before `NO_PROXY`, and
  `all_proxy`/`ALL_PROXY` when neither `https_proxy` is set;
- `*` disables the proxy only when it is the whole value (no blanks around it);
- entries are separated by commas, with blanks allowed around them; since curl 8.9.0 a blank
  followed by anything but a comma ends the list: `localhost ghe.example.com` is read as
  `localhost` (curl 7.86 to 8.8 still took blanks as separators, 7.88 with a deprecation
  warning: curl pull requests 10215 and 13789); we follow the current rule;
- a leading dot is ignored: `example.com` and `.example.com` both match `example.com` and
  every name under it; `*.example.com` is not special (it matches nothing);
- no port syntax; CIDRs (and plain IPs) match IP-literal hosts only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit


class Rules(Enum):
    GO = "go"
    CURL = "curl"

    @property
    def clients(self) -> str:
        return "docker, podman, skopeo" if self is Rules.GO else "curl, git"


@dataclass(frozen=True, slots=True)
class ProxyChoice:
    """What one rule set decides for one host.

    `proxy` is the proxy URL the client would use (None: direct); `variable` the environment
    variable it came from; `bypass` the NO_PROXY entry that sent the host direct, if any.
    """

    rules: Rules
    host: str
    proxy: str | None
    variable: str | None = None
    bypass: str | None = None
    no_proxy_variable: str | None = None

    @property
    def direct(self) -> bool:
        return self.proxy is None


def _first(env: Mapping[str, str], *names: str) -> tuple[str | None, str | None]:
    for name in names:
        value = env.get(name)
        if value:  # an empty variable counts as unset, in curl and in Go
            return value, name
    return None, None


def proxy_variable(env: Mapping[str, str], rules: Rules) -> tuple[str | None, str | None]:
    """(proxy URL, variable name) for https:// URLs, or (None, None)."""
    if rules is Rules.GO:
        return _first(env, "HTTPS_PROXY", "https_proxy")
    return _first(env, "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def no_proxy_variable(env: Mapping[str, str], rules: Rules) -> tuple[str, str | None]:
    if rules is Rules.GO:
        value, name = _first(env, "NO_PROXY", "no_proxy")
    else:
        value, name = _first(env, "no_proxy", "NO_PROXY")
    return value or "", name


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None


def _norm(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def matches_go(entry: str, host: str, port: int) -> bool:
    """Does one NO_PROXY entry send `host:port` direct, by Go's rules?"""
    entry = entry.strip().lower()
    if not entry:
        return False
    if entry == "*":
        return True
    host_ip = _ip(host)
    net = _network(entry)
    if net is not None:
        return host_ip is not None and host_ip in net
    name, entry_port = entry, ""
    if entry.startswith("["):  # [::1] or [::1]:443
        inner, _, rest = entry[1:].partition("]")
        name, entry_port = inner, rest.removeprefix(":")
    elif entry.count(":") == 1:
        name, entry_port = entry.split(":")
    entry_ip = _ip(name)
    if entry_ip is not None:
        return host_ip is not None and host_ip == entry_ip and entry_port in ("", str(port))
    if host_ip is not None:  # names never match an IP literal
        return False
    name = name.rstrip(".")
    if name.startswith("*."):
        name = name[1:]
    exact_too = not name.startswith(".")
    suffix = name if name.startswith(".") else f".{name}"
    target = _norm(host)
    hit = target.endswith(suffix) or (exact_too and target == suffix[1:])
    return hit and entry_port in ("", str(port))


def matches_curl(entry: str, host: str, port: int) -> bool:
    """Does one NO_PROXY entry send `host` direct, by curl's rules (ports are not parsed)?"""
    entry = entry.strip().lower()
    if not entry:
        return False
    host_ip = _ip(host)
    if host_ip is not None:
        net = _network(entry)
        if net is not None:
            return host_ip in net
        entry_ip = _ip(entry)
        return entry_ip is not None and entry_ip == host_ip
    name = entry.removeprefix(".").rstrip(".")
    target = _norm(host)
    if not name:
        return False
    return target == name or target.endswith(f".{name}")


def curl_entries(no_proxy: str) -> list[str]:
    """The NO_PROXY entries curl 8.9.0 and later reads, in order (its `Curl_check_noproxy` loop).

    Commas separate entries and blanks (space, tab) around one are skipped, but after an
    entry's trailing blanks anything other than a comma ends the list: curl reads
    `localhost ghe.example.com` as the one entry `localhost` (earlier curl read two). Go,
    which splits on commas only, reads it as one entry that matches nothing.
    """
    entries: list[str] = []
    blank = " \t"
    i, n = 0, len(no_proxy)
    while i < n:
        while i < n and no_proxy[i] in blank:
            i += 1
        start = i
        while i < n and no_proxy[i] not in blank and no_proxy[i] != ",":
            i += 1
        if i > start:
            entries.append(no_proxy[start:i])
        while i < n and no_proxy[i] in blank:
            i += 1
        if i >= n or no_proxy[i] != ",":
            break
        while i < n and no_proxy[i] == ",":
            i += 1
    return entries


def choose(env: Mapping[str, str], host: str, port: int, rules: Rules) -> ProxyChoice:
    """The proxy `rules` would use for https://host:port/ under `env`."""
    proxy, variable = proxy_variable(env, rules)
    no_proxy, np_variable = no_proxy_variable(env, rules)
    base = {"rules": rules, "host": host, "no_proxy_variable": np_variable}
    if proxy is None:
        return ProxyChoice(proxy=None, **base)  # type: ignore[arg-type]
    if rules is Rules.GO:
        target = _norm(host)
        target_ip = _ip(target)
        if target == "localhost" or (target_ip is not None and target_ip.is_loopback):
            return ProxyChoice(proxy=None, bypass="(loopback)", **base)  # type: ignore[arg-type]
        entries = [e.strip() for e in no_proxy.split(",")]
        for entry in entries:
            if matches_go(entry, host, port):
                return ProxyChoice(proxy=None, bypass=entry, **base)  # type: ignore[arg-type]
    else:
        if no_proxy == "*":
            return ProxyChoice(proxy=None, bypass="*", **base)  # type: ignore[arg-type]
        for entry in curl_entries(no_proxy):
            if matches_curl(entry, host, port):
                return ProxyChoice(proxy=None, bypass=entry, **base)  # type: ignore[arg-type]
    return ProxyChoice(proxy=proxy, variable=variable, **base)  # type: ignore[arg-type]


def redact_url(url: str) -> str:
    """A proxy URL without its password (`http://user:***@proxy:3128`)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True, slots=True)
class ProxyAddress:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_proxy(url: str) -> ProxyAddress:
    """`http://[user:pass@]host[:port]`; a bare `host:port` is http, like curl and Go."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        raise ValueError(f"proxy URL without a host: {redact_url(url)}")
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}.get(scheme, 1080)
    try:
        port = parts.port or default
    except ValueError:
        raise ValueError(f"proxy URL with a bad port: {redact_url(url)}") from None
    return ProxyAddress(scheme, parts.hostname, port, parts.username, parts.password)
