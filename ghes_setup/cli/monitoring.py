"""`ghes-setup monitoring`: what the monitoring side needs from ghes-setup.

`monitoring rules` prints the Prometheus alerting rules shipped with the tool
(`templates/monitoring/ghes-setup.rules.yml`, in the wheel as
`ghes_setup/templates/monitoring/`), for the metrics `check --format prometheus --textfile`
writes. The file is printed as shipped: it is what `promtool test rules` runs against in
tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import sys

import typer

RULES_FILE = "monitoring/ghes-setup.rules.yml"

app = typer.Typer(
    help=(
        "For the monitoring host: the Prometheus alerting rules for ghes-setup's metrics.\n\n"
        "Example: ghes-setup monitoring rules > /etc/prometheus/rules.d/ghes-setup.yml"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def monitoring() -> None:
    """A group even with one command: `monitoring rules` stays `monitoring rules` when more
    commands join it (Typer runs a lone command as the group itself)."""


RULES_HELP = """\
Print the Prometheus alerting rules for the metrics `ghes-setup check --format prometheus
--textfile FILE` writes (node_exporter textfile collector): GhesCheckFailing (a check fails),
GhesCheckCannotEvaluate (a check could not be evaluated), GhesCheckCannotRun (the run could not
look at the appliance: bad site file, appliance unreachable, credentials refused),
GhesCertificateExpiresSoon (the served certificate expires within 30 days), GhesCheckStale (no
new result for 15 minutes) and GhesCheckMissing (the metrics are gone). The `for:` durations
assume `schedule --every 5m`. Install the file, check it, reload Prometheus.

\b
Example:
  ghes-setup monitoring rules > /etc/prometheus/rules.d/ghes-setup.yml
  promtool check rules /etc/prometheus/rules.d/ghes-setup.yml
"""


@app.command("rules", help=RULES_HELP)
def rules() -> None:
    from ghes_setup.render import templates_dir

    sys.stdout.write((templates_dir() / RULES_FILE).read_text(encoding="utf-8"))
    raise typer.Exit(0)
