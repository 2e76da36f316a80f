#!/usr/bin/python3
"""Checks deploy/prometheus/prometheus.yml.

1. `promtool check config`. Debian's Prometheus is built without Kubernetes service discovery, so its promtool
   rejects `kubernetes_sd_configs` as an unknown field; with such a promtool the config is checked again with
   each `kubernetes_sd_configs` replaced by a static target (everything else — relabelling, rule files, the
   rules themselves — still goes through promtool), and the discovery blocks are checked here (known role,
   known keys).
2. The relabelling, applied here to the targets Kubernetes discovery (role pod) would make from the rendered
   prod overlay's pod and from a foreign pod, keeps exactly squatstreamd's metrics port, one target per pod,
   with the namespace, pod and container labels the rules group by.

usage: check_prometheus_config.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROM_DIR = os.path.join(ROOT, "deploy/prometheus")
CONFIG = os.path.join(PROM_DIR, "prometheus.yml")
SD_KEYS = {"role", "namespaces", "selectors", "api_server", "kubeconfig_file", "attach_metadata",
           "follow_redirects", "tls_config", "authorization", "oauth2", "basic_auth", "proxy_url", "enable_http2"}
SD_ROLES = {"pod", "endpoints", "endpointslice", "service", "node", "ingress"}


def fail(msg):
    sys.exit(f"check_prometheus_config: {msg}")


def promtool(path):
    r = subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def check_with_promtool(config):
    code, out = promtool(CONFIG)
    if code == 0:
        print("check_prometheus_config: promtool check config: SUCCESS")
        return
    if "field kubernetes_sd_configs not found" not in out:
        fail(f"promtool check config:\n{out}")
    # A promtool without Kubernetes discovery (Debian's).
    for sc in config["scrape_configs"]:
        for sd in sc.get("kubernetes_sd_configs", []):
            if sd.get("role") not in SD_ROLES:
                fail(f"job {sc['job_name']}: kubernetes_sd_configs role {sd.get('role')!r} is not one of {sorted(SD_ROLES)}")
            unknown = set(sd) - SD_KEYS
            if unknown:
                fail(f"job {sc['job_name']}: unknown kubernetes_sd_configs keys {sorted(unknown)}")
    tmp = tempfile.mkdtemp()
    try:
        shutil.copytree(os.path.join(PROM_DIR, "rules"), os.path.join(tmp, "rules"))
        stand_in = yaml.safe_load(open(CONFIG))
        for sc in stand_in["scrape_configs"]:
            if sc.pop("kubernetes_sd_configs", None) is not None:
                sc["static_configs"] = [{"targets": ["10.0.0.1:9464"]}]
        path = os.path.join(tmp, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(stand_in, f)
        code, out = promtool(path)
        if code != 0:
            fail(f"promtool check config (kubernetes_sd_configs replaced by a static target):\n{out}")
    finally:
        shutil.rmtree(tmp)
    print("check_prometheus_config: promtool check config: SUCCESS with kubernetes_sd_configs replaced by a "
          "static target (this promtool has no Kubernetes discovery); the discovery blocks checked here")


def relabel(labels, configs):
    """Prometheus's relabelling (replace, keep, drop, labelmap, labeldrop, labelkeep), enough for our config."""
    labels = dict(labels)
    for c in configs:
        action = c.get("action", "replace")
        regex = re.compile(f"^(?:{c.get('regex', '(.*)')})$")
        value = c.get("separator", ";").join(labels.get(s, "") for s in c.get("source_labels", []))
        if action == "keep":
            if not regex.match(value):
                return None
        elif action == "drop":
            if regex.match(value):
                return None
        elif action == "replace":
            m = regex.match(value)
            if m:
                replacement = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", c.get("replacement", "$1"))
                result = m.expand(replacement)
                if result:
                    labels[c["target_label"]] = result
                else:
                    labels.pop(c["target_label"], None)
        elif action == "labelmap":
            for k, v in list(labels.items()):
                m = regex.match(k)
                if m:
                    labels[m.expand(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", c.get("replacement", "$1")))] = v
        elif action == "labeldrop":
            labels = {k: v for k, v in labels.items() if not regex.match(k)}
        elif action == "labelkeep":
            labels = {k: v for k, v in labels.items() if regex.match(k)}
        else:
            fail(f"relabel action {action} not simulated here")
    return {k: v for k, v in labels.items() if not k.startswith("__") or k == "__address__"}


def pod_targets(namespace, name, ip, template, phase="Running"):
    """The targets role pod makes: one per container port."""
    base = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_name": name,
            "__meta_kubernetes_pod_phase": phase, "__meta_kubernetes_pod_ip": ip}
    for k, v in template["metadata"].get("labels", {}).items():
        base["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
    for c in template["spec"]["containers"]:
        for p in c.get("ports", []):
            t = dict(base)
            t.update({"__meta_kubernetes_pod_container_name": c["name"],
                      "__meta_kubernetes_pod_container_port_name": p.get("name", ""),
                      "__meta_kubernetes_pod_container_port_number": str(p["containerPort"]),
                      "__address__": f"{ip}:{p['containerPort']}"})
            yield t


def check_relabelling(config):
    rendered = subprocess.run([os.path.join(ROOT, "tests/deploy/kustomize.sh"), os.path.join(ROOT, "deploy/k8s/overlays/prod")],
                              capture_output=True, text=True, check=True).stdout
    deployment = next(o for o in yaml.safe_load_all(rendered) if o and o["kind"] == "Deployment")
    template = deployment["spec"]["template"]
    namespace = deployment["metadata"]["namespace"]
    metrics_port = next(p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]
                        if p.get("name") == "metrics")
    foreign = {"metadata": {"labels": {"app.kubernetes.io/name": "something-else"}},
               "spec": {"containers": [{"name": "other", "ports": [{"name": "metrics", "containerPort": 9464}]}]}}
    candidates = (list(pod_targets(namespace, "squatstream-7d9f-a", "10.0.0.1", template))
                  + list(pod_targets(namespace, "squatstream-7d9f-b", "10.0.0.2", template))
                  + list(pod_targets(namespace, "squatstream-7d9f-c", "10.0.0.3", template, phase="Succeeded"))
                  + list(pod_targets(namespace, "other-1", "10.0.0.4", foreign)))
    jobs = [sc for sc in config["scrape_configs"] if "kubernetes_sd_configs" in sc]
    if [sc["job_name"] for sc in jobs] != ["squatstream"]:
        fail(f"expected one Kubernetes-discovered job, squatstream; found {[sc['job_name'] for sc in jobs]}")
    kept = [t for t in (relabel(c, jobs[0].get("relabel_configs", [])) for c in candidates) if t is not None]
    addresses = sorted(t["__address__"] for t in kept)
    if addresses != [f"10.0.0.1:{metrics_port}", f"10.0.0.2:{metrics_port}"]:
        fail(f"relabelling keeps {addresses}; expected the metrics port ({metrics_port}) of the two running pods")
    for t in kept:
        if t.get("namespace") != namespace or not t.get("pod", "").startswith("squatstream-") or not t.get("container"):
            fail(f"target {t} lacks the namespace/pod/container labels the rules group by")
    print(f"check_prometheus_config: relabelling keeps one target per running squatstream pod (port {metrics_port}), "
          "labelled namespace/pod/container; ports grpc, other apps' metrics ports and ended pods dropped")


def main():
    config = yaml.safe_load(open(CONFIG))
    check_with_promtool(config)
    check_relabelling(config)


if __name__ == "__main__":
    main()
