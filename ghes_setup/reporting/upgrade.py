"""Presenters of the upgrade runbook's commands (runbooks/upgrade.py, docs/runbooks/upgrade.md).

`snapshot`: the document recorded before the upgrade (docs/schema/snapshot-v1.json; the same
JSON is written to --out, mode 0600) and, for people, what it holds and what to run after.
`verify`: its JSON is the check report (docs/schema/report-v1.json); people also get every
difference since the snapshot, under the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghes_setup.reporting.console import say_plain

if TYPE_CHECKING:
    from ghes_setup.reporting.console import Console
    from ghes_setup.runbooks.upgrade import SnapshotTaken, VerifyDifferences


def snapshot_document(result: SnapshotTaken) -> dict[str, Any]:
    return dict(result.document)


def snapshot_human(console: Console, result: SnapshotTaken) -> None:
    document, out = result.document, result.path
    settings = document["settings"]
    hosts = document["served"]
    say_plain(
        console,
        f"Snapshot of {document['hostname']} (GHES {document['appliance']['version']}) "
        f"written to {out} (mode 0600):\n"
        f"  subdomain isolation {settings.get('subdomain_isolation')}, Packages "
        f"{settings.get('packages.enabled')} (storage {settings.get('packages.storage_type')}),"
        f"\n  certificates served for {sum(1 for v in hosts.values() if v)} of {len(hosts)} "
        f"host(s), registry: {document['registry']['answer']}\n"
        f"After the upgrade: ghes-setup verify --against {out}",
    )
    unreadable = document.get("unreadable") or []
    if unreadable:
        say_plain(
            console,
            f"Warning: {len(unreadable)} setting(s) could not be read ({', '.join(unreadable)}):"
            " verify cannot compare them after the upgrade (it reports them as not evaluated,"
            " exit 7). Over the Manage API alone the Packages settings are not readable: take"
            " the snapshot again with the admin SSH shell (an SSH identity) before upgrading.",
        )


def differences_human(console: Console, result: VerifyDifferences) -> None:
    """Printed under verify's report: the differences, one a line, or that there is none."""
    if result.differences:
        console.print(
            f"{len(result.differences)} difference(s) since {result.against}:", highlight=False
        )
        for d in result.differences:
            console.print(
                f"  {d['what']}: {d['before']} -> {d['after']}", highlight=False, markup=False
            )
    elif result.failing:
        console.print(
            f"No difference in what {result.against} recorded, but {', '.join(result.failing)} "
            "did not pass (above): the appliance does not do all it did.",
            highlight=False,
        )
    else:
        console.print(f"No difference since {result.against}.", highlight=False)
