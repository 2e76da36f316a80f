#!/usr/bin/env bash
# Installs everything squatstream needs to build, test and run, from Debian 12's archive and the npm
# registry. Idempotent: packages already present are skipped by apt, and npm ci is re-run only when the
# lock file changed. Run as root (or with sudo available).
#   --build-only   skip the npm packages (only the Node end-to-end test needs them)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates clang-format
  # gRPC, protobuf, Abseil, metrics, async I/O
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev libasio-dev
  # domain names: IDNA2008 / UTS#46, punycode, public suffixes, Unicode confusables (UTS#39) and scripts
  libidn2-dev libidn-dev libpsl-dev publicsuffix libicu-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # benchmarks: the reference queue and the plots; dnstwist, the permutation engine squatstream is compared with
  libconcurrentqueue-dev gnuplot-nox dnstwist
  # the libFuzzer target over the parser and the engine
  clang libclang-rt-14-dev
  # the Node end-to-end client (grpc-js + reflection) and the deploy/ checks
  nodejs python3 python3-yaml prometheus
)

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: Debian's nodejs does not ship it; NodeSource's does. Install Debian's npm only when absent.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# kubectl (for `kubectl kustomize`): Debian's kubernetes-client unless a kubectl is already installed.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--build-only" ]; then echo "install-deps: ok (build only)"; exit 0; fi

# Node packages of the tests (pinned by their package-lock.json files).
for node_dir in tests/e2e/node tests/deploy/node; do
  stamp="$node_dir/node_modules/.squatstream-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$node_dir/package-lock.json" "$stamp"; then
    echo "install-deps: npm ci in $node_dir"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$node_dir/package-lock.json" "$stamp"
  fi
done
echo "install-deps: ok"
