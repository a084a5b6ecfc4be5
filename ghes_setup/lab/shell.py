"""The admin shell's commands: the scripts the lab puts first on the admin user's PATH.

`ghe-config` and `ghe-version` are bash (git-config is the storage, ~4 ms a call). The commands
that need the appliance's services (config apply, maintenance, settings export/import, storage
checks) are one small stdlib-only Python client, `ghe-labctl`, linked under each command's name:
it sends the command to the root-owned lab supervisor (labd) over DIR/run/labd.sock and relays
what comes back (stdout, stderr, exit code). The admin user cannot signal root's nginx or start
daemons; labd can, and it is the ONE apply engine the Manage API uses too.

Each script says which GHES document it imitates and what the lab chose where the documents are
silent (the same choices are listed in docs/lab.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from ghes_setup.lab.layout import READABLE, LabConfig, Layout

# Commands relayed to labd (name -> what they imitate, for `--help`).
LABD_COMMANDS = {
    "ghe-config-apply": "apply the configuration (command-line-utilities.md)",
    "ghe-maintenance": "query/set/unset maintenance mode (-q, -s, -u)",
    "ghe-export-settings": "print the settings as JSON (backup-utils ghe-backup-settings)",
    "ghe-import-settings": "read settings JSON on stdin (backup-utils ghe-restore-settings)",
    "ghe-packages-precheck": "check Packages blob storage before enabling Packages",
    "ghe-check-blob-connection": "check the configured Packages blob storage",
}

GHE_CONFIG = r"""#!/bin/bash
# ghe-config: the lab's stand-in for the appliance's ghe-config (docs/reference/ghes-facts.md §1.3).
#
# Settings live in git-config files, secrets.* keys in secrets.conf and the rest in github.conf,
# as backup-utils' test stub of ghe-config does. Forms (command-line-utilities.md, backup-utils):
#   ghe-config KEY            print the value. An UNSET key prints an empty line and exits 0
#                             (the real one may: a client must treat empty output as unset);
#                             with $LABDIR/state/ghe-config-unset holding `exit1`, it prints
#                             nothing and exits 1 instead (like git config). docs/lab.md.
#   ghe-config KEY VALUE      set
#   ghe-config --get KEY      same as ghe-config KEY (backup-utils bin/ghe-restore)
#   ghe-config --true KEY     exit 0 iff the value is "true" (backup-utils ghe-backup)
#   ghe-config --unset KEY    restore the default (configuring-tls-and-ssh-ciphers.md); lab choice:
#                             unsetting a key that is not set is not an error (exit 0)
#   ghe-config -l             list key=value, github.conf then secrets.conf. Lab choice (the
#                             documents are silent): secrets ARE listed, since the admin shell may
#                             read each of them anyway. Extra git-config flags pass through, so
#                             `ghe-config -l -z` gives NUL-separated entries (multi-line PEM).
#                             $LABDIR/state/ghe-config-list (`no-z`, `no-secrets`) imitates a
#                             captured appliance that lists otherwise (lab up --from-capture).
# Lab fault `ssh-drop`: after the first write of a session, the session's sshd is killed.
set -u
if [ -z "${LABDIR:-}" ]; then
  echo "ghe-config: LABDIR is not set (not in the lab's admin shell)" >&2
  exit 1
fi
conf=$LABDIR/data/github.conf
secrets=$LABDIR/data/secrets.conf
git=(git --no-pager config)

usage() {
  cat <<'EOF'
Usage: ghe-config KEY | ghe-config KEY VALUE | ghe-config --get KEY | ghe-config --true KEY
       ghe-config --unset KEY | ghe-config -l [-z]
Get or set the appliance's configuration (secrets.* keys are kept in secrets.conf).
Example: ghe-config core.github-hostname
EOF
}

file_for() { case $1 in secrets.*) printf '%s' "$secrets" ;; *) printf '%s' "$conf" ;; esac; }

drop_connection() {
  local flag=$LABDIR/faults/ssh-drop n pid
  [ -e "$flag" ] || return 0
  exec 9<"$LABDIR/faults/.lock" || return 0
  flock 9
  if ! n=$(cat "$flag" 2>/dev/null); then flock -u 9; exec 9<&-; return 0; fi
  if [ "${n:-1}" -gt 1 ] 2>/dev/null; then echo $((n - 1)) >"$flag"; else rm -f "$flag"; fi
  printf '%s ssh-drop after ghe-config %s\n' "$(date -u +%FT%TZ)" "$1" >>"$LABDIR/faults/fired.log"
  flock -u 9
  exec 9<&-
  # Walk up the parent chain to this session's sshd and cut the connection.
  pid=$$
  while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ] && kill -KILL "$pid" 2>/dev/null; then
      return 0
    fi
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  done
}

