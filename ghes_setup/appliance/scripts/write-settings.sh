# After prelude.sh. stdin: "set KEY LENGTH\n<value>\n" / "unset KEY\n" ..., then "end\n";
# later "commit\n". Journals the old values, writes, answers PREPARED, waits %WAIT% s for
# commit; anything else (a failed write, end of input, HUP/TERM/INT) restores the journal.
n=0; last=""
while IFS=' ' read -r op key len; do
  last=$op
  case "$op" in
    end) break ;;
    set)
      case "$len" in ''|*[!0-9]*) echo "ERR protocol"; exit 93 ;; esac
      IFS= read -r -d '' -N "$len" val || [ "$len" = 0 ] || break
      read -r _ || break
      OP[n]="set"; KEY[n]=$key; VAL[n]=$val; n=$((n+1)) ;;
    unset) OP[n]="unset"; KEY[n]=$key; VAL[n]=""; n=$((n+1)) ;;
    *) echo "ERR protocol"; exit 93 ;;
  esac
done
[ "$last" = end ] || { echo "ERR truncated-input"; exit 94; }
: > "$J.new" || { echo "ERR journal-write"; exit 95; }
for ((i=0; i<n; i++)); do
  getkey "${KEY[i]}"
  case "$rc" in
    0) printf 'set %s %s\n%s\n' "${KEY[i]}" "${#out}" "$out" >> "$J.new" ;;
    1) printf 'unset %s\n' "${KEY[i]}" >> "$J.new" ;;
    *) rm -f "$J.new"; echo "ERR read ${KEY[i]} $rc"; exit 96 ;;
  esac
done
sync "$J.new" 2>/dev/null || sync
mv -f "$J.new" "$J" || { echo "ERR journal-write"; exit 95; }
trap 'restore; exit 97' HUP TERM INT
for ((i=0; i<n; i++)); do
  k=${KEY[i]}
  if [ "${OP[i]}" = set ]; then
    if ! ghe-config "$k" "${VAL[i]}" >/dev/null 2>"$st/error"; then
      IFS= read -r -d '' err < "$st/error"; rm -f "$st/error"
      restore
      printf 'FAIL %s %s\n%s\n' "$k" "${#err}" "$err"; exit 1
    fi
  else
    ghe-config --unset "$k" >/dev/null 2>&1 || ! ghe-config "$k" >/dev/null 2>&1 \
      || { restore; printf 'FAIL %s 0\n\n' "$k"; exit 1; }
  fi
done
rm -f "$st/error"
echo PREPARED
if IFS= read -r -t "%WAIT%" answer && [ "$answer" = commit ]; then
  rm -f "$J"; echo COMMITTED; exit 0
fi
restore; echo ROLLEDBACK; exit 3
