"""One rule turns an exception into a check result (ghes_setup/checks/failure.py), for the
runner, `up` and `registry smoke` alike; its reasons name the distinctions of the exit-code
table (docs/exit-codes.md)."""

from __future__ import annotations

import importlib

import pytest

from ghes_setup import errors
from ghes_setup.checks import Status
from ghes_setup.checks.failure import INTERNAL_REMEDY, ErrorReason, error_result, reason_of
from ghes_setup.exit_codes import ExitCode, for_error
from ghes_setup.secrets import Secret

# The exit codes each reason stands for.
CODES = {
    ErrorReason.BAD_INPUT: {ExitCode.INPUT},
    ErrorReason.UNREACHABLE: {ExitCode.UNREACHABLE},
    ErrorReason.UNSUPPORTED: {ExitCode.UNSUPPORTED},
    ErrorReason.APPLY_FAILED: {ExitCode.APPLY_FAILED},
    ErrorReason.NOT_EVALUATED: {ExitCode.NOT_EVALUATED},
    ErrorReason.FAILED: {ExitCode.CHECK_FAILED, ExitCode.OUTPUT, ExitCode.INTERRUPTED},
    ErrorReason.INTERNAL: {ExitCode.INTERNAL},
}


def _all_error_classes() -> list[type[errors.GhesSetupError]]:
    for module in ("packages.errors", "registry.errors", "appliance.transport", "capture.verify"):
        importlib.import_module(f"ghes_setup.{module}")  # their subclasses, registered
    found: list[type[errors.GhesSetupError]] = []
    todo: list[type[errors.GhesSetupError]] = [errors.GhesSetupError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_the_reason_of_its_exit_code() -> None:
    classes = _all_error_classes()
    assert len(classes) > 20
    for cls in classes:
        exc = cls.__new__(cls)  # no __init__: some take extra arguments
        assert for_error(exc) in CODES[reason_of(exc)], cls
    assert reason_of(ValueError("x")) is ErrorReason.INTERNAL


def test_a_check_that_raised_could_not_be_evaluated_whatever_the_reason() -> None:
    for exc in (
        errors.Unreachable("10.0.0.5:122 refused", hint="open port 122"),
        errors.ApplyFailed("apply failed", step="apply"),
        errors.InputError("bad file"),
    ):
        result = error_result("dns-wildcard", "dns", exc, duration_s=0.5)
        assert result.status is Status.ERROR
        assert (result.summary, result.remedy) == (exc.message, exc.hint)
        assert result.details == {} and result.duration_s == 0.5
        assert (result.id, result.area) == ("dns-wildcard", "dns")


def test_a_bug_in_a_check_names_the_exception_and_asks_for_a_report() -> None:
    result = error_result("tls-san", "tls", KeyError("boom"))
    assert result.status is Status.ERROR
    assert result.summary == "internal error in check: KeyError: 'boom'"
    assert result.remedy == INTERNAL_REMEDY


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.Unreachable("no route"), Status.ERROR),
        (errors.ApplianceResponseError("garbled"), Status.ERROR),
        (errors.UnsupportedVersion("3.4 has no registry"), Status.FAIL),
        (errors.InputError("refused setting"), Status.FAIL),
        (errors.GhesSetupError("said no"), Status.FAIL),
    ],
)
def test_a_pipeline_step_that_raised_failed_unless_the_answer_is_unknown(
    exc: errors.GhesSetupError, status: Status
) -> None:
    result = error_result("appliance-config-apply", "appliance", exc, step=True)
    assert result.status is status
    assert result.details == {"error": type(exc).__name__}


def test_a_failed_apply_says_where_it_stopped_and_whether_it_rolled_back() -> None:
    exc = errors.ApplyFailed("run 7 failed", step="apply", snapshot="/s/1.json", rolled_back=True)
    result = error_result("appliance-config-apply", "appliance", exc, step=True)
    assert result.status is Status.FAIL
    assert result.details == {
        "error": "ApplyFailed",
        "step": "apply",
        "snapshot": "/s/1.json",
        "rolled_back": True,
    }


@pytest.mark.parametrize("step", [False, True])
def test_summary_and_remedy_are_scrubbed_on_every_path(step: bool) -> None:
    token = Secret("ghp_failuresecret0123456789", "GHES_SETUP_TOKEN")
    exc = errors.AuthenticationFailed(
        f"token {token.reveal()} refused", hint=f"replace {token.reveal()}"
    )
    result = error_result("registry-smoke", "registry", exc, step=step)
    assert token.reveal() not in result.summary
    assert result.remedy is not None and token.reveal() not in result.remedy
    assert "********" in result.summary
