"""DNS lookups (the one module that imports dnspython). Filled in by the DNS work.

`make_resolver` is the agreed entry point other areas and the CLI use to turn `--nameserver`
and `--resolve` into an `AddressResolver`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ghes_setup.net import AddressResolver, Nameserver, ResolveOverrides, SystemResolver


def make_resolver(
    nameservers: Sequence[Nameserver] = (),
    overrides: ResolveOverrides | None = None,
    *,
    timeout: float = 3.0,
) -> AddressResolver:
    """Overrides first; then the given nameservers (dnspython), else the system resolver."""
    if nameservers:
        raise NotImplementedError("lookups through --nameserver arrive with the DNS work")
    return SystemResolver(overrides)
