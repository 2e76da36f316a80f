#!/usr/bin/python3
"""A real Prometheus scraping a real squatstreamd while squatstream-load streams, all on loopback.

squatstreamd runs its real DNS, geo, registration (whois) and banner stages against peers started here, so
that the DNS, Geo, Registration data and Banners panels have data. Every peer is on 127.0.0.0/8 and nothing
else is dialled (no resolver of the machine's, no registry: the RDAP bootstrap URL is empty, WHOIS starts at
the peers' IANA-like server, and --dial_allow_cidrs admits loopback only):
  * DNS: Debian's nsd, an authoritative `com` with a few of example.com's look-alikes (NXDOMAIN for the rest,
    REFUSED for other TLDs), some of them pointing at the banner peers;
  * geo: the MaxMind-format fixture databases of tests/workers/geo/make_fixture_mmdb.pl (one look-alike's
    address is in them, one is not);
  * registration: tests/workers/registration/registry_peers.py (RDAP and WHOIS), with a bootstrap file mapping
    `com` to its .com registry (the look-alikes registered there) and `example` to its test registry;
  * banner: tests/workers/banner/banner_peers.py (nginx, sshd, aiosmtpd and a silent server, one scenario per
    127.0.0.x address on four shared ports, which the --banner_*_port flags name): example.com itself serves
    the "original" page (the similarity score's reference), exaple.com the plain page (http, https, ssh and
    SMTP answer), examle.com the redirect chain, exampe.com the silent server (every probe times out),
    eample.com a redirect to 169.254.169.254 (refused by the SSRF guard, never dialled) and xample.com a
    parking page; the peers' closed ports refuse, and the guard also refuses the look-alikes on documentation
    addresses (192.0.2.10, 203.0.113.7). Small caps (8 connections, 2 per address) make probes wait for a slot.
The client `squatstream` first asks the registration cases once each: example.com's registered look-alikes
(RDAP ok, twice: the second from the cache), and the omissions of busyx.example (busy.example: HTTP 429 once,
then ok), slowx.example (slow.example: no answer within --registration_timeout) and fullx.whois (WHOIS: IANA,
the TLD's server, the registrar); their counters stay in the scrape, so every rate has data for the rest of
the test. Then squatstream-load streams example.com with dns, geo and banner for a minute (with whois, the
registration stage would ask the peers about every name of the TLDs nsd refuses: thousands a stream); before
the dashboard is queried, the banner stage must have counted connections that succeed and that time out (each
protocol), refused and denied ones, SSRF refusals, waits for a slot, bytes read and the input domain's page
(WANT_BANNER_*), so that the Banners panels show what happened, not zeros.

squatstreamd keeps its watches in an SQLite store in the test's temporary folder, so that the Watches row's series
(the watch side's metrics exist only with a store) are there; no watch is created: their counters are 0, the
store's ping and claims every second give its latency histogram and `squatstream_store_up` data.

A second squatstreamd (every stage simulated, a store of its own) runs the access side, so that the Access row
has data: --auth=api_key with keys made by `squatstreamd keys create` against its store, and --redis_address to a
redis-server on loopback (tests/peers/redis.py; a password, on its standard input). The `squatstream` client then
streams with a key, without one (missing), with a made-up one (unknown) and with a key whose candidates_per_hour
quota is 1 (a quota refusal); grpcurl lists the keys through squatstream.v1.AccessService with the admin key. Prometheus scrapes both
servers (pods squatstream-test-0 and squatstream-test-access).

Checks, in order: `promtool check metrics` on a live /metrics scrape; Prometheus (1 s scrape and rule
evaluation, the repository's rules loaded) sees the target up; then every PromQL expression in the Grafana
dashboard and every recording rule, run through the HTTP API, returns data without error. Waiting is by
polling with a deadline; every process is stopped at the end.

The target carries the labels per-pod scraping in Kubernetes gives it (namespace, pod), and a stand-in for
the kubelet's cAdvisor and kube-state-metrics (a few series of theirs for the same pod, served from here)
gives the CPU and memory panels, which join those series with squatstreamd's, something to join.

usage: prometheus_live_test.py SQUATSTREAMD SQUATSTREAM_LOAD [SQUATSTREAM REGISTRY_PEERS_PY MAKE_FIXTURE_MMDB_PL]
(the last three default to the client beside squatstream-load and the scripts in tests/workers/; banner_peers.py
is always tests/workers/banner/'s)
"""
import http.server
import json
import os
import re
import shutil
import signal
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
TESTS = os.path.join(ROOT, "tests")
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


