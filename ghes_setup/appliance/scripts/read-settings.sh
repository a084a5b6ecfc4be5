# After prelude.sh. args: [identify 0|1] keys...   Prints records "TAG ARG... LENGTH\n" +
# LENGTH bytes + "\n", then END: V (ghe-version), R (replica state), C (cluster),
# "K key rc" (a value). %REPL% and %CLUSTER% are filled in by ssh.py.
record() { printf '%s %s\n%s\n' "$1" "${#2}" "$2"; }
if [ "$1" = 1 ]; then
  record V "$(ghe-version 2>&1)"
  record R "$(cat %REPL% 2>/dev/null)"
  if [ -e %CLUSTER% ]; then record C 1; else record C 0; fi
fi
shift
# Reads only: every ghe-config at once (one slot each), then the records in order.
i=0
for k in "$@"; do fetchkey "$k" "$i" & i=$((i + 1)); done
wait
i=0
for k in "$@"; do loadkey "$i"; record "K $k $rc" "$out"; i=$((i + 1)); done
echo END
