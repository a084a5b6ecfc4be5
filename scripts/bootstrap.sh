#!/usr/bin/env bash
# Create (or refresh) the project's Python environment in .venv with ghes-setup, its dev tools and
# the lab's storage clients and servers (the `lab` extra), and install the lab's npm package.
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
  .venv/bin/python -c "import ghes_setup, typer, paramiko, httpx, dns, OpenSSL, jwt, pytest, moto, botocore, azure.storage.blob" \
    || { echo "bootstrap: the Python environment is incomplete" >&2; exit 1; }
  touch "$stamp"
fi
echo "python environment: .venv ready ($(.venv/bin/python --version))"
scripts/install-lab-node.sh
