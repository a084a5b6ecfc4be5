"""Parsers for what the admin shell prints: `ghe-config -l` and `ghe-config -l -z`.

`ghe-config -l` is believed to print `key=value` per line like `git config -l`
(`facts.GHE_CONFIG_LIST_FORMAT`, UNVERIFIED). `git config -l` prints a multi-line value (a
PEM certificate) as is, so its following lines do not start with a key: they are joined to the
entry before. A key is `section[.subsection].name` (letters, digits, `.`, `-`, `_`), so a PEM
or base64 line (no dot before an `=`) is never taken for one. `-z` (NUL after each entry,
newline between key and value) is unambiguous and preferred when the appliance supports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

_ENTRY: Final = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*(?:\.[^=\s]+)*\.[A-Za-z0-9_-]+)=(.*)$")


@dataclass(frozen=True, slots=True)
class ConfigListing:
    """A parsed listing. `line_format` is "key=value" when every entry had that shape, else
    "other"; `multiline` lists the keys whose values spanned several lines; `stray` counts
    lines before the first entry (not key=value)."""

    entries: dict[str, str] = field(default_factory=dict)
    line_format: str = "key=value"
    multiline: tuple[str, ...] = ()
    stray: int = 0


def parse_config_list(text: str) -> ConfigListing:
    """`ghe-config -l` output -> entries (a key listed twice keeps its last value, as
    `git config --get` does)."""
    entries: dict[str, str] = {}
    multiline: list[str] = []
    stray = 0
    current: str | None = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the listing's final newline ends the last entry; it is not a value line
    for line in lines:
        match = _ENTRY.match(line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2)
            continue
        if current is None:
            if line.strip():
                stray += 1
            continue
        # A value with newlines is printed as is: this line (even an empty one) is part of it.
        entries[current] += "\n" + line
        if current not in multiline:
            multiline.append(current)
    line_format = "key=value" if entries and not stray else ("other" if stray else "empty")
    return ConfigListing(entries, line_format, tuple(multiline), stray)


def parse_config_list_z(raw: str) -> ConfigListing | None:
    """`ghe-config -l -z` output (entries end with NUL, key and value split by a newline);
    None when the text has no NUL (the option is not supported)."""
    if "\0" not in raw:
        return None
    entries: dict[str, str] = {}
    multiline: list[str] = []
    for chunk in raw.split("\0"):
        if not chunk:
            continue
        key, _, value = chunk.partition("\n")
        entries[key] = value
        if "\n" in value:
            multiline.append(key)
    return ConfigListing(entries, "key=value", tuple(multiline), 0)


def parse_scopes(header: str | None) -> list[str] | None:
    """`X-OAuth-Scopes` -> scope names, sorted; None when the header is absent (not a classic
    personal access token)."""
    if header is None:
        return None
    return sorted({s.strip() for s in header.split(",") if s.strip()})
