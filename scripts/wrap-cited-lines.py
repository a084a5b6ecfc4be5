"""Re-wrap comment and docstring lines that a longer citation pushed past the line length.

Used by scripts/rewrite-reference-citations.sh after its sed: `docs/reference/<page>.md §N`
is longer than the name it replaces, so a line of prose may end up over ruff's line-length.
Only lines over the limit that contain a `docs/reference/` citation are touched, and only
inside a comment or a triple-quoted string (docstrings, the lab's embedded bash). The line is
broken at the last space that fits; the rest is joined to the next line when that line
continues the same paragraph (same prefix, plain text), and the change ripples on until a
line fits. Anything else (a long line of code) is reported for a human, and the exit status is
1. Lines within the limit are never touched, so a second run changes nothing.

    python3 scripts/wrap-cited-lines.py FILE.py...
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH: int = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"][
    "line-length"
]
MARK = "docs/reference/"
_TRIPLE = re.compile(r"^[rRbBuUfF]*(\"\"\"|''')")
_STRUCTURAL = re.compile(r"^(?:[-*>] |\||```|#|\d+[.)] |\"\"\"|''')")


def contexts(source: str) -> tuple[dict[int, int], dict[int, int]]:
    """Comment columns by line; for each line inside a triple-quoted string, the string's last
    line (1-based)."""
    comments: dict[int, int] = {}
    strings: dict[int, int] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.start[1]
        elif tok.type == tokenize.STRING and _TRIPLE.match(tok.string):
            strings.update(dict.fromkeys(range(tok.start[0], tok.end[0] + 1), tok.end[0]))
    return comments, strings


def continuation(line: str) -> tuple[str, int]:
    """The prefix a continuation of `line` gets, and the first column a break may be at."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line[len(indent) :]
    if body.startswith("#"):
        hashes = re.match(r"#\s*(?:- )?", body)
        assert hashes is not None
        gap = hashes.group(0)
        return indent + "#" + " " * (len(gap) - 1), len(indent) + len(gap) + 1
    bullet = re.match(r"(?:- |\* |\d+\. )", body)
    quotes = _TRIPLE.match(body)
    start = len(indent) + (quotes.end() if quotes else 0)
    return indent + (" " * len(bullet.group(0)) if bullet else ""), start + 1


def wrap_at(lines: list[str], i: int, prefix: str, first_break: int, last: int) -> None:
    """Break lines[i] to fit, carrying the rest into the paragraph that follows, never past
    lines[last] (the end of the string or comment)."""
    while len(lines[i]) > WIDTH:
        cut = WIDTH + 1
        while True:  # never between a page and its section sign: the citation stays one piece
            cut = lines[i].rfind(" ", first_break, cut)
            if cut < 0 or not lines[i].startswith("§", cut + 1):
                break
        if cut < 0:
            return  # one long word: nothing sensible to do
        head, rest = lines[i][:cut].rstrip(), lines[i][cut + 1 :].strip()
        lines[i] = head
        nxt = lines[i + 1] if i + 1 <= last else None
        tail = nxt[len(prefix) :] if nxt is not None and nxt.startswith(prefix) else ""
        if tail and not tail[0].isspace() and not _STRUCTURAL.match(tail):
            lines[i + 1] = f"{prefix}{rest} {tail}"
        else:
            lines.insert(i + 1, prefix + rest)
            last += 1
        i += 1
        first_break = len(prefix) + 1


def wrap_file(path: Path) -> list[str]:
    """Re-wrap `path` in place; return the lines left too long (for a human)."""
    source = path.read_text(encoding="utf-8")
    comments, strings = contexts(source)
    lines = source.split("\n")
    left: list[str] = []
    # Bottom up, so that inserted lines do not shift the token positions still to visit.
    for i in reversed(range(len(lines))):
        line = lines[i]
        if len(line) <= WIDTH or MARK not in line:
            continue
        comment_col = comments.get(i + 1)
        string_end = strings.get(i + 1)
        if comment_col is None and string_end is None:
            left.append(f"{path}:{i + 1}: {line.strip()}")
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if comment_col is not None and comment_col > len(indent):
            # A comment after code: it goes on its own line(s) above the code.
            lines[i : i + 1] = [indent + line[comment_col:], line[:comment_col].rstrip()]
        prefix, first_break = continuation(lines[i])
        # A comment continues only into comment lines (the prefix checks that); a string up
        # to its closing line.
        last = len(lines) - 1 if string_end is None else string_end - 1
        wrap_at(lines, i, prefix, first_break, last)
        if len(lines[i]) > WIDTH:
            left.append(f"{path}:{i + 1}: {lines[i].strip()}")
    new = "\n".join(lines)
    if new != source:
        path.write_text(new, encoding="utf-8")
    return left


def main(argv: list[str]) -> int:
    left = [entry for name in argv if name.endswith(".py") for entry in wrap_file(Path(name))]
    for entry in left:
        print(f"too long, wrap by hand: {entry}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
