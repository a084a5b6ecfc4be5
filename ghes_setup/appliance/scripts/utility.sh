# stdin: a count line, that many base64 argv lines, then the utility's own input. Runs the
# utility with exactly those arguments (never through a shell parser).
set -u
IFS= read -r n || exit 93
args=()
for ((i=0; i<n; i++)); do
  IFS= read -r a || exit 93
  args+=("$(printf '%s' "$a" | base64 -d; printf x)")
  args[i]=${args[i]%x}
done
exec "${args[@]}"
