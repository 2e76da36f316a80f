#!/usr/bin/env bash
# Renders every kustomize overlay with kubectl, validates the objects offline against the Kubernetes and
# prometheus-operator schemas, checks them against squatstreamd's real flags and ports and against the
# operating rules of check_manifests.py, renders the opt-in HPA component on prod (and on dev, where its
# target is unreachable: rejected), runs the prometheus-adapter rule's query through promtool, and makes sure
# deliberately broken manifests are rejected.
# usage: tests/deploy/check_k8s.sh path/to/squatstreamd
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
squatstreamd="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
for overlay in "$root"/deploy/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  "$here/kustomize.sh" "$overlay" 2>"$tmp/$name.warnings" >"$tmp/$name.yaml"
  node "$here/node/validate_k8s.mjs" "$tmp/$name.yaml"
  $py "$here/check_manifests.py" "$squatstreamd" "$tmp/$name.yaml"
done
grep -q -- '--reflection=false' "$tmp/prod.yaml" || { echo "check_k8s: prod serves reflection" >&2; exit 1; }
# The stores the overlays promise (docs/DEPLOY.md, "Picking a store"): dev SQLite on a volume claim with one pod;
# prod PostgreSQL, its DSN from the Secret squatstream-store (key dsn, not in the repository), several pods.
$py - "$tmp/prod.yaml" "$tmp/dev.yaml" <<'PY' || exit 1
import sys, yaml
def load(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by = {d["kind"]: d for d in reversed(docs)}  # the first of each kind ...
    by["Deployment"] = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "squatstream")
    pod = by["Deployment"]["spec"]["template"]["spec"]
    return by, pod, pod["containers"][0]["args"], {v["name"]: v for v in pod.get("volumes", [])}
prod, prod_pod, prod_args, prod_volumes = load(sys.argv[1])
dev, dev_pod, dev_args, dev_volumes = load(sys.argv[2])
faults = []
store_volumes = [m["name"] for m in prod_pod["containers"][0].get("volumeMounts", []) if m["mountPath"] == "/etc/squatstream/store"]
if "--store_file=/etc/squatstream/store/dsn" not in prod_args or len(store_volumes) != 1 or \
        prod_volumes.get(store_volumes[0], {}).get("secret", {}).get("secretName") != "squatstream-store":
    faults.append(f"prod: the store is not --store_file from the Secret squatstream-store ({prod_args}, {prod_volumes})")
if "Secret" in prod:
    faults.append("prod: a Secret is in the manifests (the DSN's password belongs to the operator, not the repository)")
if prod["HorizontalPodAutoscaler"]["spec"].get("minReplicas", 1) < 2:
    faults.append("prod: fewer than two replicas")
if "--store=sqlite:/var/lib/squatstream/store/squatstream.db" not in dev_args or \
        [v.get("persistentVolumeClaim", {}).get("claimName") for v in dev_volumes.values()] != [dev["PersistentVolumeClaim"]["metadata"]["name"]]:
    faults.append(f"dev: the store is not SQLite on the overlay's PersistentVolumeClaim ({dev_args}, {dev_volumes})")
if dev["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] != 1:
    faults.append("dev: more than one replica")
if faults:
    sys.exit("check_k8s:\n  " + "\n  ".join(faults))
print("check_k8s: dev keeps SQLite on its volume claim with one pod; prod reads the PostgreSQL DSN from the Secret "
      "squatstream-store with at least " + str(prod["HorizontalPodAutoscaler"]["spec"]["minReplicas"]) + " pods")
PY
# The rules are loaded once: prod's PrometheusRule carries them, dev's none (its rules would run twice).
$py - "$tmp/prod.yaml" "$tmp/dev.yaml" <<'PY' || exit 1
import sys, yaml
def groups(path):
    rules = [d for d in yaml.safe_load_all(open(path)) if d and d.get("kind") == "PrometheusRule"]
    return [len(r.get("spec", {}).get("groups") or []) for r in rules]
prod, dev = groups(sys.argv[1]), groups(sys.argv[2])
if len(prod) != 1 or prod[0] == 0 or any(dev):
    sys.exit(f"check_k8s: prod must carry the rules in one PrometheusRule and dev none (prod: {prod} groups, dev: {dev})")
PY

# The streams-metric component needs kustomize >= v3.7 (kubectl >= 1.21 says which kustomize it embeds;
# Debian 12's kubectl 1.20 does not, and cannot render components).
if [ -x "$root/.tools/bin/kustomize" ] || kubectl version --client 2>/dev/null | grep -q '^Kustomize Version: v[3-9]'; then
  "$here/kustomize.sh" "$here/fixtures/prod-active-streams" 2>/dev/null >"$tmp/prod-active-streams.yaml"
  grep -q 'name: squatstream_active_streams' "$tmp/prod-active-streams.yaml"
  node "$here/node/validate_k8s.mjs" "$tmp/prod-active-streams.yaml"
  $py "$here/check_manifests.py" "$squatstreamd" "$tmp/prod-active-streams.yaml"
  # prod with cert-manager issuing its TLS Secret (deploy/k8s/components/cert-manager): the Certificate names the
  # Secret the pods mount; the validator knows no cert-manager kinds, so it checks the rest.
  "$here/kustomize.sh" "$here/fixtures/prod-tls" 2>/dev/null >"$tmp/prod-tls.yaml"
  $py - "$tmp/prod-tls.yaml" "$tmp/prod-tls-core.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
certs = [d for d in docs if d["kind"] == "Certificate"]
dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "squatstream")
mounted = {v["secret"]["secretName"] for v in dep["spec"]["template"]["spec"]["volumes"] if "secret" in v}
if len(certs) != 1 or certs[0]["spec"]["secretName"] not in mounted:
    sys.exit(f"check_k8s: prod-tls: want one Certificate whose Secret the pods mount ({mounted})")
