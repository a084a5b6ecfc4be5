"""Presenters of `dns records`: the records to create, as BIND zone lines or /etc/hosts lines
(templates dns/records.zone.j2 and dns/hosts.j2) or as a JSON document
(docs/schema/dns-records-v1.json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ghes_setup.dns.service import DnsRecords


def _common(result: DnsRecords) -> dict[str, Any]:
    from ghes_setup import __version__, facts

    return {
        "hostname": result.hostname,
        "version": str(result.version or facts.DEFAULT_GHES_VERSION),
        "tool_version": __version__,
        "subdomains": facts.isolation_subdomains(result.version),
    }


def document(result: DnsRecords) -> dict[str, Any]:
    if result.style == "hosts":
        return {
            **_common(result),
            "style": "hosts",
            "entries": [{"address": e.address, "names": e.names} for e in result.entries],
        }
    return {
        **_common(result),
        "style": "bind",
        "records": [
            {"name": r.name, "type": r.rtype, "value": r.value, "ttl": r.ttl}
            for r in result.records
        ],
    }


def human(out: TextIO, result: DnsRecords) -> None:
    """The zone-file or hosts-file text, ready to paste (standard output, even with --quiet)."""
    from ghes_setup.render import render

    if result.style == "hosts":
        out.write(render("dns/hosts.j2", entries=list(result.entries), **_common(result)))
    else:
        out.write(
            render(
                "dns/records.zone.j2",
                records=list(result.records),
                all_subdomains=result.all_subdomains,
                **_common(result),
            )
        )
