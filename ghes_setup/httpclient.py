"""The one place that builds HTTP clients (httpx): TLS verification, name pinning, errors.

Every HTTPS request ghes-setup makes (Manage API, REST API, /status, the registry) goes
through a client built here, so that:
- TLS is always verified: the system store (certifi's bundle when the system has none),
  plus the `--ca-file` the admin gives for a private CA; never `verify=False`;
- names resolve through the run's `AddressResolver` (`--resolve`, `--nameserver`, the site's
  `address`), while the URL, the Host header, SNI and the certificate check keep the real
  name (docs/reference/lab-findings.md §2 "transport that maps names"), so redirects, token realms
  and upload `Location` URLs keep working;
- httpx exceptions become ours (`Unreachable`), with host, port and a hint;
- `HTTPS_PROXY`/`NO_PROXY` are honoured as curl reads them (`env_proxy`, docs/proxies.md),
  per request, so one client can reach the appliance directly and blob storage through the
  proxy; through a proxy the name goes in the CONNECT and the proxy resolves it (as with
  curl, `--resolve` and the site's `address` pin direct connections only);
- with `--debug` every request and response line is traced (`ghes_setup.trace`): method,
  URL, status, proxy; never headers or bodies, and URLs through `trace.safe_url` (no user
  information, query values replaced but for a few known-harmless ones: a presigned storage
  URL carries its signature in the query).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from ghes_setup import __version__
from ghes_setup.errors import MaterialError, Unreachable
from ghes_setup.net import AddressResolver
from ghes_setup.trace import event, safe_url

USER_AGENT = f"ghes-setup/{__version__}"


# One context per CA file per process: loading the system roots costs tens of milliseconds of
# CPU, and a `check` run opens its HTTPS clients (Manage API, /status, the registry) at once in
# parallel threads. A CA file that changes (its inode, size, mtime or ctime) gets a new
# context. Users only read a shared context: httpx and httpcore wrap sockets with it (and set
# the same ALPN list on it per connection, as one client's pool already does).
_CONTEXTS: dict[tuple[str, int, int, int, int] | None, ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def ssl_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Verification on, system roots plus `ca_file` when given (built once, then shared)."""
    key: tuple[str, int, int, int, int] | None = None
    if ca_file is not None:
        try:
            st = ca_file.stat()
            key = (str(ca_file), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except OSError:  # _new_context says what is wrong with it
            return _new_context(ca_file)
    with _CONTEXTS_LOCK:  # one thread loads the roots; the others wait for that context
        ctx = _CONTEXTS.get(key)
        if ctx is None:
            ctx = _CONTEXTS[key] = _new_context(ca_file)
    return ctx


def _new_context(ca_file: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not ctx.cert_store_stats()["x509_ca"]:
        # An empty system store (slim containers): certifi's bundle (httpx depends on it).
        # A system store is used as it is, as curl does: loading both cost twice the time.
        try:
            import certifi

            ctx.load_verify_locations(cafile=certifi.where())
        except ImportError:  # pragma: no cover
            pass
    if ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise MaterialError(
                f"--ca-file {ca_file}: cannot load it as PEM certificates ({exc})",
                hint="give the CA certificate(s) in PEM format",
            ) from None
    return ctx


def env_proxy(url: httpx.URL, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy curl would use for `url` from the environment, or None (direct).

    curl's rules (https://curl.se/docs/manpage.html#ENVIRONMENT, `lib/noproxy.c`):
    `https_proxy` before `HTTPS_PROXY`, then `all_proxy`/`ALL_PROXY` (for http:// URLs only
    the lower-case `http_proxy`, which a CGI cannot spoof); `no_proxy` before `NO_PROXY`, a
    comma-separated list where `*` alone disables every proxy, a name matches itself and every
    name under it (a leading dot is ignored), and an IP address or CIDR block matches the
    URL's host when that is an address. Unlike Go, curl sends loopback through the proxy
    unless NO_PROXY lists it; the Manage API on port 8443 goes through the proxy too unless
    NO_PROXY names the appliance (docs/proxies.md says to).
    """
    env = os.environ if env is None else env
    names: tuple[str, ...]
    if url.scheme == "https":
        names = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
    else:
        names = ("http_proxy", "all_proxy", "ALL_PROXY")
    proxy = next((env[n] for n in names if env.get(n)), None)
    if not proxy:
        return None
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    if no_proxy.strip() == "*":
        return None
    host = url.host.lower().rstrip(".")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry and _no_proxy_match(host, entry):
            return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _no_proxy_match(host: str, entry: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        try:
            return address in ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            return False
    entry = entry.lstrip(".").rstrip(".")
    if ":" in entry and not entry.startswith("["):  # host:port: curl 8.x ignores the port
        entry = entry.rsplit(":", 1)[0]
    return host == entry or host.endswith("." + entry)


class PinnedTransport(httpx.HTTPTransport):
    """Connect to the address the resolver gives; keep the name for Host, SNI and the cert.

    `env_proxies`: pick a proxy per request from the environment (`env_proxy`); the proxied
    transports are made on first use with the same TLS settings.
    """

    def __init__(
        self, resolver: AddressResolver | None, *, env_proxies: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver
        self._env_proxies = env_proxies and kwargs.get("proxy") is None
        self._kwargs = kwargs
        self._proxied: dict[str, httpx.HTTPTransport] = {}

    def _through(self, url: httpx.URL) -> tuple[str | None, httpx.HTTPTransport | None]:
        if not self._env_proxies:
            return None, None
        proxy = env_proxy(url)
        if proxy is None:
            return None, None
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.HTTPTransport(**{**self._kwargs, "proxy": proxy})
        return proxy, self._proxied[proxy]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy, proxied = self._through(request.url)
        if proxied is not None:
            # The proxy resolves the name, as curl does (--resolve pins only direct
            # connections): CONNECT HOST:PORT keeps SNI and the certificate check on the name.
            event("http", f"{request.method} {request.url.host}: via proxy {safe_url(proxy or '')}")
            return proxied.handle_request(request)
        if self._resolver is not None:
            host = request.url.host
            addresses = self._resolver.addresses(host)
            if addresses and addresses[0] != host:
                request.extensions = {**request.extensions, "sni_hostname": host}
                request.url = request.url.copy_with(host=addresses[0])
        return super().handle_request(request)

    def close(self) -> None:
        self._close_proxied()
        super().close()

    def __exit__(self, *exc_info: Any) -> None:
        # httpx.Client.__exit__ exits its transport rather than closing it.
        self._close_proxied()
        super().__exit__(*exc_info)

    def _close_proxied(self) -> None:
        for transport in self._proxied.values():
            transport.close()
        self._proxied.clear()


def _trace_request(request: httpx.Request) -> None:
    event("http", f"> {request.method} {safe_url(str(request.url))}")


def _trace_response(response: httpx.Response) -> None:
    request = response.request
    url = request.url
    name = request.extensions.get("sni_hostname")
    if isinstance(name, str):  # PinnedTransport dialled an address: show the name again
        url = url.copy_with(host=name)
    event(
        "http",
        f"< {response.http_version} {response.status_code} {response.reason_phrase} "
        f"({request.method} {safe_url(str(url))})",
    )


def trace_hooks() -> dict[str, list[Any]]:
    """httpx `event_hooks` that trace each request and response line (`--debug`); the
    request hook runs before the transport pins the address, so the URL keeps the name."""
    return {"request": [_trace_request], "response": [_trace_response]}


def make_client(
    *,
    resolver: AddressResolver | None = None,
    ca_file: Path | None = None,
    timeout: float = 10.0,
    auth: httpx.Auth | tuple[str, str] | None = None,
    base_url: str = "",
    follow_redirects: bool = False,
    proxy: str | None = None,
    env_proxies: bool = True,
) -> httpx.Client:
    """`proxy`: an HTTP proxy URL to tunnel through (CONNECT), as a client behind an egress
    proxy does (`client check --smoke`). Without it, `env_proxies` follows `HTTPS_PROXY` and
    `NO_PROXY` like curl (`env_proxy`); `env_proxies=False` connects directly whatever the
    environment (the `client` checks decide a client machine's proxy by its own rules)."""
    transport = PinnedTransport(
        resolver, env_proxies=env_proxies, verify=ssl_context(ca_file), retries=0, proxy=proxy
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": USER_AGENT},
        auth=auth,
        base_url=base_url,
        follow_redirects=follow_redirects,
        event_hooks=trace_hooks(),
    )


def describe(exc: httpx.HTTPError) -> str:
    """A one-line reason for a transport error, without the request's credentials."""
    try:  # the public property; it raises when httpx did not attach the request
        request: httpx.Request | None = exc.request
    except RuntimeError:
        request = None
    where = ""
    if request is not None:
        where = f" {request.url.scheme}://{request.url.host}:{request.url.port or ''}".rstrip(":")
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout | httpx.ReadTimeout | httpx.WriteTimeout):
        reason = f"timed out ({type(exc).__name__})"
    elif "CERTIFICATE_VERIFY_FAILED" in reason:
        reason = "TLS certificate not trusted: " + reason.split("]")[-1].strip().rstrip(")")
    return f"{where.strip()}: {reason}" if where else reason


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Turn httpx transport errors inside the block into `Unreachable` naming `operation`."""
    try:
        yield
    except httpx.TransportError as exc:
        event("http", f"! {operation}: {describe(exc)}")
        hint = "check the address and port, the firewall, and --resolve/--nameserver"
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            hint = "pass the appliance's CA with --ca-file (site: [connection] ca_file)"
        raise Unreachable(f"{operation}: {describe(exc)}", hint=hint) from None
