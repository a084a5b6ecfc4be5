#!/usr/bin/env bash
# The README's main command: on a fresh machine, install what is needed, start the lab
# appliance (a stand-in GHES built from real servers on loopback), and run the main job,
# `ghes-setup up`, against it: preflight, DNS, TLS, plan, push, apply, registry, smoke test.
# The lab keeps running afterwards; stop it with `.venv/bin/ghes-setup lab down`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  # The lab binds ports 53/122/443/8443 and runs sshd for a user `admin`: root's job.
  exec sudo --preserve-env=GHES_SETUP_LAB_DIR "$0" "$@"
fi
scripts/install-system-deps.sh
scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
lab_dir=${GHES_SETUP_LAB_DIR:-$PWD/.lab}

echo "== ghes-setup lab up"
ghes-setup lab up --dir "$lab_dir"
eval "$(ghes-setup lab env --dir "$lab_dir")"

echo
echo "== ghes-setup up --yes   (site file: $GHES_SETUP_SITE)"
status=0
ghes-setup up --yes --report "$lab_dir/up-report.md" || status=$?

echo
echo "== ghes-setup check --format nagios   (what cron would run)"
ghes-setup check --format nagios || true

cat <<MSG

Report of the run: $lab_dir/up-report.md (exit code of up: $status)
The lab keeps running. Try, in a root shell:
  eval "\$(.venv/bin/ghes-setup lab env --dir $lab_dir)"
  .venv/bin/ghes-setup check                       # read-only checks
  .venv/bin/ghes-setup lab fault cert-expired      # then check again; lab fault clear
Stop it with: .venv/bin/ghes-setup lab down --dir $lab_dir
MSG
exit "$status"
