#!/usr/bin/env bash
# Prove the dependency floors pyproject.toml declares: install every direct dependency at the
# LOWEST version its declared range allows, then this project's wheel on top, and run the unit
# tests there. Installing the wheel alone would resolve its requirements to the highest
# versions, so the wheel's own requirements go in first as a requirements file under
# `uv pip install --resolution lowest-direct`, then the wheel itself with `--no-deps`.
# Unit tests only (tests/unit): they exercise every module without the lab's servers, and keep
# this job to a minute or two. Needs `uv` (the dev extra pins it) and the package index.
#   scripts/test-lowest-deps.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
UV=${UV:-uv}
command -v "$UV" >/dev/null || UV="$ROOT/.venv/bin/uv"
work=$(mktemp -d "${TMPDIR:-/tmp}/ghes-setup-lowest.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$ROOT" >/dev/null
wheel=$(ls "$work"/dist/ghes_setup-*.whl)
# The wheel's Requires-Dist lines: those without an extra marker (what `pip install ghes-setup`
# uses) and the `lab` extra's (what `ghes-setup[lab]` adds; the unit tests drive the lab's
# commands too), the marker stripped.
"$PY" - "$wheel" >"$work/requirements.txt" <<'PYEOF'
import re, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    for line in wheel.read(meta).decode().splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = line.split(":", 1)[1].strip()
        extra = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", req)
        if extra is None:
            print(req)
        elif extra.group(1) == "lab":
            print(req.split(";", 1)[0].strip())
PYEOF
# The unit tests' own tools at the versions the dev extra pins (they are not under test).
"$PY" - "$ROOT/pyproject.toml" >"$work/test-tools.txt" <<'PYEOF'
import sys, tomllib
dev = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["dev"]
wanted = ("pytest", "pytest-timeout", "hypothesis", "jsonschema", "trustme", "dnslib", "pyyaml",
          "hatchling")
for req in dev:
    name = req.split("=")[0].split(">")[0].split("[")[0].strip().lower()
    if name in wanted:
        print(req)
PYEOF
echo "== lowest direct dependencies:"; sed 's/^/   /' "$work/requirements.txt"
"$UV" venv -q --seed --python "$PY" "$work/venv"  # --seed: pip, for the wheel test
"$UV" pip install -q --python "$work/venv/bin/python" --resolution lowest-direct \
  -r "$work/requirements.txt"
"$UV" pip install -q --python "$work/venv/bin/python" --no-deps "$wheel"
"$UV" pip install -q --python "$work/venv/bin/python" -r "$work/test-tools.txt"
"$UV" pip list --python "$work/venv/bin/python" 2>/dev/null \
  | grep -iE '^(typer|rich|paramiko|httpx|httpcore|jinja2|dnspython|cryptography|pyopenssl|idna|pyjwt) ' \
  | sed 's/^/   installed: /'
# The installed wheel, from a folder outside the checkout: its console script starts on these
# versions and `explain` prints every check's page from the pages inside the package.
(
  cd "$work"
  env -u PYTHONPATH "$work/venv/bin/ghes-setup" --version
  ids=$(env -u PYTHONPATH "$work/venv/bin/ghes-setup" explain --list)
  for id in $ids; do
    page=$(env -u PYTHONPATH "$work/venv/bin/ghes-setup" explain "$id")
    [ "${page%%$'\n'*}" = "# $id" ] \
      || { echo "installed wheel: explain $id does not print its page" >&2; exit 1; }
  done
  echo "== installed wheel explains $(echo "$ids" | wc -l) checks"
)
# The tests run from the checkout (they read docs/ and build the wheel from it); the code they
# import is the same as the wheel's, the dependencies are the venv's lowest ones.
env -u PYTHONPATH "$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit "$@"
