#!/usr/bin/env bash
# The README's test command: set up a fresh machine, then run every check CI runs.
#   lint (ruff), format (ruff format --check), types (mypy strict), layer and library
#   contracts (import-linter), the tests (unit and lab) with warnings as errors, and (on a full
#   run, without pytest arguments) the unit tests again on the lowest declared dependencies.
# Extra arguments go to pytest, e.g. scripts/test.sh -k dns -x
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
  # The lab tests bind ports 53/122/443/8443 and run sshd for a user `admin`: root's job.
  exec sudo --preserve-env=CI "$0" "$@"
fi
scripts/install-system-deps.sh
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check";      ruff check .
echo "== ruff format";     ruff format --check .
echo "== mypy";            mypy
echo "== import contracts"; lint-imports
echo "== pytest";          python -m pytest "$@"
if [ "$#" -eq 0 ]; then
  echo "== lowest dependencies"; scripts/test-lowest-deps.sh
fi
