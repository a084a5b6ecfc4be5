"""Options declared once and handed to a command as one value.

`bundle()` adds a group of Typer options to a command in the place of one parameter (a frozen
dataclass of them), so `--help` lists them where that parameter stands and no command pastes
the same dozen lines. `appliance_options.with_connection` is the connection bundle;
`with_report` is the one of every check-type command (--format, --textfile, --strict).
`seconds()` is the metadata of the duration options many commands repeat (`common.option()`
that of an option whose help states its default).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar, get_type_hints, overload

import typer

from ghes_setup.cli.common import (
    FormatOpt,
    OutputFormat,
    StrictOpt,
    TextfileOpt,
    check_seconds,
    emit_report,
    output_format,
)

if TYPE_CHECKING:
    from ghes_setup.checks.model import Report

F = TypeVar("F", bound=Callable[..., Any])
Param = tuple[str, Any, Any]  # (name, Annotated option type, default)


def seconds(help: str, flag: str = "--timeout") -> Any:
    """A duration in seconds: positive and finite (`check_seconds`), its default shown."""
    return typer.Option(flag, metavar="S", help=help, callback=check_seconds)


@functools.cache
def options_of(cls: type) -> tuple[Param, ...]:
    """A bundle's options: each field of the dataclass `cls`, its annotation (an Annotated
    Typer option) and its default."""
    hints = get_type_hints(cls, include_extras=True)
    return tuple((f.name, hints[f.name], f.default) for f in dataclasses.fields(cls))


def bundle(
    cls: type, name: str, *, keep: Callable[[str], bool] = lambda option: True
) -> Callable[[F], F]:
    """Replace the parameter `name` of a Typer command (annotated `cls`, a dataclass of
    options) by those options (`keep` filters them by name), in its place; the command
    receives them as one `cls(**values)`."""
    params = [p for p in options_of(cls) if keep(p[0])]

    def decorate(fn: F) -> F:
        hints = get_type_hints(fn, include_extras=True)
        signature = inspect.signature(fn)
        shown: list[inspect.Parameter] = []
        for p in signature.parameters.values():
            if p.name == name:  # the options take its place and its kind
                shown.extend(
                    inspect.Parameter(n, p.kind, default=default, annotation=hint)
                    for n, hint, default in params
                )
            else:
                shown.append(p.replace(annotation=hints.get(p.name, p.annotation)))

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {n: kwargs.pop(n) for n, _, _ in params}
            return fn(*args, **{name: cls(**values)}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=shown)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in shown}
        return wrapper  # type: ignore[return-value]

    return decorate


# ------------------------------------------------------------------ check-type commands


@dataclass(frozen=True)
class ReportArgs:
    """--format, --textfile and --strict of a command that prints a check report."""

    fmt: FormatOpt = None
    textfile: TextfileOpt = None
    strict: StrictOpt = False

    def format(self, ctx: typer.Context) -> OutputFormat:
        """The output format; first thing a command does (a bad one is refused at once)."""
        return output_format(ctx, self.fmt)

    def exit(self, ctx: typer.Context, out: OutputFormat, report: Report) -> NoReturn:
        """Print the report in `out` (and the textfile) and exit with its code."""
        raise typer.Exit(emit_report(ctx, report, out, textfile=self.textfile, strict=self.strict))


NO_REPORT_ARGS: Final = ReportArgs()  # the default `with_report` replaces


@overload
def with_report(fn: F) -> F: ...


@overload
def with_report(*, textfile: bool = True) -> Callable[[F], F]: ...


def with_report(fn: F | None = None, *, textfile: bool = True) -> F | Callable[[F], F]:
    """Add --format/--textfile/--strict in the place of the command's `output: ReportArgs`.
    `textfile=False` leaves out --textfile (`client check` takes --format and --strict only)."""
    decorate: Callable[[F], F] = bundle(
        ReportArgs, "output", keep=lambda option: textfile or option != "textfile"
    )
    return decorate(fn) if fn is not None else decorate
