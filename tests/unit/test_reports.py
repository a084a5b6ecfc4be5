"""`up --report` / `verify --report`: server text is escaped, every report says who ran what.

The Markdown is rendered with a real CommonMark parser (markdown-it-py, GFM tables on, raw
HTML allowed as GitHub allows it) and the HTML parsed with the standard library's parser, so
the tests see what a reader's viewer would see, not what a regex hopes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from markdown_it import MarkdownIt
from rich.console import Console

from ghes_setup import __version__, render
from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.cli.invocation import command_line
from ghes_setup.errors import Unreachable
from ghes_setup.reporting.upgrade import differences_human
from ghes_setup.runbooks.report import (
    RunInfo,
    detail_lines,
    write_report,
    write_verify_failure,
    write_verify_report,
)
from ghes_setup.runbooks.up import StepRecord, UpResult
from ghes_setup.runbooks.upgrade import VerifyDifferences, _version, differences
from ghes_setup.secrets import REDACTED, Secret

HOSTILE = "bad <script>alert(1)</script> | pipe\nsecond line & [link](http://x) `tick`"
RUN = RunInfo(
    command_line="ghes-setup up --site 'my site.toml' --report r.md",
    operator="octo@admin-host",
    started_at=datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC),
    duration_s=12.34,
)


def hostile_results() -> tuple[CheckResult, ...]:
    return (
        CheckResult("appliance-version", "appliance", Status.PASS, "GHES 3.17.4 -> 3.18.0",
                    details={"before": "3.17.4", "after": "3.18.0"}),
        CheckResult("registry-ping", "registry", Status.FAIL, HOSTILE, remedy=f"fix: {HOSTILE}",
                    details={"answer": HOSTILE, "hosts": [{"name": "a|b", "error": "<b>x</b>"}]}),
    )  # fmt: skip


def up_result() -> UpResult:
    report = Report("up", hostile_results(), target="ghe.example.com")
    steps = (
        StepRecord("preflight", Status.PASS, "GHES 3.18.0 via ssh", 0.4),
        StepRecord("dns", Status.FAIL, HOSTILE, 0.1),
    )
    return UpResult(report=report, steps=steps, exit_code=1, stopped_at="dns")


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> _Html:
    parser = _Html()
    parser.feed(text)
    parser.close()
    return parser


def markdown_tables(text: str) -> tuple[str, list[list[list[str]]]]:
    """The Markdown as a GFM viewer renders it: its HTML, and every table as rows of cells."""
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    tables = []
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        tables.append([re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows])
    return html, tables


def test_html_template_names_are_autoescaped_and_markdown_ones_are_not() -> None:
    assert render.autoescaped("report/up.html.j2")
    assert render.autoescaped("report/verify.html.j2")
    assert not render.autoescaped("report/up.md.j2")
    assert not render.autoescaped("schedule/check.cron.j2")


def test_html_report_escapes_server_text_in_summary_details_and_steps(tmp_path: Path) -> None:
    out = tmp_path / "up.html"
    write_report(up_result(), out, RUN)
    text = out.read_text()
    parsed = parse_html(text)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    content = "".join(parsed.text)
    # The hostile text comes through as text, whole, in the steps, checks and details.
    assert content.count("bad <script>alert(1)</script> | pipe") >= 3
    assert "error: <b>x</b>" in content
    assert "&lt;script&gt;" in text


def test_markdown_report_keeps_every_table_row_whole_and_renders_no_markup(
    tmp_path: Path,
) -> None:
    out = tmp_path / "up.md"
    write_report(up_result(), out, RUN)
    html, tables = markdown_tables(out.read_text())
    assert "<script>" not in html and "<b>x</b>" not in html and "<a href" not in html
    steps, checks = tables
    assert all(len(row) == 4 for row in steps + checks), (steps, checks)
    assert [row[0] for row in steps[1:]] == ["preflight", "dns", "tls", "plan", "push", "apply",
                                             "registry", "smoke"]  # fmt: skip
    failing = checks[2]
    assert failing[1] == "fail"
    # The line break is a <br> inside the cell; the text is otherwise literal.
    assert failing[2] == (
        "bad &lt;script&gt;alert(1)&lt;/script&gt; | pipe<br>second line &amp; "
        "[link](http://x) `tick`"
    )
    # Details of what did not pass: verbatim, in a fenced block.
    assert '<pre><code class="language-text">answer: bad &lt;script&gt;' in html
    assert "error: &lt;b&gt;x&lt;/b&gt;" in html


def test_markdown_code_span_and_block_survive_backticks_and_pipes() -> None:
    md = MarkdownIt("commonmark").enable("table")
    cell = render.markdown_code("a | ``b`` c")
    html = md.render(f"| x |\n| --- |\n| {cell} |\n")
    assert "<td><code>a | ``b`` c</code></td>" in html
    block = render.markdown_block("```\n<script>\n```")
    assert md.render(block).count("<pre>") == 1
    assert "&lt;script&gt;" in md.render(block)


@pytest.mark.parametrize("name", ["up.md", "up.html"])
def test_every_report_says_tool_command_operator_start_and_duration(
    tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    write_report(up_result(), out, RUN)
    text = out.read_text()
    if name.endswith(".html"):
        text = "".join(parse_html(text).text)
    else:
        text = MarkdownIt("commonmark").render(text)
        text = "".join(parse_html(text).text)
    assert f"Tool: ghes-setup {__version__}" in text
    assert "Command: ghes-setup up --site 'my site.toml' --report r.md" in text
    assert "Operator: octo@admin-host" in text
    assert "Started: 2026-12-07 01:02:03 UTC, took 12.3 s" in text


@pytest.mark.parametrize("name", ["verify.md", "verify.html"])
def test_verify_report_lists_the_snapshot_and_every_difference_escaped(
    tmp_path: Path, name: str
) -> None:
    report = Report("verify", hostile_results(), target="ghe.example.com")
    before = {"taken_at": "2026-12-01T10:00:00+00:00", "taken_by": "ghes-setup 0.1.0",
              "appliance": {"version": "3.17.4"}}  # fmt: skip
    differences = [{"what": "packages.bucket", "before": "old|bucket", "after": "<new>"}]
    out = tmp_path / name
    write_verify_report(report, before, Path("before.json"), differences, out, RUN, exit_code=1)
    text = out.read_text()
    rendered = (
        text
        if name.endswith(".html")
        else MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    )
    parsed = parse_html(rendered)
    assert "script" not in parsed.tags and "new" not in parsed.tags
    content = "".join(parsed.text)
    assert "GHES: 3.17.4 before, 3.18.0 now" in content
    assert "packages.bucketold|bucket<new>" in content.replace("\n", "")
    assert "Compared with: before.json, taken 2026-12-01T10:00:00+00:00" in content
    assert "Operator: octo@admin-host" in content


def test_a_secret_in_the_command_line_or_a_result_is_scrubbed(tmp_path: Path) -> None:
    secret = Secret("s3cr3t-value-for-report", "GHES_SETUP_TOKEN")
    run = RunInfo(f"ghes-setup up --x {secret.reveal()}", "me@here", RUN.started_at, 1.0)
    result = up_result()
    leaky = CheckResult("tls-served", "tls", Status.FAIL, f"saw {secret.reveal()}")
    result = UpResult(Report("up", (leaky,), "ghe.example.com"), result.steps, 1, "dns")
    for name in ("r.md", "r.html"):
        write_report(result, tmp_path / name, run)
        text = (tmp_path / name).read_text()
        assert secret.reveal() not in text
        assert REDACTED in text


def test_report_into_a_missing_folder_is_refused_before_the_run(cli, tmp_path: Path) -> None:
    result = cli("up", "--site", str(tmp_path / "nope.toml"), "--report",
                 str(tmp_path / "no" / "dir" / "r.md"))  # fmt: skip
    assert result.exit_code == 3, result
    assert "--report" in result.stderr and "does not exist" in result.stderr
    verify = cli("verify", "--against", str(tmp_path / "before.json"), "--report",
                 str(tmp_path / "no" / "r.html"))  # fmt: skip
    assert verify.exit_code == 3, verify
    assert "--report" in verify.stderr


def test_details_are_key_value_lines_not_python_reprs() -> None:
    lines = detail_lines({"hosts": [{"name": "a", "ok": True}, "b"], "n": 3, "none": None,
                          "empty": []})  # fmt: skip
    assert lines == ["hosts:", "  - name: a", "    ok: true", "  - b", "n: 3", "none: (none)",
                     "empty: (none)"]  # fmt: skip


def test_command_line_is_rebuilt_from_what_was_given_on_the_command_line() -> None:
    seen: list[str] = []
    app = typer.Typer()

    @app.command()
    def verify(
        ctx: typer.Context,
        against: Annotated[Path, typer.Option()],
        report: Annotated[Path | None, typer.Option()] = None,
        smoke: Annotated[bool, typer.Option("--smoke/--no-smoke")] = True,
        timeout: Annotated[float, typer.Option()] = 10.0,
        name: Annotated[str, typer.Argument()] = "x",
    ) -> None:
        seen.append(command_line(ctx))

    typer.main.get_command(app).main(
        ["--against", "before 3.17.json", "--no-smoke", "--timeout", "5", "ghe"],
        prog_name="ghes-setup",
        standalone_mode=False,
    )
    assert seen == ["ghes-setup --against 'before 3.17.json' --no-smoke --timeout 5 ghe"]


@pytest.mark.parametrize("name", ["verify.md", "verify.html"])
def test_verify_that_could_not_run_still_writes_its_report_with_the_error(
    tmp_path: Path, name: str
) -> None:
    before = {"taken_at": "2026-12-01T10:00:00+00:00", "taken_by": "ghes-setup 0.1.0",
              "appliance": {"version": "3.17.4"}}  # fmt: skip
    error = Unreachable("ssh 10.0.0.5:122: <refused> | closed", hint="open TCP 122")
    out = tmp_path / name
    write_verify_failure("ghe.example.com", before, Path("before.json"), error, out, RUN)
    text = out.read_text()
    rendered = (
        text if name.endswith(".html") else MarkdownIt("commonmark", {"html": True}).render(text)
    )
    parsed = parse_html(rendered)
    assert "refused" not in parsed.tags
    content = "".join(parsed.text)
    assert "Result: could not run (exit code 4)" in content
    assert "Error: ssh 10.0.0.5:122: <refused> | closed (hint: open TCP 122)" in content
    assert "Not known: verify could not take its readings" in content
    assert "Checks" not in content


@pytest.mark.parametrize("name", ["verify.md", "verify.html"])
def test_verify_report_without_differences_but_failed_checks_does_not_say_none(
    tmp_path: Path, name: str
) -> None:
    report = Report("verify", hostile_results(), target="ghe.example.com")
    before = {"taken_at": "2026-12-01T10:00:00+00:00", "taken_by": "ghes-setup 0.1.0",
              "appliance": {"version": "3.17.4"}}  # fmt: skip
    out = tmp_path / name
    write_verify_report(report, before, Path("before.json"), [], out, RUN, exit_code=1)
    content = (
        "".join(parse_html(out.read_text()).text) if name.endswith(".html") else (out.read_text())
    )
    assert "None: the appliance does what it did" not in content
    assert "checks below did not pass" in content


def test_verify_says_no_difference_only_when_its_checks_passed() -> None:
    failing = VerifyDifferences.of(
        Report("verify", hostile_results(), target="ghe.example.com"), Path("before.json")
    )
    passing = VerifyDifferences.of(
        Report("verify", hostile_results()[:1], target="ghe.example.com"), Path("before.json")
    )
    said = {}
    for name, found in (("failing", failing), ("passing", passing)):
        console = Console(width=300, record=True, color_system=None)
        differences_human(console, found)
        said[name] = console.export_text()
    assert said["passing"] == "No difference since before.json.\n"
    assert "No difference since" not in said["failing"]
    assert "registry-ping did not pass" in said["failing"]


def test_a_version_gone_backwards_is_a_difference_and_going_up_is_not() -> None:
    def snap(version: str) -> dict[str, Any]:
        return {"appliance": {"version": version}}

    back = _version(snap("3.17.4"), snap("3.16.2"))
    up = _version(snap("3.17.4"), snap("3.18.0"))
    assert back.status is Status.FAIL and up.status is Status.PASS
    report = Report("verify", (back, up), target="ghe.example.com")
    assert differences(report) == [{"what": "GHES version", "before": "3.17.4", "after": "3.16.2"}]
