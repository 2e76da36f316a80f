#!/bin/sh
# Renders a kustomization folder to stdout, as `kubectl kustomize DIR` does: with the pinned kustomize that
# scripts/install-deps.sh puts in .tools/bin when the machine's kubectl cannot render components (Debian 12's
# kubectl 1.20), else with kubectl. The deploy checks render every overlay through it.
#   tests/deploy/kustomize.sh DIR
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -x "$root/.tools/bin/kustomize" ]; then
  exec "$root/.tools/bin/kustomize" build "$1"
fi
exec kubectl kustomize "$1"
