"""The command line of this run, for the reports (`up --report`, `verify --report`).

Rebuilt from what click parsed, not taken from `sys.argv`: the same text whether the tool runs
as a process or in-process (tests, `ghes_setup.cli.main.run`), and only options given on the
command line, in the order they were given. It never holds a secret (secrets are
never options: design rule, docs/security.md) and is scrubbed anyway.
"""

from __future__ import annotations

import shlex
from enum import Enum
from pathlib import Path
from typing import Any

import typer


def command_line(ctx: typer.Context) -> str:
    from ghes_setup.secrets import scrub

    chain: list[Any] = []
    current: Any = ctx
    while current is not None:
        chain.append(current)
        current = current.parent
    words: list[str] = []
    for c in reversed(chain):
        words.append("ghes-setup" if c.parent is None else str(c.info_name))
        # ctx.params is filled in the order click processed the parameters: the order they
        # were typed in (eager ones first), then the defaults.
        by_name = {p.name: p for p in c.command.params if p.name is not None}
        for name in c.params:
            param = by_name.get(name)
            if param is None:
                continue
            source = c.get_parameter_source(param.name)
            # click's ParameterSource.COMMANDLINE, compared by name: the enum is not public
            # in typer's vendored click.
            if source is None or getattr(source, "name", "") != "COMMANDLINE":
                continue
            words += _words(param, c.params.get(param.name))
    return scrub(shlex.join(words))


def _words(param: Any, value: Any) -> list[str]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if getattr(param, "param_type_name", "") == "argument":
        return [_text(v) for v in values if v is not None]
    opts = list(getattr(param, "opts", ()) or ())
    if not opts:
        return []
    long = next((o for o in opts if o.startswith("--")), opts[0])
    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        if value:
            return [long]
        secondary = list(getattr(param, "secondary_opts", ()) or ())
        return secondary[:1]
    out: list[str] = []
    for v in values:
        if v is not None:
            out += [long, _text(v)]
    return out


def _text(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
