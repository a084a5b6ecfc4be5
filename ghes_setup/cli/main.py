"""Entry point: the one place where exceptions become exit codes and messages.

`GhesSetupError` -> one line with its hint, the exit code of `exit_codes.for_error`;
KeyboardInterrupt -> one line saying where the run stopped and what it left on the appliance
(from the run's progress events, `reporting.interrupt`), 130; standard output closed or
broken (`| head -0`, `>&-`) or a full disk -> one line, 74 (`exit_codes.ExitCode.OUTPUT`);
anything else is a bug -> one line, exit 70, the traceback only with --verbose. Every message
is scrubbed of secrets before it is printed. With `--format nagios` every run that ends
without a report still prints an UNKNOWN line (exit 3).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

# Errors that mean "what we had to write could not be written", not a bug.
_OUTPUT_ERRNOS = frozenset({errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


class _CtrlC(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM during a command. Not a KeyboardInterrupt: Typer turns those
    into a silent `Exit(130)` before we could say where the run stopped."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_sigint(signum: int, frame: object) -> None:
    raise _CtrlC(signum)


# The signals that stop a run with its one line: Ctrl-C, and SIGTERM (cron's and systemd's
# timeouts, `timeout(1)`, `kill`), which would otherwise end it silently mid-step.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _ClosedStdout(io.TextIOBase):
    """Stands in for a closed standard output (`ghes-setup ... >&-`): any write is EPIPE."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")


def _skip_unused_library_parts() -> None:
    """Keep an optional import of a library we use from running: nothing of ghes-setup needs it,
    and every command would pay for it (docs/performance.md, bench/check_process_bench.py).

    httpx's package imports its own command line (`httpx._main`: click, rich.progress,
    rich.syntax, pygments) inside `try: ... except ImportError`; a None entry in sys.modules
    makes that import fail the way httpx expects, and `httpx.main` is its stub.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    if sys.stdout is None:  # started with standard output closed
        sys.stdout = _ClosedStdout()
    _skip_unused_library_parts()
    _tolerate_narrow_encodings()
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # fast path: no typer import
        from ghes_setup import __version__

        try:
            sys.stdout.write(f"ghes-setup {__version__}\n")
            sys.stdout.flush()
        except OSError as exc:
            sys.exit(_output_failed(exc, []))
        sys.exit(0)
    code = run(args)
    # The interpreter's last collection walks every object the run's libraries left (dnspython,
    # cryptography, rich, paramiko): about 50 ms of every cron `check` on the dev VM, to free
    # memory the OS takes back anyway. Frozen objects are skipped; `atexit` handlers, open files
    # and the output streams are still flushed and closed as usual.
    gc.freeze()
    if code in (130, 143) and _threads_left():
        # Interrupted: its line and failure textfile are written. A worker thread blocked in a
        # read (a check, a connection started ahead) would hold the interpreter's exit until
        # its timeout, and cron's or systemd's SIGKILL would come first.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _threads_left() -> bool:
    main_thread = threading.main_thread()
    return any(
        t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()
    )


def _tolerate_narrow_encodings() -> None:
    """`PYTHONIOENCODING=ascii` (or a C locale under an old Python) must not turn a dash or
    a name like `straße.example` into a UnicodeEncodeError: unencodable characters print
    as `?` on standard output and as escapes on standard error."""
    for stream, errors in ((sys.stdout, "replace"), (sys.stderr, "backslashreplace")):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not encoding.startswith("utf"):
            with contextlib.suppress(OSError, ValueError):  # cannot change: leave it
                reconfigure(errors=errors)


def run(args: list[str]) -> int:
    """One command line; the debug trace (`--debug`, `--log-file`) ends with its exit code."""
    from ghes_setup import trace
    from ghes_setup.cli.common import stop_trace

    try:
        code = _run(args)
        trace.event("exit", f"exit code {code}")
        return code
    finally:
        stop_trace()


def _run(args: list[str]) -> int:
    from typer import Abort, Exit
    from typer.exceptions import TyperException

    from ghes_setup import exit_codes
    from ghes_setup.cli.app import app
    from ghes_setup.cli.common import run_journal
    from ghes_setup.errors import GhesSetupError
    from ghes_setup.secrets import scrub

    front, rest = _hoist_root_options(args)
    args = [*front, *rest]
    verbose = "--verbose" in front
    fmt = _option_value(args, "--format")
    journal = run_journal(reset=True)
    previous = _catch_sigint()
    try:
        try:
            result = app(args=args, prog_name="ghes-setup", standalone_mode=False)
            code = int(result) if isinstance(result, int) else 0
        except Exit as exc:
            code = int(exc.exit_code)
        sys.stdout.flush()  # buffered output fails here, not at interpreter exit
        return code
    except TyperException as exc:  # usage errors: Typer's own message, exit 2
        exc.show()  # type: ignore[attr-defined]
        code = int(getattr(exc, "exit_code", 2))
        return _no_report(args, fmt, "usage error (see above)", code) if code else 0
    except (_CtrlC, KeyboardInterrupt, Abort) as exc:
        from ghes_setup.reporting.interrupt import interrupted_line

        line = scrub(interrupted_line(journal.events))
        terminated = isinstance(exc, _CtrlC) and exc.signum == signal.SIGTERM
        if terminated:
            line = line.replace("interrupted", "terminated (SIGTERM)", 1)
        _stderr(f"ghes-setup: {line}.\n")
        code = exit_codes.ExitCode.TERMINATED if terminated else exit_codes.ExitCode.INTERRUPTED
        return _no_report(args, fmt, line, int(code))
    except GhesSetupError as exc:
        message = scrub(exc.message).rstrip(".")
        hint = f" Hint: {scrub(exc.hint)}" if exc.hint else ""
        _stderr(f"ghes-setup: {message}.{hint}\n")
        return _no_report(args, fmt, message, int(exit_codes.for_error(exc)))
    except SystemExit as exc:
        # click's own answer to EPIPE on standard output: sys.exit(1), silently.
        if exc.code == 1 and _stdout_broken():
            return _output_failed(BrokenPipeError(errno.EPIPE, "broken pipe"), args, fmt)
        raise
    except OSError as exc:
        if exc.errno in _OUTPUT_ERRNOS and (exc.errno != errno.EPIPE or _stdout_broken()):
            return _output_failed(exc, args, fmt)
        return _internal_error(exc, args, fmt, verbose)
    except Exception as exc:
        return _internal_error(exc, args, fmt, verbose)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _catch_sigint() -> dict[int, Any]:
    """Route Ctrl-C and SIGTERM to `_CtrlC` for the run (main thread only); returns the
    handlers it replaced, to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    replaced: dict[int, Any] = {}
    for signum in _STOP_SIGNALS:
        if signal.getsignal(signum) is not defaults[signum]:
            continue  # SIG_IGN (e.g. started in the background) or someone else's handler
        replaced[signum] = signal.signal(signum, _on_sigint)
    return replaced


