#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time on a scratch copy of its seed corpus.
#   run_fuzzer.sh FUZZER SEED_DIR[:SEED_DIR...] SECONDS MAX_LEN
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3 max_len=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
IFS=: read -ra dirs <<< "$seeds"
for dir in "${dirs[@]}"; do cp -r "$dir"/. "$work"/; done
"$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 -print_final_stats=1 "$work"
