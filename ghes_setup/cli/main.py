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

    args = _hoist_verbose(args)
    verbose = args[:1] == ["--verbose"]
    fmt = _option_value(args, "--format")
    try:
        result = app(args=args, prog_name="ghes-setup", standalone_mode=False)
    except Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:  # usage errors: Typer's own message, exit 2
        exc.show()  # type: ignore[attr-defined]
        code = int(getattr(exc, "exit_code", 2))
        return _no_report(args, fmt, "usage error (see above)", code) if code else 0
    except (KeyboardInterrupt, Abort):
        sys.stderr.write("ghes-setup: interrupted\n")
        return int(exit_codes.ExitCode.INTERRUPTED)
    except GhesSetupError as exc:
        message = scrub(exc.message).rstrip(".")
        hint = f" Hint: {scrub(exc.hint)}" if exc.hint else ""
        sys.stderr.write(f"ghes-setup: {message}.{hint}\n")
        return _no_report(args, fmt, message, int(exit_codes.for_error(exc)))
    except Exception as exc:
        import traceback

        text = scrub(f"{type(exc).__name__}: {exc}")
        sys.stderr.write(
            f"ghes-setup: internal error: {text}. "
            "Hint: this is a bug; rerun with --verbose and report it.\n"
        )
        if verbose:
            sys.stderr.write(scrub("".join(traceback.format_exception(exc))))
        return _no_report(args, fmt, f"internal error: {text}", int(exit_codes.ExitCode.INTERNAL))
    return int(result) if isinstance(result, int) else 0


def _no_report(args: list[str], fmt: str | None, message: str, code: int) -> int:
    """A run that ended without a report still speaks its monitoring format: Nagios gets an
    UNKNOWN line (exit 3), a Prometheus textfile says the run failed (so a stale file never
    keeps reporting the last good run)."""
    if fmt == "nagios":
        from ghes_setup.reporting import nagios

        text, nagios_code = nagios.unknown(message)
        sys.stdout.write(text)
        return int(nagios_code)
    textfile = _option_value(args, "--textfile")
    if fmt == "prometheus" and textfile:
        from pathlib import Path

        from ghes_setup.errors import GhesSetupError
        from ghes_setup.reporting import prometheus

        try:
            prometheus.write_textfile(Path(textfile), prometheus.render_failure(_command(args)))
        except GhesSetupError as exc:
            sys.stderr.write(f"ghes-setup: {exc.message}\n")
    return code


_ROOT_VALUE_OPTIONS = ("--format", "--site")


def _hoist_verbose(args: list[str]) -> list[str]:
    """`--verbose`/`-v` is a root option; accept it anywhere on the line, like --format."""
    rest = [a for a in args if a not in ("--verbose", "-v")]
    return ["--verbose", *rest] if len(rest) != len(args) else args


def _option_value(args: list[str], name: str) -> str | None:
    value = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(f"{name}="):
            value = arg.split("=", 1)[1]
    return value


def _command(args: list[str]) -> str:
    """The command words of a command line (`tls probe`), skipping root options."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _ROOT_VALUE_OPTIONS:
            skip = not words
            if words:
                break
        elif arg.startswith("-"):
            if words:
                break
        else:
            words.append(arg)
    return " ".join(words) or "ghes-setup"
