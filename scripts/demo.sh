#!/usr/bin/env bash
# The main job: install what building and running needs, build squatstreamd and the client (no tests),
# start squatstreamd on loopback, stream DOMAIN (default example.com) through the squatstream client,
# print the records and a summary, and stop the server. Extra arguments go to the client (e.g. --format=csv).
#
# Two lookups through the system resolver first. Where they work, DNS, geo and registration data are real
# — DNS paced to what the resolver takes (adaptive, from 100 queries/s up), geo from the DB-IP Lite databases
# the install script put in /var/lib/squatstream/geo, registration data from the registries' RDAP servers (or WHOIS) at up to
# 4 requests/s per registry for this one run — and the client asks for registered look-alikes of the first
# 1,000 candidates; where they do not (no network, or a resolver that answers nothing), every stage is
# simulated and the demo says so. With working DNS the banner stage is real too: it dials the look-alikes'
# own web, mail and SSH servers (ports 80, 443, 25, 22; public addresses only, the SSRF guard's default).
set -euo pipefail
cd "$(dirname "$0")/.."
domain="${1:-example.com}"
shift || true
scripts/install-deps.sh --build-only >&2
cmake --preset dev -DSQUATSTREAM_BUILD_TESTS=OFF >&2  # the test and benchmark packages are not installed
cmake --build --preset dev >&2

if timeout 3 getent ahosts example.com >/dev/null 2>&1 && timeout 3 getent ahosts iana.org >/dev/null 2>&1; then
  server_flags=(--registration_rate_limit=4 --registration_max_per_server=4 --registration_deadline=60s)
  client_flags=(--registered --max_candidates=1000 --deadline=10m)
  echo "demo: the system resolver answers: DNS, geo, registration and banner lookups are real (DNS paced to what" \
    "the resolver takes, registries 4 requests/s each); only registered look-alikes among the first 1,000 candidates" \
    "are printed" >&2
else
  server_flags=(--stub_enrichers=all)
  client_flags=()
  echo "demo: the system resolver does not resolve example.com or iana.org (no network?): every stage is" \
    "simulated (stub enrichers; values marked *)" >&2
fi

log=$(mktemp)
store=$(mktemp -d)  # the demo's watches live in a throw-away SQLite file, not the machine's /var/lib/squatstream
build/dev/daemon/squatstreamd --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 \
  --store="sqlite:$store/squatstream.db" "${server_flags[@]}" 2>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$log" "$store"' EXIT
port=""
for _ in $(seq 1 200); do  # up to 20 s for the server to report its port
  port=$(sed -n 's/.*serving gRPC on port \([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: squatstreamd did not start" >&2; cat "$log" >&2; exit 1; }
echo "demo: squatstreamd on 127.0.0.1:$port; streaming $domain" >&2
build/dev/client/squatstream --server="127.0.0.1:$port" "${client_flags[@]}" "$@" "$domain"
