# args: run_id or "" (the latest run), offset or "-". Prints the status line (DONE id rc,
# RUNNING id, LOST id, UNKNOWN), then "LOG size base64-of-the-log-from-offset".
set -u
runs="${HOME:-/tmp}/.ghes-setup/runs"
# shellcheck disable=SC2012  # run ids are our own [a-z0-9-] names (check_run_id)
if [ -n "$1" ]; then R="$runs/$1"
else R=$(ls -1t "$runs"/*/pid 2>/dev/null | head -n 1); R=${R%/pid}; fi
# shellcheck disable=SC2015  # either test failing means: no such run
[ -n "$R" ] && [ -d "$R" ] || { echo "UNKNOWN"; exit 0; }
id=$(basename "$R")
if [ -f "$R/rc" ]; then echo "DONE $id $(cat "$R/rc")"
elif kill -0 "$(cat "$R/pid" 2>/dev/null)" 2>/dev/null; then echo "RUNNING $id"
else echo "LOST $id"; fi
size=$(stat -c %s "$R/log" 2>/dev/null || echo 0)
[ "$2" = - ] && { echo "LOG $size"; exit 0; }
off=$2; [ "$off" -le "$size" ] || off=0
echo "LOG $size $(tail -c +$((off + 1)) "$R/log" 2>/dev/null | head -c $((size - off)) \
  | base64 -w0)"
