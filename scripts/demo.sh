#!/usr/bin/env bash
# The main job on built-in defaults: install dependencies, build, start squatstreamd on loopback with the
# stub enrichers, stream DOMAIN (default example.com) through the squatstream client, print the records
# and a summary, and stop the server. Extra arguments go to the client (e.g. --format=csv).
set -euo pipefail
cd "$(dirname "$0")/.."
domain="${1:-example.com}"
shift || true
scripts/install-deps.sh --build-only >&2
cmake --preset dev >&2
cmake --build --preset dev >&2

log=$(mktemp)
build/dev/daemon/squatstreamd --grpc_address=127.0.0.1:0 --metrics_address=127.0.0.1:0 2>"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 200); do  # up to 20 s for the server to report its port
  port=$(sed -n 's/.*serving gRPC on port \([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: squatstreamd did not start" >&2; cat "$log" >&2; exit 1; }
echo "demo: squatstreamd on 127.0.0.1:$port (stub enrichers); streaming $domain" >&2
build/dev/client/squatstream --server="127.0.0.1:$port" "$@" "$domain"
