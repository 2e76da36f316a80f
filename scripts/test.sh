#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, check formatting, build and test with
# warnings as errors (ci preset), again under AddressSanitizer + UBSan (asan preset), what links no gRPC —
# the fan-in buffers, the pipeline and the stages, DNS included — under ThreadSanitizer (tsan preset:
# Debian's uninstrumented gRPC would drown it in reports), the domain parser, the permutation engine and the
# DNS response parser under libFuzzer (fuzz preset, clang); then the whole tree with clang's
# -Wthread-safety -Werror (clang preset: the lock annotations checked) and clang-tidy over every folder
# (scripts/clang-tidy.sh, on that build's compile database).
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
echo "== clang: -Wthread-safety -Werror, then clang-tidy"
cmake --preset clang
cmake --build --preset clang
scripts/clang-tidy.sh
echo "test: all passed"
