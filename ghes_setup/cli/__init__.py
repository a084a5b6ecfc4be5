"""The command line: the only package that imports typer.

Each command turns options into a typed request, calls one service function, hands the result
to a reporter and returns an exit code (docs/reference/architecture.md §3). Service modules are
imported inside the command functions so that `--help` and `--version` start fast.
"""
