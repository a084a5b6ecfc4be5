#!/usr/bin/env bash
# Runs shellcheck over every shell script of the repository: scripts/*.sh, .ci/run and the admin-shell
# scripts ghes-setup ships (ghes_setup/appliance/scripts/*.sh). Those run remotely as
# `bash -c "$(cat prelude.sh X.sh)"` (see ghes_setup/appliance/ssh.py), so each one that
# starts with the prelude is checked as that concatenation: its functions and variables
# (restore, getkey, $st, $J) are defined there.
set -euo pipefail
cd "$(dirname "$0")/.."
shellcheck scripts/*.sh .ci/run
remote=ghes_setup/appliance/scripts
for name in read-settings write-settings start-config-apply; do
  cat "$remote/prelude.sh" "$remote/$name.sh" | shellcheck --shell=bash -
done
shellcheck --shell=bash "$remote/config-apply-status.sh" "$remote/utility.sh"
echo "shellcheck: clean"
