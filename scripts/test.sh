#!/usr/bin/env bash
# The README's test command: set up a fresh machine, then run every check CI runs.
#   lint (ruff), format (ruff format --check), types (mypy strict), layer and library
#   contracts (import-linter), the tests (unit and lab) with warnings as errors.
# Extra arguments go to pytest, e.g. scripts/test.sh -k dns -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check";      ruff check .
echo "== ruff format";     ruff format --check .
echo "== mypy";            mypy
echo "== import contracts"; lint-imports
echo "== pytest";          python -m pytest "$@"