def _internal_error(exc: Exception, args: list[str], fmt: str | None, verbose: bool) -> int:
    import traceback

    from ghes_setup import exit_codes
    from ghes_setup.secrets import scrub

    text = scrub(f"{type(exc).__name__}: {exc}")
    _stderr(
        f"ghes-setup: internal error: {text}. "
        "Hint: this is a bug; rerun with --verbose and report it.\n"
    )
    if verbose:
        _stderr(scrub("".join(traceback.format_exception(exc))))
    return _no_report(args, fmt, f"internal error: {text}", int(exit_codes.ExitCode.INTERNAL))


def _output_failed(exc: OSError, args: list[str], fmt: str | None = None) -> int:
    """Standard output closed or broken, or a disk full: one line on standard error, 74."""
    from ghes_setup import exit_codes
    from ghes_setup.secrets import scrub

    if exc.errno == errno.EPIPE:
        text = "standard output was closed before the output was written (broken pipe)"
        hint = "read the whole output, or send it to a file"
    else:
        where = exc.filename or "standard output"
        text = f"cannot write {where}: {exc.strerror or errno.errorcode.get(exc.errno or 0)}"
        hint = "free some space (or pick another place for the output) and run again"
    _discard_stdout()
    _stderr(f"ghes-setup: {scrub(text)}. Hint: {hint}\n")
    return _no_report(args, fmt, text, int(exit_codes.ExitCode.OUTPUT))


def _stdout_broken() -> bool:
    """Is our standard output a pipe whose reader went away (or closed from the start)?

    EPIPE may also come from a socket; only a dead standard output is an output error.
    """
    stream = getattr(sys.stdout, "wrapped", sys.stdout)  # click's PacifyFlushWrapper
    if isinstance(stream, _ClosedStdout):
        return True
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    import select

    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def _discard_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's last flush of the
    unwritable buffer does not print "Exception ignored ... BrokenPipeError" after our line."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, AttributeError, ValueError):  # standard error is gone too: nothing to do
        pass


def _no_report(args: list[str], fmt: str | None, message: str, code: int) -> int:
    from ghes_setup.exit_codes import ExitCode

    """A run that ended without a report still speaks its monitoring format: Nagios gets an
    UNKNOWN line (exit 3), a Prometheus textfile says the run failed (so a stale file never
    keeps reporting the last good run)."""
    if fmt == "nagios":
        from ghes_setup.reporting import nagios

        text, nagios_code = nagios.unknown(message)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError:  # standard output is what failed: the exit code still says UNKNOWN
            _discard_stdout()
        return int(nagios_code)
    textfile = _option_value(args, "--textfile")
    # After an output error the textfile (or its disk) is likely what failed: one line only.
    if fmt == "prometheus" and textfile and code != int(ExitCode.OUTPUT):
        from pathlib import Path

        from ghes_setup.errors import GhesSetupError
        from ghes_setup.reporting import prometheus

        # The `host` label even without a site: the file's hostname, or the schedule's label.
        site = _option_value(args, "--site")
        host = prometheus.failure_host(
            Path(site) if site else None, _option_value(args, "--host-label")
        )
        text = prometheus.render_failure(_command(args), host=host, exit_code=code)
        try:
            prometheus.write_textfile(Path(textfile), text)
        except GhesSetupError as exc:
            _stderr(f"ghes-setup: {exc.message}\n")
    return code


_ROOT_VALUE_OPTIONS = ("--format", "--site", "--log-file")


_ROOT_FLAGS = {
    "--verbose": "--verbose",
    "-v": "--verbose",
    "--debug": "--debug",
    "--quiet": "--quiet",
    "-q": "--quiet",
}


def _hoist_root_options(args: list[str]) -> tuple[list[str], list[str]]:
    """`--verbose`/`-v`, `--quiet`/`-q`, `--debug` and `--log-file FILE` are root options;
    accept them anywhere on the line (before a `--`), like --format. Returns (root options,
    the rest)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in _ROOT_FLAGS:
            if _ROOT_FLAGS[arg] not in front:
                front.append(_ROOT_FLAGS[arg])
        elif arg == "--log-file" and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 1
        elif arg.startswith("--log-file="):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front, rest


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
