#!/usr/bin/python3
"""Checks that rendered Kubernetes manifests agree with the squatstreamd they deploy.

- every SQUATSTREAM_* variable in the ConfigMap names a real squatstreamd flag (from `squatstreamd --helpfull`);
- the gRPC and metrics ports in the ConfigMap's addresses (or, when unset, the flags' defaults) are the
  container ports named grpc and metrics, the gRPC probes use the gRPC port, and every Service/ServiceMonitor
  port refers to a named container/Service port;
- terminationGracePeriodSeconds exceeds the preStop pause plus the server's drain period;
- the Dockerfile exposes the same ports.

usage: check_manifests.py SQUATSTREAMD rendered.yaml [...]
"""
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(msg):
    sys.exit(f"check_manifests: {msg}")


def seconds(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    if not m:
        fail(f"cannot read duration {duration!r}")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def flags_and_defaults(binary):
    out = subprocess.run([binary, "--helpfull"], capture_output=True, text=True).stdout
    defaults = {}
    # One block per flag: "    --name (help, possibly over several lines); default: value;"
    for block in re.split(r"\n(?=    --)", out):
        m = re.match(r"\s*--(\w+) \(", block)
        d = re.search(r";\s+default: (.*?);", block.replace("\n", " "))
        if m and d:
            defaults[m.group(1)] = d.group(1).strip('"')
    if "grpc_address" not in defaults:
        fail("could not read squatstreamd's flags from --helpfull")
    return defaults


def check(binary, path):
    defaults = flags_and_defaults(binary)
    objs = [o for o in yaml.safe_load_all(open(path)) if o]
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    env = by_kind["ConfigMap"][0]["data"]
    for key in env:
        flag = key.removeprefix("SQUATSTREAM_").lower()
        if not key.startswith("SQUATSTREAM_") or flag not in defaults:
            fail(f"{path}: ConfigMap key {key} is not a squatstreamd flag")

    def port_of(flag):
        address = env.get(f"SQUATSTREAM_{flag.upper()}", defaults[flag])
        return int(address.rsplit(":", 1)[1])
    grpc_port, metrics_port = port_of("grpc_address"), port_of("metrics_address")

    deployment = by_kind["Deployment"][0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if ports.get("grpc") != grpc_port or ports.get("metrics") != metrics_port:
        fail(f"{path}: container ports {ports} != server's grpc {grpc_port} / metrics {metrics_port}")
    for probe in ("readinessProbe", "livenessProbe"):
        if container[probe]["grpc"]["port"] != grpc_port:
            fail(f"{path}: {probe} checks port {container[probe]['grpc']['port']}, the server serves {grpc_port}")
    for svc in by_kind["Service"]:
        for p in svc["spec"]["ports"]:
            if p["targetPort"] not in ports:
                fail(f"{path}: Service {svc['metadata']['name']} targets unknown port {p['targetPort']}")
    service_ports = {p["name"] for svc in by_kind["Service"] for p in svc["spec"]["ports"]}
    for sm in by_kind.get("ServiceMonitor", []):
        for ep in sm["spec"]["endpoints"]:
            if ep["port"] not in service_ports:
                fail(f"{path}: ServiceMonitor scrapes unknown port {ep['port']}")
    grace = seconds(env.get("SQUATSTREAM_SHUTDOWN_GRACE", defaults["shutdown_grace"]))
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    pause = float(pre_stop[1]) if pre_stop[0] == "sleep" else 0
    if pod["terminationGracePeriodSeconds"] <= grace + pause:
        fail(f"{path}: terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} <= drain {grace} + "
             f"preStop {pause}")
    dockerfile = open(os.path.join(ROOT, "deploy/docker/Dockerfile")).read()
    exposed = {int(p) for p in re.search(r"^EXPOSE (.*)$", dockerfile, re.M).group(1).split()}
    if exposed != {grpc_port, metrics_port}:
        fail(f"Dockerfile exposes {sorted(exposed)}, the server serves {grpc_port} and {metrics_port}")
    print(f"check_manifests: {path}: flags, ports ({grpc_port}, {metrics_port}), probes, grace "
          f"({pod['terminationGracePeriodSeconds']} s > {grace} + {pause}) agree with squatstreamd")


if __name__ == "__main__":
    for p in sys.argv[2:]:
        check(sys.argv[1], p)
