#!/usr/bin/env bash
# clang-tidy (.clang-tidy: every finding an error) over every translation unit of our folders, as the test
# command runs it; exits non-zero when any finding is reported, and ends with a one-line summary.
#   scripts/clang-tidy.sh [REGEX...]   check only the units whose path (relative to the repository) one
#                                      REGEX (Python's re.search) matches, e.g. '^permute/' '^tests/client/'
#
# It reads the clang preset's compile database, so configure and build that preset first:
#   cmake --preset clang && cmake --build --preset clang
# (the build generates the protobuf headers and other generated sources the units include). The units are
# those of the database whose path lies in one of our folders; the generated code (under build/, *.pb.cc)
# is not checked. Headers are checked through the units that include them (HeaderFilterRegex in
# .clang-tidy). Runs two clang-tidy processes at a time: a full run (80 units) takes about seven minutes on
# two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
db=build/clang/compile_commands.json
folders='base|permute|workers|fanin|pipeline|store|watch|access|service|daemon|client|bench|tests'

if [ ! -f "$db" ]; then
  echo "clang-tidy: $db is missing: run 'cmake --preset clang && cmake --build --preset clang' first" >&2
  exit 2
fi
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$tidy" ] || ! command -v run-clang-tidy >/dev/null 2>&1; then
  echo "clang-tidy: clang-tidy and run-clang-tidy are missing: install Debian's clang-tidy" \
    "(scripts/install-deps.sh)" >&2
  exit 2
fi

# The units: the database's files in our folders (and matching a REGEX when given), each passed to
# run-clang-tidy as an anchored, escaped regex of its absolute path.
mapfile -t units < <(python3 - "$root" "$db" "$folders" "$@" <<'EOF'
import json, os, re, sys
root, db, folders, filters = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
ours = re.compile(r'^(%s)/' % folders)
paths = set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry['directory'], entry['file']))
    rel = os.path.relpath(path, root)
    if not ours.match(rel) or rel.endswith('.pb.cc'):
        continue
    if filters and not any(re.search(f, rel) for f in filters):
        continue
    paths.add(path)
for path in sorted(paths):
    print('^%s$' % re.escape(path))
EOF
)
if [ ${#units[@]} -eq 0 ]; then
  echo "clang-tidy: no translation unit of $db matches ${*:-our folders}" >&2
  exit 2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# run-clang-tidy (14) always asks for colours: stripped, so that the log reads plainly and greps.
run-clang-tidy -clang-tidy-binary "$tidy" -p build/clang -quiet -j 2 "${units[@]}" 2>&1 |
  sed -u 's/\x1b\[[0-9;]*m//g' | tee "$log" || status=$?
# run-clang-tidy fails when a clang-tidy process did (WarningsAsErrors: a finding fails it); the diagnostics
# are counted too, so that a finding fails this script even where the exit status would not say so.
# A header's finding is reported by every unit that includes it: each is counted once.
diagnostics=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$log" | sort -u || true)
findings=$(grep -c . <<<"$diagnostics" || true)
files=$(cut -d: -f1 <<<"$diagnostics" | sort -u | grep -c . || true)
if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
  echo "clang-tidy: FAILED: $findings findings in $files files over ${#units[@]} translation units" \
    "(run-clang-tidy exit status $status)" >&2
  exit 1
fi
echo "clang-tidy: ok (${#units[@]} translation units, no findings)"
