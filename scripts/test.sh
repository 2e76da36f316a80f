#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, check formatting, build and test with
# warnings as errors (ci preset), again under AddressSanitizer + UBSan (asan preset), the fan-in buffers
# alone under ThreadSanitizer (tsan preset: no gRPC or compiled Abseil, whose uninstrumented builds make
# TSan report noise), and the parser and permutation engine under libFuzzer for two minutes (fuzz preset,
# clang).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-format.sh
for preset in ci asan tsan fuzz; do
  echo "== $preset: configure, build, test"
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset"
done
echo "test: all passed"