yaml.safe_dump_all([d for d in docs if d["kind"] != "Certificate"], open(sys.argv[2], "w"))
PY
  node "$here/node/validate_k8s.mjs" "$tmp/prod-tls-core.yaml"
  $py "$here/check_manifests.py" "$squatstreamd" "$tmp/prod-tls.yaml"
  "$here/kustomize.sh" "$here/fixtures/dev-active-streams" 2>/dev/null >"$tmp/dev-active-streams.yaml"
  if $py "$here/check_manifests.py" "$squatstreamd" "$tmp/dev-active-streams.yaml" 2>"$tmp/dev-active-streams.err" \
     || ! grep -q 'can never be reached' "$tmp/dev-active-streams.err"; then
    echo "check_k8s: dev with a streams target above its stream limit was not rejected as unreachable" >&2
    exit 1
  fi
else
  echo "check_k8s: this kubectl's kustomize cannot render components: deploy/k8s/components not checked"
fi
# The prometheus-adapter rule serves the metric the component's HPA asks for, and its query, as the adapter
# expands it for the pods of a namespace, gives each pod's own value.
$py - "$root/deploy/k8s/components/hpa-active-streams" "$root/service/metrics.cc" "$tmp" <<'PY'
import os, subprocess, sys, yaml
component, metrics_cc, tmp = sys.argv[1:]
rule = yaml.safe_load(open(os.path.join(component, "prometheus-adapter-rules.yaml")))["rules"][0]
patch = yaml.safe_load(open(os.path.join(component, "hpa-patch.yaml")))
metric = patch[0]["value"]["pods"]["metric"]["name"]
if rule["name"]["as"] != metric or metric not in rule["seriesQuery"]:
    sys.exit(f"check_k8s: the adapter rule serves {rule['name']['as']!r}, the HPA asks for {metric!r}")
if f'"{metric}"' not in open(metrics_cc).read():
    sys.exit(f"check_k8s: squatstreamd exports no {metric} (service/metrics.cc)")
query = (rule["metricsQuery"].replace("<<.Series>>", metric)
         .replace("<<.LabelMatchers>>", 'namespace="squatstream",pod=~"squatstream-a|squatstream-b"')
         .replace("<<.GroupBy>>", "pod"))
test = {"tests": [{"interval": "15s", "input_series": [
    {"series": f'{metric}{{namespace="squatstream",job="squatstream",pod="squatstream-a",instance="10.0.0.1:9464"}}', "values": "12x10"},
    {"series": f'{metric}{{namespace="squatstream",job="squatstream",pod="squatstream-b",instance="10.0.0.2:9464"}}', "values": "30x10"},
    {"series": f'{metric}{{namespace="squatstream-dev",job="squatstream",pod="squatstream-a",instance="10.0.1.1:9464"}}', "values": "99x10"}],
    "promql_expr_test": [{"expr": query, "eval_time": "1m", "exp_samples": [
        {"labels": '{pod="squatstream-a"}', "value": 12}, {"labels": '{pod="squatstream-b"}', "value": 30}]}]}]}
