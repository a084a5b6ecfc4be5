"""The exit-code table (docs/reference/architecture.md §4) and the one place that maps results and
errors to it.

| code | meaning |
| ---- | ------- |
| 0    | success; every check passed (warnings allowed unless --strict) |
| 1    | at least one check failed |
| 2    | usage error (Typer's own) |
| 3    | site file, environment or input file invalid |
| 4    | appliance unreachable, authentication failed, or host key not trusted |
| 5    | the appliance's version cannot do what was asked |
| 6    | configuration apply failed (the message says whether a rollback ran) |
| 7    | a check could not be evaluated (and none failed) |
| 70   | internal error (a bug) |
| 74   | output could not be written (standard output closed, disk full) |
| 130  | interrupted |

With --format nagios the monitoring-plugin convention applies instead: 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from ghes_setup import errors

if TYPE_CHECKING:  # at run time imported where needed: the CLI's start-up loads this module
    from ghes_setup.checks.model import Status


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    INPUT = 3
    UNREACHABLE = 4
    UNSUPPORTED = 5
    APPLY_FAILED = 6
    NOT_EVALUATED = 7
    INTERNAL = 70
    OUTPUT = 74  # sysexits.h EX_IOERR
    INTERRUPTED = 130  # 128 + SIGINT
    TERMINATED = 143  # 128 + SIGTERM (a service manager, `timeout`, `kill`)


class NagiosCode(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def for_error(exc: BaseException) -> ExitCode:
    """The exit code for an exception that ended a command: the code of its reason
    (`checks.failure.reason_of`, the one table of error classes), but for the two errors that
    end a command and are no reason a check fails for (output, interrupt)."""
    if isinstance(exc, KeyboardInterrupt | errors.Interrupted):
        return ExitCode.INTERRUPTED
    if isinstance(exc, errors.OutputError):
        return ExitCode.OUTPUT
    from ghes_setup.checks.failure import ErrorReason, reason_of

    return {
        ErrorReason.BAD_INPUT: ExitCode.INPUT,
        ErrorReason.UNREACHABLE: ExitCode.UNREACHABLE,
        ErrorReason.UNSUPPORTED: ExitCode.UNSUPPORTED,
        ErrorReason.APPLY_FAILED: ExitCode.APPLY_FAILED,
        ErrorReason.NOT_EVALUATED: ExitCode.NOT_EVALUATED,
        ErrorReason.FAILED: ExitCode.CHECK_FAILED,
        ErrorReason.INTERNAL: ExitCode.INTERNAL,
    }[reason_of(exc)]


def for_status(status: Status, *, strict: bool = False) -> ExitCode:
    """The exit code for the overall status of a report (the worst of its results)."""
    from ghes_setup.checks.model import Status

    if status is Status.FAIL or (strict and status is Status.WARN):
        return ExitCode.CHECK_FAILED
    if status is Status.ERROR:
        return ExitCode.NOT_EVALUATED
    return ExitCode.OK


def nagios_for_status(status: Status) -> NagiosCode:
    """Monitoring-plugin code: `error` means "could not check" (UNKNOWN), not CRITICAL."""
    from ghes_setup.checks.model import Status

    return {
        Status.SKIP: NagiosCode.OK,
        Status.PASS: NagiosCode.OK,
        Status.WARN: NagiosCode.WARNING,
        Status.ERROR: NagiosCode.UNKNOWN,
        Status.FAIL: NagiosCode.CRITICAL,
    }[status]
