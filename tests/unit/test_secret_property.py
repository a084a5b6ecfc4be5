"""Property: no secret, in any encoding, reaches any output (docs/security.md).

Hypothesis makes up secrets; each one is registered as a `Secret` and then planted, raw and
escaped and encoded the ways other people's error texts carry it (repr, JSON, percent-
encoding, base64, a Basic Authorization header), in a report, in a progress line and in an
error message. Every output format (human, JSON, Nagios, Prometheus, the error path of the
CLI) is then scanned for every encoding of the secret, computed here independently of
`ghes_setup.secrets`.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ghes_setup import secrets
from ghes_setup.checks.model import CheckResult, Report, Status
from ghes_setup.errors import SecretInvalid
from ghes_setup.secrets import REDACTED, Secret, check_value, from_env

# What a user may give: one line of printable ASCII, no surrounding spaces.
VALID = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=8, max_size=40)
VALID = VALID.filter(lambda s: s == s.strip(" ") and "*" not in s)
# What a library may hold in a Secret (a key with line breaks, anything).
ANY = st.text(min_size=8, max_size=40).filter(lambda s: "*" not in s)


@contextlib.contextmanager
def _registered(value: str) -> Iterator[Secret]:
    """Register `value` for this example only (the registry is process-wide)."""
    with secrets._known_lock:
        known, ordered = set(secrets._known), list(secrets._by_length)
    try:
        yield Secret(value, "hypothesis")
    finally:
        with secrets._known_lock:
            secrets._known.clear()
            secrets._known.update(known)
            secrets._by_length[:] = ordered


def _b64(data: str) -> str:
    return base64.b64encode(data.encode("utf-8", "surrogatepass")).decode()


def carried_forms(value: str) -> dict[str, str]:
    """How a secret arrives inside texts we show (what we plant)."""
    return {
        "raw": value,
        "repr": repr(value),
        "bytes repr": repr(value.encode("utf-8", "surrogatepass")),
        "json": json.dumps(value),
        "json, ensure_ascii off": json.dumps(value, ensure_ascii=False),
        "percent": quote(value, safe=""),
        "percent plus": quote_plus(value),
        "base64": _b64(value),
        "basic auth": "Basic " + _b64(f"api_key:{value}"),
        "basic auth +1": _b64(f"x{value}"),
        "basic auth +2": _b64(f"xy{value}"),
        "html": html.escape(value),
    }


def scan_forms(value: str) -> dict[str, str]:
    """What must not be found in any output: each encoding's part made of the secret alone."""
    forms = {k: v for k, v in carried_forms(value).items() if not k.startswith("basic")}
    forms["repr"] = repr(value)[1:-1]
    forms["bytes repr"] = repr(value.encode("utf-8", "surrogatepass"))[2:-1]
    forms["json"] = json.dumps(value)[1:-1]
    forms["json, ensure_ascii off"] = json.dumps(value, ensure_ascii=False)[1:-1]
    forms["base64"] = forms["base64"].rstrip("=")
    forms["prometheus label"] = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    forms["nagios line"] = re.sub(r"\s+", " ", value).replace("|", "/").strip()
    for prefix in ("", "x", "xy", "api_key:"):
        encoded = _b64(prefix + value).rstrip("=")
        skip = (len(prefix.encode()) * 4 + 2) // 3 + 1  # characters touched by the prefix
        middle = encoded[skip:-3]
        if len(middle) >= 8:
            forms[f"base64 after {prefix!r}"] = middle
    return {k: v for k, v in forms.items() if v}


def _report(value: str) -> Report:
    carried = carried_forms(value)
    texts = " | ".join(f"{k}={v}" for k, v in carried.items())
    result = CheckResult(
        id="registry-smoke",
        area="registry",
        status=Status.FAIL,
        summary=f"push failed: {texts}",
        remedy=f"the token {carried['repr']} was refused ({carried['basic auth']})",
        details={"url": f"https://x/?t={carried['percent']}", "body": carried["json"]},
        metrics={"days_left": 3.0},
        duration_s=0.1,
    )
    return Report(command="check", results=(result,), target=f"ghe.{value}.example")