get() {
  "${git[@]}" -f "$(file_for "$1")" --get "$1"
  local rc=$?
  if [ $rc -eq 1 ] && [ "$(cat "$LABDIR/state/ghe-config-unset" 2>/dev/null)" != exit1 ]; then
    echo; return 0  # unset: an empty value
  fi
  return $rc
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -l | --list)
    shift
    # $LABDIR/state/ghe-config-list may imitate a captured appliance's listing (lab up
    # --from-capture): `no-z` refuses -z, `no-secrets` leaves secrets.conf out.
    style=" $(cat "$LABDIR/state/ghe-config-list" 2>/dev/null) "
    files=("$conf")
    case $style in *" no-secrets "*) ;; *) files+=("$secrets") ;; esac
    case $style in
      *" no-z "*)
        for a in "$@"; do
          if [ "$a" = -z ]; then echo "ghe-config: unknown option -z" >&2; usage >&2; exit 2; fi
        done ;;
    esac
    for f in "${files[@]}"; do
      if [ -e "$f" ]; then "${git[@]}" -f "$f" --list "$@" || exit $?; fi
    done
    exit 0 ;;
  --get)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    get "$2"; exit $? ;;
  --true)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    value=$("${git[@]}" -f "$(file_for "$2")" --get "$2") || exit 1
    [ "$value" = true ]; exit $? ;;
  --unset)
    [ $# -eq 2 ] || { usage >&2; exit 2; }
    "${git[@]}" -f "$(file_for "$2")" --unset-all "$2"
    rc=$?
    if [ $rc -eq 5 ]; then rc=0; fi
    exit $rc ;;
  -*) echo "ghe-config: unknown option $1" >&2; usage >&2; exit 2 ;;
  '') usage >&2; exit 2 ;;
esac
case $# in
  1) get "$1"; exit $? ;;
  2)
    "${git[@]}" -f "$(file_for "$1")" "$1" "$2" || exit $?
    drop_connection "$1"
    exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
"""

GHE_VERSION = r"""#!/bin/bash
# ghe-version: prints "GitHub Enterprise Server X.Y.Z PLATFORM DATE BUILD" like the real one
# (docs/reference/ghes-facts.md §1.5; backup-utils takes the field after "Server"). The platform is
# "lab".
case "${1:-}" in
  -h | --help)
    echo "Usage: ghe-version"
    echo "Print the appliance's version, platform and build."
    exit 0 ;;
esac
echo "GitHub Enterprise Server @VERSION@ lab @DATE@ @BUILD@"
"""

LABCTL = r'''#!/usr/bin/python3 -I
"""ghe-labctl: relays an admin-shell command to the lab supervisor (labd) and prints its answer.

Linked as ghe-config-apply, ghe-maintenance, ghe-export-settings, ghe-import-settings,
ghe-packages-precheck and ghe-check-blob-connection; the name says which command it is.
"""
import json
import os
import socket
import sys

name = os.path.basename(sys.argv[0])
labdir = os.environ.get("LABDIR")
if not labdir:
    sys.stderr.write(f"{name}: LABDIR is not set (not in the lab's admin shell)\n")
    sys.exit(1)
request = {"cmd": name, "args": sys.argv[1:]}
if name == "ghe-import-settings" and not any(a in ("-h", "--help") for a in sys.argv[1:]):
    request["stdin"] = sys.stdin.read()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    sock.connect(os.path.join(labdir, "run", "labd.sock"))
except OSError as exc:
    sys.stderr.write(f"{name}: the appliance's configuration service is not running ({exc})\n")
    sys.exit(1)
sock.sendall(json.dumps(request).encode() + b"\n")
code = 1
with sock.makefile("rb") as answers:
    for line in answers:
        msg = json.loads(line)
        if "exit" in msg:
            code = int(msg["exit"])
            break
        stream = sys.stdout if msg.get("stream") == "stdout" else sys.stderr
        stream.write(msg.get("data", ""))
        stream.flush()
sys.exit(code)
'''


def install(layout: Layout, config: LabConfig) -> None:
    """Write the admin shell's commands into DIR/ssh/bin (idempotent)."""
    bin_dir = layout.bin
    bin_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(bin_dir, READABLE)
    version = (
        GHE_VERSION.replace("@VERSION@", config.ghes_version)
        .replace("@DATE@", config.build_date)
        .replace("@BUILD@", config.build_id)
    )
    _write_exec(bin_dir / "ghe-config", GHE_CONFIG)
    _write_exec(bin_dir / "ghe-version", version)
    _write_exec(bin_dir / "ghe-labctl", LABCTL)
    for name in LABD_COMMANDS:
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("ghe-labctl")


def _write_exec(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, READABLE)
    os.replace(tmp, path)
