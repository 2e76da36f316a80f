#!/usr/bin/env bash
# Renders every kustomize overlay with kubectl, validates the objects offline against the Kubernetes and
# prometheus-operator schemas, checks them against squatstreamd's real flags and ports, and makes sure a
# deliberately broken manifest is rejected.
# usage: tests/deploy/check_k8s.sh path/to/squatstreamd
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
squatstreamd="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for overlay in "$root"/deploy/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" 2>"$tmp/$name.warnings" >"$tmp/$name.yaml"
  node "$here/node/validate_k8s.mjs" "$tmp/$name.yaml"
  /usr/bin/python3 "$here/check_manifests.py" "$squatstreamd" "$tmp/$name.yaml"
done
# A broken manifest (a port as a string) must be rejected by the schema check ...
sed 's/containerPort: 50051/containerPort: "grpc-port"/' "$tmp/prod.yaml" >"$tmp/broken.yaml"
if node "$here/node/validate_k8s.mjs" "$tmp/broken.yaml" 2>/dev/null; then
  echo "check_k8s: a containerPort given as a string was accepted" >&2
  exit 1
fi
# ... and a probe on the wrong port by the consistency check.
sed 's/port: 50051$/port: 50052/' "$tmp/prod.yaml" >"$tmp/wrong-port.yaml"
if /usr/bin/python3 "$here/check_manifests.py" "$squatstreamd" "$tmp/wrong-port.yaml" 2>/dev/null; then
  echo "check_k8s: a probe on the wrong port was accepted" >&2
  exit 1
fi
echo "check_k8s: overlays $(ls "$root/deploy/k8s/overlays" | tr '\n' ' ')valid; broken manifests rejected"