# A few of example.com's look-alikes in an authoritative com (the rest NXDOMAIN, other TLDs REFUSED). 192.0.2.10
# is in the fixture geo databases (Berlin), 203.0.113.7 in none of them (a not_found lookup); both are
# documentation addresses, which the banner stage's SSRF guard refuses. The rest point at banner_peers.py's
# scenarios (its ADDRESSES, see its docstring), mail exchangers at the same address.
COM_ZONE = ("$ORIGIN com.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n@ IN NS ns.test.\n"
            "exampel IN A 192.0.2.10\nexmple IN MX 10 mail.exmple.com.\nexamplr IN NS ns1.elsewhere.test.\n"
            "exanple IN A 203.0.113.7\n"
            "example IN A 127.0.0.17\n"  # original: the input domain's own page
            "exaple IN A 127.0.0.11\nexaple IN MX 10 mx.exaple.com.\nmx.exaple IN A 127.0.0.11\n"  # plain
            "examle IN A 127.0.0.12\nexamle IN MX 10 mx.examle.com.\nmx.examle IN A 127.0.0.12\n"  # chain
            "exampe IN A 127.0.0.13\nexampe IN MX 10 mx.exampe.com.\nmx.exampe IN A 127.0.0.13\n"  # slow
            "eample IN A 127.0.0.15\n"  # metadata: a redirect to 169.254.169.254
            "xample IN A 127.0.0.20\n")  # parked
COM_REGISTERED = ["exampel.com", "exanple.com", "examplr.com", "exmple.com"]

# What the client asks once each (see the docstring), and the request outcomes they must leave in the scrape.
CLIENT_STREAMS = [
    ["--kinds=omission,transposition,replacement", "--registered", "--enrichers=dns,geo,whois", "example.com"],
    ["--kinds=omission,transposition,replacement", "--registered", "--enrichers=dns,geo,whois", "example.com"],
    ["--kinds=omission", "--enrichers=dns,whois", "busyx.example", "slowx.example", "fullx.whois"],
]
WANT_REQUESTS = [("rdap", "ok"), ("rdap", "not_found"), ("rdap", "rate_limited"), ("rdap", "timeout"),
                 ("whois", "ok"), ("whois", "not_found")]


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


