"""The one place that builds HTTP clients (httpx): TLS verification, name pinning, errors.

Every HTTPS request ghes-setup makes (Manage API, REST API, /status, the registry) goes
through a client built here, so that:
- TLS is always verified: the system store (certifi's bundle via ssl defaults), plus the
  `--ca-file` the admin gives for a private CA; never `verify=False`;
- names resolve through the run's `AddressResolver` (`--resolve`, `--nameserver`, the site's
  `address`), while the URL, the Host header, SNI and the certificate check keep the real
  name (lab-notes §2 "transport that maps names"), so redirects, token realms and upload
  `Location` URLs keep working;
- httpx exceptions become ours (`Unreachable`), with host, port and a hint.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ghes_setup import __version__
from ghes_setup.errors import MaterialError, Unreachable
from ghes_setup.net import AddressResolver

USER_AGENT = f"ghes-setup/{__version__}"


def ssl_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Verification on, system roots plus `ca_file` when given."""
    ctx = ssl.create_default_context()
    try:
        import certifi  # httpx depends on it; the system store may be empty in containers

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


class PinnedTransport(httpx.HTTPTransport):
    """Connect to the address the resolver gives; keep the name for Host, SNI and the cert."""

    def __init__(self, resolver: AddressResolver | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._resolver = resolver

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._resolver is not None:
            host = request.url.host
            addresses = self._resolver.addresses(host)
            if addresses and addresses[0] != host:
                request.extensions = {**request.extensions, "sni_hostname": host}
                request.url = request.url.copy_with(host=addresses[0])
        return super().handle_request(request)


def make_client(
    *,
    resolver: AddressResolver | None = None,
    ca_file: Path | None = None,
    timeout: float = 10.0,
    auth: httpx.Auth | tuple[str, str] | None = None,
    base_url: str = "",
    follow_redirects: bool = False,
    proxy: str | None = None,
) -> httpx.Client:
    """`proxy`: an HTTP proxy URL to tunnel through (CONNECT), as a client behind an egress
    proxy does (`client check --smoke`); None connects directly, whatever the environment."""
    transport = PinnedTransport(resolver, verify=ssl_context(ca_file), retries=0, proxy=proxy)
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": USER_AGENT},
        auth=auth,
        base_url=base_url,
        follow_redirects=follow_redirects,
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
        hint = "check the address and port, the firewall, and --resolve/--nameserver"
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            hint = "pass the appliance's CA with --ca-file (site: [connection] ca_file)"
        raise Unreachable(f"{operation}: {describe(exc)}", hint=hint) from None
