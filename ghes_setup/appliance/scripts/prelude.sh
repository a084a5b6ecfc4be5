# Shared by every script that reads or changes settings (ssh.py puts it first): take the lock,
# then put back a journal left by a write script that was killed before it could clean up. The
# journal holds "set KEY LENGTH\n<old value>\n" or "unset KEY\n" per key, written before any
# change. Values are length-framed and read with bash builtins (LC_ALL=C: a length is bytes).
set -u
export LC_ALL=C
trap '' PIPE
umask 077
st="${HOME:-/tmp}/.ghes-setup"
mkdir -p "$st" || { echo "ERR state-dir"; exit 90; }
command -v flock >/dev/null || { echo "ERR no-flock"; exit 89; }
exec 9>>"$st/lock"
flock -w 60 9 || { echo "ERR lock"; exit 91; }
J="$st/journal"
restore() {
  [ -f "$J" ] || return 0
  bad=0
  while IFS=' ' read -r op key len; do
    case "$op" in
      set)
        IFS= read -r -d '' -N "$len" v; read -r _
        ghe-config "$key" "$v" >/dev/null 2>&1 || bad=1 ;;
      unset)
        ghe-config --unset "$key" >/dev/null 2>&1 || ! ghe-config "$key" >/dev/null 2>&1 \
          || bad=1 ;;
    esac
  done < "$J"
  [ "$bad" -eq 0 ] && rm -f "$J"
  return "$bad"
}
restore || { echo "ERR journal-restore"; exit 92; }
fetchkey() {  # $1 key, $2 slot: ghe-config's output and exit code in files of that slot
  ghe-config "$1" > "$st/value.$2" 2>/dev/null
  echo $? > "$st/rc.$2"
}
loadkey() {  # sets $rc (0 set, 1 unset, other: error) and $out (the value, exactly) of slot $1
  IFS= read -r rc < "$st/rc.$1" || rc=99
  out=""
  IFS= read -r -d '' out < "$st/value.$1"
  rm -f "$st/value.$1" "$st/rc.$1"
  out=${out%$'\n'}
  # An unset key may print an empty value with exit 0: unset, in reads and in the journal
  # (so that a roll-back unsets it again instead of setting it to "").
  if [ "$rc" -eq 0 ] && [ -z "$out" ]; then rc=1; fi
}
getkey() { fetchkey "$1" 0; loadkey 0; }