path = os.path.join(tmp, "adapter.test.yml")
yaml.safe_dump(test, open(path, "w"))
r = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"check_k8s: the adapter's query {query} does not give each pod's streams:\n{r.stdout}{r.stderr}")
print(f"check_k8s: prometheus-adapter rule serves {metric}; its query gives each pod's value")
PY

# Broken manifests must be rejected. A port as a string, by the schema check ...
sed 's/containerPort: 50051/containerPort: "grpc-port"/' "$tmp/prod.yaml" >"$tmp/broken.yaml"
if node "$here/node/validate_k8s.mjs" "$tmp/broken.yaml" 2>/dev/null; then
  echo "check_k8s: a containerPort given as a string was accepted" >&2
  exit 1
fi
# ... and by the consistency and operating checks: a probe on the wrong port (the TLS gRPC port instead of the
# plaintext health port), TLS without a health port, `replicas` beside the HPA, a
# NetworkPolicy rule without a source, a memory limit below the budget's need, a sleep command as preStop, a
# connection-age grace shorter than the drain, a flag set in both the args and the ConfigMap.
sed 's/port: 8081$/port: 50051/' "$tmp/prod.yaml" >"$tmp/wrong-port.yaml"
mutate() {  # mutate NAME PYTHON-STATEMENTS [OVERLAY] (on `objs`, the rendered objects by kind; prod by default)
  $py - "$tmp/${3:-prod}.yaml" "$tmp/$1.yaml" "$2" <<'PY'
import sys, yaml
objs = {}
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    objs.setdefault(d["kind"], d)  # the first of each kind (squatstream's own sort before squatstream-redis's) ...
objs["Deployment"] = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "squatstream")
dep = objs["Deployment"]; pod = dep["spec"]["template"]["spec"]; ctr = pod["containers"][0]
exec(sys.argv[3])
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
}
mutate tls-no-health 'del objs["ConfigMap"]["data"]["SQUATSTREAM_HEALTH_ADDRESS"]
ctr["readinessProbe"]["grpc"]["port"] = ctr["livenessProbe"]["grpc"]["port"] = 50051'
mutate replicas 'dep["spec"]["replicas"] = 3'
mutate netpol-no-from 'del objs["NetworkPolicy"]["spec"]["ingress"][0]["from"]'
mutate netpol-any-namespace 'objs["NetworkPolicy"]["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {}}]'
mutate memory-limit 'ctr["resources"]["limits"]["memory"] = "768Mi"'
mutate budget-raised 'ctr["args"] = [a if not a.startswith("--memory_budget_mb=") else "--memory_budget_mb=1024" for a in ctr["args"]]'
mutate prestop-command 'ctr["lifecycle"]["preStop"] = {"exec": {"command": ["sleep", "5"]}}'
mutate short-age-grace 'ctr["args"] = [a if not a.startswith("--max_connection_age_grace=") else "--max_connection_age_grace=30s" for a in ctr["args"]]'
mutate short-termination 'pod["terminationGracePeriodSeconds"] = 40'
mutate flag-twice 'objs["ConfigMap"]["data"]["SQUATSTREAM_MAX_CONCURRENT_STREAMS"] = "64"'
mutate token 'del pod["automountServiceAccountToken"]'
mutate pdb 'del objs["PodDisruptionBudget"]["spec"]["unhealthyPodEvictionPolicy"]'
# The store: dev's SQLite with a second replica, a rolling update, no volume, the volume over the geo databases'
# folder; prod's DSN with its password in the args, from a ConfigMap, readable by every user, not mounted.
mutate sqlite-replicas 'objs["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] = 2' dev
mutate sqlite-rolling 'dep["spec"]["strategy"] = {"type": "RollingUpdate"}' dev
mutate sqlite-no-volume 'del ctr["volumeMounts"]' dev
mutate sqlite-default 'ctr["args"] = [a for a in ctr["args"] if not a.startswith("--store=")]' dev
mutate geo-hidden 'ctr["volumeMounts"][0]["mountPath"] = "/var/lib/squatstream"
ctr["args"] = [a if not a.startswith("--store=") else "--store=sqlite:/var/lib/squatstream/squatstream.db" for a in ctr["args"]]' dev
mutate dsn-in-args 'ctr["args"] = [a if not a.startswith("--store_file=") else "--store=postgresql://squatstream:hunter2@db.example:5432/squatstream" for a in ctr["args"]]'
store='i = next(i for i, v in enumerate(pod["volumes"]) if v["name"] == "store-dsn")'
mutate dsn-configmap "$store
pod[\"volumes\"][i] = {\"name\": \"store-dsn\", \"configMap\": {\"name\": \"squatstream-store\"}}"
mutate dsn-world-readable "$store
pod[\"volumes\"][i][\"secret\"][\"defaultMode\"] = 0o644"
mutate dsn-unmounted 'del ctr["volumeMounts"]'
# Each must fail for its own reason (NAME:what the message says).
for case in "wrong-port:readinessProbe checks port 50051, the health listener" \
            "tls-no-health:no --health_address is set" "replicas:which sets replicas" \
            "netpol-no-from:has no \`from\`" "netpol-any-namespace:admits every namespace" \
            "memory-limit:memory limit 768Mi is below" "budget-raised:memory_budget_mb=1024 with" \
            "prestop-command:preStop runs a sleep command" "short-age-grace:max_connection_age_grace 30s is shorter" \
            "short-termination:terminationGracePeriodSeconds 40" "flag-twice:set both as an argument" \
            "token:mounts a service-account token" "pdb:lacks unhealthyPodEvictionPolicy" \
            "sqlite-replicas:may run 2 replicas" "sqlite-rolling:use Recreate" \
            "sqlite-no-volume:is not on a writable volume" "sqlite-default:squatstream.db is not on a writable volume" \
            "geo-hidden:hides the geo database" "dsn-in-args:with its password is in the manifest" \
            "dsn-configmap:which is not a Secret" "dsn-world-readable:readable by every user" \
            "dsn-unmounted:is on no volume of the pod"; do
  broken="${case%%:*}"
  if $py "$here/check_manifests.py" "$squatstreamd" "$tmp/$broken.yaml" 2>"$tmp/$broken.err"; then
    echo "check_k8s: a broken manifest ($broken) was accepted" >&2
    exit 1
  fi
  if ! grep -qF -- "${case#*:}" "$tmp/$broken.err"; then
    echo "check_k8s: $broken was rejected for another reason: $(cat "$tmp/$broken.err")" >&2
    exit 1
  fi
done
# The global limits on Redis (deploy/k8s/components/redis, prod's redis-patch.yaml), once prod runs them: Redis
# persisting its data, two Redis at once in a rolling update, no NetworkPolicy in front of it, a fallback share
# computed for fewer replicas than the HPA may run, the password file readable by every user, an address naming
# no Service.
if grep -q -- '--redis_address=' "$tmp/prod.yaml"; then
  redis='rdep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "squatstream-redis")
rctr = rdep["spec"]["template"]["spec"]["containers"][0]'
  mutate redis-persist "$redis
rctr[\"args\"] = [a.replace(\"--save ''\", \"--save 3600 1\") for a in rctr[\"args\"]]"
  mutate redis-rolling "$redis
rdep[\"spec\"][\"strategy\"] = {\"type\": \"RollingUpdate\"}"
  mutate redis-open 'docs[:] = [d for d in docs if not (d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "squatstream-redis")]'
  mutate redis-fallback 'ctr["args"] = [a if not a.startswith("--redis_fallback_replicas=") else "--redis_fallback_replicas=3" for a in ctr["args"]]'
  mutate redis-password-world-readable 'next(v for v in pod["volumes"] if v["secret"]["secretName"] == "squatstream-redis")["secret"]["defaultMode"] = 0o644'
  mutate redis-address 'ctr["args"] = [a if not a.startswith("--redis_address=") else "--redis_address=redis:6379" for a in ctr["args"]]'
  for case in "redis-persist:persists its data" "redis-rolling:may run two at once" \
              "redis-open:no NetworkPolicy admitting squatstream's pods only" \
              "redis-fallback:--redis_fallback_replicas=3 with up to 10" \
              "redis-password-world-readable:the Redis password's Secret volume redis-password has mode 644" \
              "redis-address:--redis_address=redis:6379 names no Service port"; do
    broken="${case%%:*}"
    if $py "$here/check_manifests.py" "$squatstreamd" "$tmp/$broken.yaml" 2>"$tmp/$broken.err"; then
      echo "check_k8s: a broken manifest ($broken) was accepted" >&2
      exit 1
    fi
    if ! grep -qF -- "${case#*:}" "$tmp/$broken.err"; then
      echo "check_k8s: $broken was rejected for another reason: $(cat "$tmp/$broken.err")" >&2
      exit 1
    fi
  done
  echo "check_k8s: prod's Redis: broken copies rejected"
else
  echo "check_k8s: prod runs no Redis (no --redis_address): the Redis rules' broken copies not checked"
fi
echo "check_k8s: overlays $(ls "$root/deploy/k8s/overlays" | tr '\n' ' ')valid; broken manifests rejected"