def _outputs(value: str) -> dict[str, str]:
    from rich.console import Console

    from ghes_setup.reporting import human, json_report, nagios, prometheus
    from ghes_setup.reporting.progress_display import ConsoleProgress

    report = _report(value)
    console = Console(file=io.StringIO(), width=10_000, color_system=None, record=True)
    console.print(human.render(report, verbose=True))
    progress_console = Console(file=io.StringIO(), width=10_000, color_system=None, record=True)
    progress = ConsoleProgress(progress_console)
    progress.stage("push", carried_forms(value)["percent"])
    progress.log("retrying: " + carried_forms(value)["basic auth"])
    progress.finish(False, carried_forms(value)["repr"])
    return {
        "human": console.export_text(),
        "progress": progress_console.export_text(),
        "json": json_report.render(report),
        "nagios": nagios.render(report)[0],
        "prometheus": prometheus.render(report, now=0.0),
    }


def _error_path_outputs(value: str, tmp_path: Path) -> dict[str, str]:
    """The CLI's error path: a site file whose hostname is the secret (quoted in the error)."""
    from tests.conftest import CliRunner

    site = tmp_path / "site.toml"
    site.write_text(f"hostname = {json.dumps('not a host ' + value, ensure_ascii=True)}\n")
    outputs = {}
    runner: CliRunner = _cli_runner()
    for fmt in ("human", "json", "nagios", "prometheus"):
        result = runner("check", "--format", fmt, "--site", str(site))
        assert result.exit_code == 3, result
        outputs[f"error path ({fmt})"] = result.output
    return outputs


def _cli_runner() -> object:
    import contextlib as cl
    import sys

    from ghes_setup.cli.main import run
    from tests.conftest import CliResult

    def invoke(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with cl.redirect_stdout(out), cl.redirect_stderr(err):
            saved, sys.stdin = sys.stdin, io.StringIO("")
            try:
                code = run(list(args))
            finally:
                sys.stdin = saved
        return CliResult(code, out.getvalue(), err.getvalue())

    return invoke


def _assert_clean(value: str, outputs: dict[str, str]) -> None:
    for fmt, text in outputs.items():
        for name, form in scan_forms(value).items():
            assert form not in text, f"{name} form of the secret in the {fmt} output:\n{text}"
    assert any(REDACTED in text for text in outputs.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALID)
def test_a_valid_secret_in_any_encoding_reaches_no_output_format(value: str) -> None:
    # Only what the secret itself puts there counts: an encoding that the fixed text of an
    # output already contains (e.g. a secret equal to a word of a heading) proves nothing.
    with _registered("never-shown-placeholder-0"):
        clean = _outputs("never-shown-placeholder-0")
    for text in clean.values():
        for form in scan_forms(value).values():
            assume(form not in text)
    with _registered(value):
        _assert_clean(value, _outputs(value))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=ANY)
def test_any_secret_text_held_by_a_library_is_redacted_in_every_format(value: str) -> None:
    with _registered("never-shown-placeholder-0"):
        clean = _outputs("never-shown-placeholder-0")
    for text in clean.values():
        for form in scan_forms(value).values():
            assume(form not in text)
    with _registered(value):
        _assert_clean(value, _outputs(value))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALID)
def test_the_cli_error_path_shows_no_form_of_a_secret(value: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, _registered(value):
        # The TOML-escaped hostname line is the one place we put it; the output is scanned.
        outputs = _error_path_outputs(value, Path(tmp))
    for text in outputs.values():
        for name, form in scan_forms(value).items():
            if form in text:  # a fixed word of the message? then the placeholder run has it
                with tempfile.TemporaryDirectory() as tmp2, _registered("placeholder-xyz-0"):
                    clean = _error_path_outputs("placeholder-xyz-0", Path(tmp2))
                assume(all(form not in t for t in clean.values()))
                raise AssertionError(f"{name} form of the secret in the output:\n{text}")


@settings(max_examples=80, deadline=None)
@given(value=ANY)
def test_a_secret_that_is_not_one_printable_line_is_refused_without_showing_it(
    value: str,
) -> None:
    env = {"GHES_SETUP_TOKEN": value}
    try:
        check_value(value, "GHES_SETUP_TOKEN")
    except SecretInvalid as exc:
        text = f"{exc.message} {exc.hint}"
        assert "GHES_SETUP_TOKEN" in text
        for form in scan_forms(value).values():
            assert form not in text
        try:
            from_env("GHES_SETUP_TOKEN", env)
        except SecretInvalid:
            pass
        else:
            raise AssertionError("from_env accepted what check_value refused") from None
    else:
        assert value.isascii() and value.isprintable() and value == value.strip(" ")
