# After prelude.sh. args: run_id. Starts ghe-config-apply detached (setsid), its output and
# exit code under runs/<run_id>/, so a dropped connection does not stop the run.
runs="$st/runs"; R="$runs/$1"
mkdir -p "$runs"
for d in "$runs"/*/; do
  [ -d "$d" ] || continue
  [ -f "$d/rc" ] && continue
  pid=$(cat "$d/pid" 2>/dev/null) || continue
  kill -0 "$pid" 2>/dev/null && { echo "BUSY $(basename "$d")"; exit 2; }
done
mkdir "$R" || { echo "ERR run-exists"; exit 95; }
: > "$R/log"
# shellcheck disable=SC2016  # expanded by the inner bash, from its own $1
setsid nohup bash -c \
  'ghe-config-apply >>"$1/log" 2>&1; echo $? > "$1/rc.tmp"; mv "$1/rc.tmp" "$1/rc"' \
  ghes-setup-apply "$R" </dev/null >/dev/null 2>&1 9>&- &
echo $! > "$R/pid"
# shellcheck disable=SC2012  # run ids are our own [a-z0-9-] names (check_run_id)
ls -1td "$runs"/*/ | tail -n +21 | xargs -r rm -rf
echo "STARTED $1"
