#!/bin/bash
# Compares Google Benchmark binaries built from different trees on this noisy VM: runs them in turn, ROUNDS
# times, and prints each benchmark's best (lowest) CPU time per build, in the benchmark's time unit.
#
# usage: bench/compare_builds.sh FILTER ROUNDS NAME=BINARY [NAME=BINARY ...]
# e.g.:  git worktree add /tmp/before 69a83e2 && (cd /tmp/before && cmake --preset dev &&
#          cmake --build --preset dev --target permute_bench)
#        bench/compare_builds.sh '/all$' 6 before=/tmp/before/build/dev/bench/permute_bench \
#          after=build/dev/bench/permute_bench
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,9p' "$0"
  exit 2
fi
filter="$1" rounds="$2"
shift 2
for _ in $(seq "$rounds"); do
  for pair in "$@"; do
    "${pair#*=}" --benchmark_filter="$filter" --benchmark_min_time=0.2 --benchmark_format=csv 2>/dev/null |
      grep '^"BM' | awk -F, -v build="${pair%%=*}" '{ gsub(/"/, "", $1); print $1, build, $4, $5 }'
  done
done | sort -k1,1 -k2,2 -k3,3g | awk '!seen[$1 " " $2]++ { printf "%-60s %-10s %10.3f %s\n", $1, $2, $3, $4 }'
