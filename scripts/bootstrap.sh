#!/usr/bin/env bash
# Create (or refresh) the project's Python environment in .venv with ghes-setup and its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.ghes-setup-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,lab]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import ghes_setup, typer, paramiko, httpx, dns, OpenSSL, jwt, pytest" \
    || { echo "bootstrap: the Python environment is incomplete" >&2; exit 1; }
  touch "$stamp"
fi
echo "python environment: .venv ready ($(.venv/bin/python --version))"
