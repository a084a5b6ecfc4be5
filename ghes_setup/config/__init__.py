"""The site model: one appliance and what it should become (docs/reference/architecture.md §4,
docs/site-file.md)."""

from ghes_setup.config.site import (
    Connection,
    PackagesSettings,
    Site,
    SmokeSettings,
    TlsSettings,
    load_site,
)

__all__ = ["Connection", "PackagesSettings", "Site", "SmokeSettings", "TlsSettings", "load_site"]
