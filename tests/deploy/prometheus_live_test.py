#!/usr/bin/python3
"""A real Prometheus scraping a real squatstreamd while squatstream-load streams, all on 127.0.0.1.

squatstreamd runs its real DNS stage against an nsd started here (Debian's; an authoritative `com` with a few
of example.com's look-alikes, NXDOMAIN for the rest, REFUSED for other TLDs), so that the DNS panels have
data; geo, whois and banner are stubs. Nothing queries the machine's resolver.

Checks, in order: `promtool check metrics` on a live /metrics scrape; Prometheus (1 s scrape and rule
evaluation, the repository's rules loaded) sees the target up; then every PromQL expression in the Grafana
dashboard and every recording rule, run through the HTTP API, returns data without error. Waiting is by
polling with a deadline; every process is stopped at the end.

The target carries the labels per-pod scraping in Kubernetes gives it (namespace, pod), and a stand-in for
the kubelet's cAdvisor and kube-state-metrics (a few series of theirs for the same pod, served from here)
gives the CPU and memory panels, which join those series with squatstreamd's, something to join.

usage: prometheus_live_test.py SQUATSTREAMD SQUATSTREAM_LOAD
"""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e", "tools"))
from nsd import Nsd  # noqa: E402


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "deploy/grafana/dashboards/squatstream-throughput.json")
RULES = os.path.join(ROOT, "deploy/prometheus/rules/squatstream.rules.yml")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    sys.exit(f"prometheus_live_test: timed out after {timeout} s waiting for {what}")


def query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def dashboard_exprs():
    d = json.load(open(DASHBOARD))
    out = []
    for panel in d["panels"]:
        for t in panel.get("targets", []):
            # Grafana's variables, as Grafana would substitute them with "All" selected.
            expr = t["expr"].replace("$__rate_interval", "15s")
            for var in ("$namespace", "$job", "$pod"):
                expr = expr.replace(var, ".*")
            out.append(expr)
    return out


# A few of example.com's look-alikes in an authoritative com (the rest NXDOMAIN, other TLDs REFUSED).
COM_ZONE = ("$ORIGIN com.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n@ IN NS ns.test.\n"
            "exampel IN A 192.0.2.10\nexmple IN MX 10 mail.exmple.com.\nexamplr IN NS ns1.elsewhere.test.\n")


NAMESPACE, POD = "squatstream-test", "squatstream-test-0"


class KubeStandIn(http.server.BaseHTTPRequestHandler):
    """What cAdvisor and kube-state-metrics would say of squatstreamd's pod: CPU used (a counter growing at
    0.25 cores), the working set and the container's limits."""
    started = time.monotonic()

    def do_GET(self):
        labels = f'namespace="{NAMESPACE}",pod="{POD}",container="squatstreamd"'
        cpu = 0.25 * (time.monotonic() - self.started)
        body = (f'container_cpu_usage_seconds_total{{{labels},image="squatstream:test"}} {cpu}\n'
                f'container_memory_working_set_bytes{{{labels},image="squatstream:test"}} 52428800\n'
                f'kube_pod_container_resource_limits{{{labels},resource="cpu",unit="core"}} 2\n'
                f'kube_pod_container_resource_limits{{{labels},resource="memory",unit="byte"}} 1073741824\n').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    squatstreamd, load = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="squatstream-prom-")
    procs = []
    nsd = Nsd({"com": COM_ZONE}).__enter__()
    try:
        server = subprocess.Popen([squatstreamd, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                                   "--stub_enrichers=geo,whois,banner", f"--dns_servers={nsd.server}",
                                   "--dns_rate_limit=2000", "--dns_timeout=200ms",
                                   "--stub_geo_latency=1ms", "--stub_whois_latency=2ms", "--stub_banner_latency=1ms"],
                                  stderr=subprocess.PIPE, text=True)
        procs.append(server)
        line = server.stderr.readline()
        m = re.search(r"serving gRPC on port (\d+), metrics on port (\d+)", line)
        if not m:
            sys.exit(f"squatstreamd did not start: {line}")
        grpc_port, metrics_port = m.group(1), m.group(2)

        scrape = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read()
        lint = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True)
        if lint.returncode != 0:
            sys.exit(f"promtool check metrics: {lint.stdout.decode()}{lint.stderr.decode()}")
        print("promtool check metrics: clean")

        procs.append(subprocess.Popen([load, f"--server=127.0.0.1:{grpc_port}", "--concurrency=4", "--duration=60s"],
                                      stdout=subprocess.DEVNULL))

        kube = http.server.HTTPServer(("127.0.0.1", 0), KubeStandIn)
        threading.Thread(target=kube.serve_forever, daemon=True).start()
        prom_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [RULES],
            "scrape_configs": [{"job_name": "squatstream",
                                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"],
                                                    "labels": {"namespace": NAMESPACE, "pod": POD}}]},
                               {"job_name": "kube-stand-in", "honor_labels": True,
                                "static_configs": [{"targets": [f"127.0.0.1:{kube.server_port}"]}]}],
        }
        config_path = os.path.join(tmp, "prometheus.yml")
        with open(config_path, "w") as f:
            yaml.safe_dump(config, f)
        procs.append(subprocess.Popen(["prometheus", f"--config.file={config_path}",
                                       f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                       f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def up():
            try:
                r = query(prom_port, 'up{job="squatstream"}')
                return r and r[0]["value"][1] == "1"
            except OSError:
                return False
        wait_for("Prometheus to scrape squatstreamd", up, 60)

        rules = yaml.safe_load(open(RULES))
        recording = [r for g in rules["groups"] for r in g["rules"] if "record" in r]
        exprs = dashboard_exprs() + [r["expr"] for r in recording] + [r["record"] for r in recording]

        def all_have_data():
            empty = [e for e in exprs if not query(prom_port, e)]
            all_have_data.empty = empty
            return not empty
        all_have_data.empty = exprs
        deadline = time.monotonic() + 60
        while not all_have_data():
            if time.monotonic() > deadline:
                sys.exit("prometheus_live_test: no data for:\n  " + "\n  ".join(all_have_data.empty))
            time.sleep(0.5)
        print(f"prometheus_live_test: all {len(exprs)} expressions (dashboard: {len(dashboard_exprs())}, "
              f"recording rules: {len(recording)} and their series) return data")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        nsd.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
