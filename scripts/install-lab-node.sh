#!/usr/bin/env bash
# Installs the lab's one npm package: Azurite (the Azure Blob Storage server behind the lab's
# `azure` storage backend), pinned, into .lab-node/ of this checkout, where the lab looks for
# it (ghes_setup/lab/parts.py: azurite_blob()). Node and npm come from Debian where missing
# (scripts/install-system-deps.sh). Idempotent: does nothing when the pinned version is there.
# Used by scripts/bootstrap.sh, so the README's two commands and .ci/run get it.
set -euo pipefail
cd "$(dirname "$0")/.."
AZURITE_VERSION=3.35.0  # 3.36+ declares Node >= 21; Debian 12 ships Node 18
prefix=.lab-node
installed=""
if [ -f "$prefix/node_modules/azurite/package.json" ]; then
  installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$prefix/node_modules/azurite/package.json" | head -n 1)
fi
if [ "$installed" = "$AZURITE_VERSION" ] && [ -x "$prefix/node_modules/.bin/azurite-blob" ]; then
  echo "lab npm packages: azurite $AZURITE_VERSION present"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-lab-node: node and npm are missing: run scripts/install-system-deps.sh" >&2
  exit 1
fi
echo "lab npm packages: installing azurite $AZURITE_VERSION into $prefix"
mkdir -p "$prefix"
[ -f "$prefix/package.json" ] || echo '{"name": "ghes-setup-lab-node", "private": true}' > "$prefix/package.json"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
  --omit=dev "azurite@$AZURITE_VERSION" >/dev/null
"$prefix/node_modules/.bin/azurite-blob" --version >/dev/null
echo "lab npm packages: done"
