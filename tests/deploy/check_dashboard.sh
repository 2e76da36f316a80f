#!/usr/bin/env bash
# Validates the Grafana dashboard against Grafana's published schema, and checks that a broken copy fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dashboard="$here/../../deploy/grafana/dashboards/squatstream-throughput.json"
node "$here/node/validate_dashboard.mjs" "$dashboard"
# Every query follows the namespace and job variables (dev and prod never mix on one graph).
/usr/bin/python3 - "$dashboard" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = {v["name"] for v in d["templating"]["list"]}
if not {"namespace", "job"} <= names:
    sys.exit(f"check_dashboard: variables {sorted(names)} lack namespace or job")
loose = [f'{p["title"]}: {t["expr"]}' for p in d["panels"] for t in p.get("targets", [])
         if "$namespace" not in t["expr"] or "$job" not in t["expr"]]
if loose:
    sys.exit("check_dashboard: queries ignoring $namespace or $job:\n  " + "\n  ".join(loose))
print(f"check_dashboard: every query of the {len(d['panels'])} panels uses $namespace and $job")
PY
broken="$(mktemp --suffix=.json)"
trap 'rm -f "$broken"' EXIT
/usr/bin/python3 - "$dashboard" "$broken" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["panels"][0]["gridPos"]["h"] = "tall"   # must be a number
json.dump(d, open(sys.argv[2], "w"))
PY
if node "$here/node/validate_dashboard.mjs" "$broken" 2>/dev/null; then
  echo "check_dashboard: a broken dashboard was accepted" >&2
  exit 1
fi
echo "check_dashboard: broken copy rejected"
