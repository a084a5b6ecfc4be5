"""Entry point: the one place where exceptions become exit codes and messages.

`GhesSetupError` -> one line with its hint, the exit code of `exit_codes.for_error`;
KeyboardInterrupt -> 130; anything else is a bug -> one line, exit 70, the traceback only with
--verbose. Every message is scrubbed of secrets before it is printed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # fast path: no typer import
        from ghes_setup import __version__

        sys.stdout.write(f"ghes-setup {__version__}\n")
        sys.exit(0)
    sys.exit(run(args))


def run(args: list[str]) -> int:
    from typer import Abort, Exit
    from typer.exceptions import TyperException

    from ghes_setup import exit_codes
    from ghes_setup.cli.app import app
    from ghes_setup.errors import GhesSetupError
    from ghes_setup.secrets import scrub

    verbose = "--verbose" in args or "-v" in args
    nagios = _wants_nagios(args)
    try:
        result = app(args=args, prog_name="ghes-setup", standalone_mode=False)
    except Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:  # usage errors: Typer's own message, exit 2
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, Abort):
        sys.stderr.write("ghes-setup: interrupted\n")
        return int(exit_codes.ExitCode.INTERRUPTED)
    except GhesSetupError as exc:
        message = scrub(exc.message)
        hint = f" Hint: {scrub(exc.hint)}" if exc.hint else ""
        if nagios:
            from ghes_setup.reporting import nagios as nagios_report

            text, code = nagios_report.unknown(message)
            sys.stdout.write(text)
            sys.stderr.write(f"ghes-setup: {message}.{hint}\n")
            return int(code)
        sys.stderr.write(f"ghes-setup: {message.rstrip('.')}.{hint}\n")
        return int(exit_codes.for_error(exc))
    except Exception as exc:
        import traceback

        text = scrub(f"{type(exc).__name__}: {exc}")
        sys.stderr.write(
            f"ghes-setup: internal error: {text}. "
            "Hint: this is a bug; rerun with --verbose and report it.\n"
        )
        if verbose:
            sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
        if nagios:
            return 3
        return int(exit_codes.ExitCode.INTERNAL)
    return int(result) if isinstance(result, int) else 0


def _wants_nagios(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg == "--format=nagios" or (arg == "--format" and args[i + 1 : i + 2] == ["nagios"]):
            return True
    return False
