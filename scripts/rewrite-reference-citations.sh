#!/usr/bin/env bash
# Rewrites citations of documents that are not in the repository into citations of
# docs/reference/ (docs/reference/README.md says how to cite). Mechanical and idempotent:
# the section numbers of docs/reference/ are those of the documents they replace, so only the
# name in front of the section sign changes; a second run finds nothing to do.
#
#   the GHES facts notes, section N.N       -> docs/reference/ghes-facts.md §N.N
#   the lab trial notes, section N          -> docs/reference/lab-findings.md §N
#   the lab trial notes, "Simulated latency"-> docs/reference/lab-findings.md §7
#   the design document, section N          -> docs/reference/architecture.md §N
#   the house style, items 1 and 6          -> docs/reference/architecture.md §3 and §6
#   the peers survey, Nagios conventions    -> docs/exit-codes.md
#
# Runs over the files git tracks (text only), then re-wraps the Python comment and docstring
# lines that became too long (scripts/wrap-cited-lines.py). Usage:
#   scripts/rewrite-reference-citations.sh
# tests/unit/test_reference_citations.py fails while an old citation is left.
# (Each pattern has a bracket where this file's own text differs, so that the script never
# matches, and rewrites, itself.)
set -euo pipefail
cd "$(dirname "$0")/.."

# A name that is not itself the tail of a path or of a longer name (e.g. lab-findings.md).
edge='(^|[^/[:alnum:]_.-])'
sed_program=(
  -e 's#shared[/]reference/ghes-facts[.]md#docs/reference/ghes-facts.md#g'
  -e 's#ghes-facts[ ]§#docs/reference/ghes-facts.md §#g'
  -e 's#lab[-]notes "Simulated latency"#docs/reference/lab-findings.md §7#g'
  -e 's#lab[-]notes[ ]§#docs/reference/lab-findings.md §#g'
  -e "s#${edge}design[.]md[ ]§#\\1docs/reference/architecture.md §#g"
  -e 's#the project[^ ]s GHES facts,[ ]§7#docs/reference/ghes-facts.md §7#g'
  -e "s#${edge}style[.]md[ ]§1([^0-9]|\$)#\\1docs/reference/architecture.md §3\\2#g"
  -e "s#${edge}style[.]md[ ]§6([^0-9]|\$)#\\1docs/reference/architecture.md §6\\2#g"
  -e 's#peers[.]md[ ]§D1#docs/exit-codes.md#g'
)
wanted="shared[/]reference/ghes-facts|ghes-facts[ ]§|lab[-]notes|${edge}design[.]md[ ]§"
wanted+="|the project[^ ]s GHES facts,[ ]§7|${edge}(style|peers)[.]md"

files=()
while IFS= read -r -d '' path; do
  files+=("$path")
done < <(git grep -lzIE "$wanted" -- . || true)

if ((${#files[@]} == 0)); then
  echo "reference citations: nothing to rewrite"
  exit 0
fi
sed -i -E "${sed_program[@]}" -- "${files[@]}"
echo "reference citations: rewrote ${#files[@]} files"
printf '  %s\n' "${files[@]}"
status=0
# The new form is longer: re-wrap the comment and docstring lines it pushed past ruff's limit.
python3 scripts/wrap-cited-lines.py "${files[@]}" || status=1
left=$(git grep -nIE "$wanted" -- . || true)
if [ -n "$left" ]; then
  echo "left for a human (no mechanical rewrite):" >&2
  echo "$left" >&2
  status=1
fi
exit "$status"