def start_peers(args, procs, timeout=20):
    """A peers script (registry_peers.py, banner_peers.py) with args, until SIGTERM; its ports, from the JSON
    line it prints (within `timeout` s)."""
    proc = subprocess.Popen(["/usr/bin/python3"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    procs.append(proc)
    os.set_blocking(proc.stdout.fileno(), False)
    deadline, line = time.monotonic() + timeout, b""
    while not line.endswith(b"\n"):
        piece = proc.stdout.read()
        if piece:
            line += piece
        elif proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"prometheus_live_test: {os.path.basename(args[0])} did not start: {line!r}")
        else:
            time.sleep(0.02)
    return json.loads(line)


def start_squatstreamd(args, procs):
    """squatstreamd with args; (gRPC port, metrics port, its stderr lines so far — read on a thread, so that the
    pipe never fills)."""
    server = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    procs.append(server)
    lines, started = [], threading.Event()

    def read():
        for line in server.stderr:
            lines.append(line)
            if re.search(r"serving gRPC on port \d+, metrics on port \d+", line):
                started.set()
        started.set()
    threading.Thread(target=read, daemon=True).start()
    started.wait(30)
    for line in lines:
        m = re.search(r"serving gRPC on port (\d+), metrics on port (\d+)", line)
        if m:
            return m.group(1), m.group(2), lines
    sys.exit("squatstreamd did not start: " + "".join(lines))


GRPCURL = os.path.join(ROOT, ".tools/bin/grpcurl")
KEY_RE = re.compile(r"sqs_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")


def start_redis(tmp, procs):
    """A redis-server on a free loopback port (tests/peers/redis.py: no persistence, the password given to it on
    its standard input, stopped on SIGTERM); (address, password file)."""
    password_file = os.path.join(tmp, "redis-password")
    with open(password_file, "w") as f:
        f.write("live-test-" + os.urandom(8).hex() + "\n")
    redis = subprocess.Popen([sys.executable, os.path.join(TESTS, "peers/redis.py"), "--password-file", password_file],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(redis)
    address = redis.stdout.readline().strip()  # printed once it answers PING
    if not address:
        sys.exit("prometheus_live_test: tests/peers/redis.py did not start a redis-server")
    return address, password_file


def create_key(squatstreamd, store, name, scopes, *extra):
    """`squatstreamd keys create` against store: the key it shows once."""
    r = subprocess.run([squatstreamd, "keys", "create", f"--store={store}", f"--name={name}", f"--scopes={scopes}",
                        *extra], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    m = KEY_RE.search(r.stdout)
    if r.returncode != 0 or not m:
        sys.exit(f"prometheus_live_test: squatstreamd keys create {name}: exit {r.returncode}: {r.stderr}")
    return m.group(0)


def exercise_access_side(squatstreamd, client, tmp, procs):
    """The second squatstreamd (see the docstring), its calls made; its metrics port."""
    redis_address, password_file = start_redis(tmp, procs)
    store = f"sqlite:{tmp}/access-store/squatstream.db"
    os.makedirs(f"{tmp}/access-store", exist_ok=True)
    admin = create_key(squatstreamd, store, "live-admin", "admin,scan")
    scan = create_key(squatstreamd, store, "live-scan", "scan")
    tight = create_key(squatstreamd, store, "live-tight", "scan", "--quota_candidates_per_hour=1")
    grpc_port, metrics_port, log = start_squatstreamd([
        squatstreamd, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0", "--stub_enrichers=all",
        f"--store={store}", "--auth=api_key", f"--redis_address={redis_address}",
        f"--redis_password_file={password_file}"], procs)
    env = {k: v for k, v in os.environ.items() if k != "SQUATSTREAM_API_KEY"}
    for key in (scan, None, "sqs_zzzzzzzz_" + "A" * 43, tight):
        subprocess.run([client, f"--server=127.0.0.1:{grpc_port}", "--format=csv", "--deadline=30s",
                        "--kinds=omission", "example.com"], stdin=subprocess.DEVNULL, capture_output=True,
                       env=dict(env, SQUATSTREAM_API_KEY=key) if key else env, timeout=60)
    r = subprocess.run([GRPCURL, "-plaintext", "-H", f"authorization: Bearer {admin}", "-d", "{}",
                        f"127.0.0.1:{grpc_port}", "squatstream.v1.AccessService/ListApiKeys"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"prometheus_live_test: grpcurl ListApiKeys: {r.stderr}")
    want = {("squatstream_auth_failures_total", "missing"), ("squatstream_auth_failures_total", "unknown"),
            ("squatstream_quota_refusals_total", "candidates_per_hour"), ("squatstream_redis_up", None),
            ("grpc_server_handled_total", "squatstream.v1.AccessService")}

    def seen():
        got = set()
        for name, labels, value in scrape_samples(metrics_port):
            key = labels.get("reason") or labels.get("quota") or labels.get("grpc_service")
            if value > 0 and (name, key if name != "squatstream_redis_up" else None) in want:
                got.add((name, key if name != "squatstream_redis_up" else None))
        return want <= got
    wait_for("the access side's counters (auth failures, a quota refusal, Redis up, an AccessService call)", seen, 30)
    text = "".join(log)
    for key in (admin, scan, tight):
        if key in text or key[13:] in text:  # the whole key, or its secret part
            sys.exit("prometheus_live_test: the access server's log holds a key")
    print("prometheus_live_test: access side: auth failures (missing, unknown), a quota refusal, Redis up, "
          "AccessService called")
    return metrics_port


def scrape_samples(metrics_port):
    """[(name, {label: value}, value)] of squatstreamd's /metrics now."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    out = []
    for line in text.splitlines():
        m = re.match(r"(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")), float(m.group(3))))
    return out


# What the banner peers must make the banner stage count (see the docstring) before the dashboard is queried:
# connections by (protocol, outcome), and the other counters by protocol or alone. The chain's and the plain
# page's nginx answer http and https (ok), sshd and aiosmtpd their protocols (ok); the silent server times every
# protocol out; the closed ports refuse; the SSRF guard denies the metadata redirect and the documentation
# addresses. bytes_read counts HTTP bodies (what the server counts for http and https).
WANT_BANNER_CONNECTIONS = [(p, "ok") for p in ("http", "https", "smtp", "ssh")] + \
    [(p, "timeout") for p in ("http", "https", "smtp", "ssh")] + [("ssh", "refused"), ("http", "denied")]
WANT_BANNER_COUNTERS = [("squatstream_banner_ssrf_refusals_total", "http"),
                        ("squatstream_banner_bytes_read_total", "http"),
                        ("squatstream_banner_bytes_read_total", "https"),
                        ("squatstream_banner_connection_waits_total", None),
                        ("squatstream_banner_original_pages_total", None)]


def banner_missing(metrics_port):
    """What of WANT_BANNER_* is still 0, and the (protocol, outcome) pairs counted."""
    counted, counters = set(), set()
    for name, labels, value in scrape_samples(metrics_port):
        if value <= 0:
            continue
        if name == "squatstream_banner_connections_total":
            counted.add((labels.get("protocol"), labels.get("outcome")))
        counters.add((name, labels.get("protocol")))
    missing = [f"connections {p}/{o}" for p, o in WANT_BANNER_CONNECTIONS if (p, o) not in counted]
    missing += [f"{n}{{protocol={p}}}" if p else n for n, p in WANT_BANNER_COUNTERS if (n, p) not in counters]
    return missing, counted


def request_outcomes(metrics_port):
    """{(protocol, outcome)} of the squatstream_registration_requests_total series with a count, and the
    registration cache's hits."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    out, hits = set(), 0
    for line in text.splitlines():
        if line.startswith("squatstream_registration_requests_total{") and float(line.rsplit(" ", 1)[1]) > 0:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out.add((labels.get("protocol"), labels.get("outcome")))
        if line.startswith('squatstream_registration_cache_lookups_total{result="hit"}'):
            hits = float(line.rsplit(" ", 1)[1])
    return out, hits


def main():
    if len(sys.argv) not in (3, 6):
        sys.exit(__doc__)
    squatstreamd, load = sys.argv[1], sys.argv[2]
    client, peers_script, mmdb_script = (sys.argv[3:6] if len(sys.argv) == 6 else (
        os.path.join(os.path.dirname(load), "squatstream"),
        os.path.join(TESTS, "workers/registration/registry_peers.py"),
        os.path.join(TESTS, "workers/geo/make_fixture_mmdb.pl")))
    # ctest's timeout sends SIGTERM: leave through the finally block, stopping every process started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("prometheus_live_test: SIGTERM"))
    tmp = tempfile.mkdtemp(prefix="squatstream-prom-")
    procs = []
    nsd = Nsd({"com": COM_ZONE}).__enter__()
    try:
        built = subprocess.run(["/usr/bin/perl", mmdb_script, tmp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
        if built.returncode != 0:
            sys.exit(f"prometheus_live_test: make_fixture_mmdb.pl failed: {built.stdout.decode()}")
        ports = start_peers([peers_script, "--until-signal", "--com-registered", ",".join(COM_REGISTERED)], procs)
        # nginx, sshd, aiosmtpd and an openssl key: up to 15 s an attempt, retried on a port taken meanwhile.
        banner = start_peers([os.path.join(TESTS, "workers/banner/banner_peers.py"), "--until-signal"], procs, 60)
        registry = f"http://127.0.0.1:{ports['http_port']}"
        bootstrap = os.path.join(tmp, "dns.json")
        with open(bootstrap, "w") as f:
            json.dump({"description": "prometheus_live_test", "publication": "2026-01-01T00:00:00Z", "version": "1.0",
                       "services": [[["com"], [f"{registry}/com/"]], [["example"], [f"{registry}/registry/"]]]}, f)
        grpc_port, metrics_port, server_log = start_squatstreamd([
            squatstreamd, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
            "--stub_enrichers=none",
            # A store of its own, so that the Watches row has its series (the default path is not writable here).
            f"--store=sqlite:{tmp}/store/squatstream.db",
            f"--dns_servers={nsd.server}", "--dns_rate_limit=2000", "--dns_timeout=200ms",
            f"--geo_city_db={tmp}/city.mmdb", f"--geo_asn_db={tmp}/asn.mmdb",
            f"--rdap_bootstrap_file={bootstrap}", "--rdap_bootstrap_url=",
            f"--whois_server=127.0.0.1:{ports['whois_iana_port']}", "--dial_allow_cidrs=127.0.0.0/8",
            "--registration_rate_limit=20", "--registration_max_per_server=4",
            "--registration_timeout=1s", "--registration_deadline=5s",
            f"--banner_http_port={banner['http_port']}", f"--banner_https_port={banner['https_port']}",
            f"--banner_smtp_port={banner['smtp_port']}", f"--banner_ssh_port={banner['ssh_port']}",
            "--banner_connect_timeout=1s", "--banner_first_byte_timeout=1s", "--banner_request_timeout=3s",
            # A deadline long enough for the silent server's every probe to reach its own timeout: the
            # likely-first order brings the streams to exampe.com early and together, two slots per address,
            # and at 5 s the SMTP probe, waiting longest, was cut by the deadline before it timed out.
            "--banner_deadline=15s", "--banner_max_connections=8", "--banner_max_per_address=2"], procs)

        for args in CLIENT_STREAMS:
            r = subprocess.run([client, f"--server=127.0.0.1:{grpc_port}", "--format=csv", "--deadline=30s"] + args,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                sys.exit(f"prometheus_live_test: squatstream {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        outcomes, cache_hits = request_outcomes(metrics_port)
        missing = sorted(set(WANT_REQUESTS) - outcomes)
        if missing or not cache_hits:
            sys.exit(f"prometheus_live_test: no registration requests with (protocol, outcome) {missing}, or no cache "
                     f"hit ({cache_hits}); squatstreamd said:\n" + "".join(server_log))
        print(f"prometheus_live_test: registration requests counted: {sorted(outcomes)}; cache hits: {cache_hits:g}")

        # The load after the client's streams: its four streams hold the memory budget.
        procs.append(subprocess.Popen([load, f"--server=127.0.0.1:{grpc_port}", "--concurrency=4", "--duration=60s",
                                       "--enrichers=dns,geo,banner"], stdout=subprocess.DEVNULL))
        # The banner stage's outcomes, from the load's first streams (the silent peer's timeouts take 1-2 s).
        deadline = time.monotonic() + 60
        while (seen := banner_missing(metrics_port))[0]:
            if time.monotonic() > deadline:
                sys.exit(f"prometheus_live_test: the banner stage counted none of {seen[0]} (it counted "
                         f"{sorted(seen[1])}); squatstreamd said:\n" + "".join(server_log))
            time.sleep(0.5)
        print(f"prometheus_live_test: banner connections counted: {sorted(seen[1])}; and SSRF refusals, waits "
              "for a slot, bytes read, the input domain's page")
        # With every series there (the registration counters are made by the first request of each kind).
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read()
        lint = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True)
        if lint.returncode != 0:
            sys.exit(f"promtool check metrics: {lint.stdout.decode()}{lint.stderr.decode()}")
        print("promtool check metrics: clean")

        access_metrics_port = exercise_access_side(squatstreamd, client, tmp, procs)

        kube = http.server.HTTPServer(("127.0.0.1", 0), KubeStandIn)
        threading.Thread(target=kube.serve_forever, daemon=True).start()
        prom_port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [RULES],
            "scrape_configs": [{"job_name": "squatstream",
                                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"],
                                                    "labels": {"namespace": NAMESPACE, "pod": POD}},
                                                   {"targets": [f"127.0.0.1:{access_metrics_port}"],
                                                    "labels": {"namespace": NAMESPACE, "pod": POD + "-access"}}]},
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
                return len(r) == 2 and all(x["value"][1] == "1" for x in r)
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
