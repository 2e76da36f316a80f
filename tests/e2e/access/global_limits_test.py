"""Global limits across replicas on Redis, end to end (issue 29): three squatstreamd replicas share one
redis-server on loopback (--redis_address) and ask one registry (tests/workers/registration/registry_peers.py:
an RDAP server that stamps each request's arrival) for many names.

  global_limits_test.py GRPCURL SQUATSTREAMD REGISTRY_PEERS_PY REDIS_PY

 1. Three scans at once, one per replica: the registry sees at most --registration_rate_limit requests in every
    1-s window IN TOTAL (not three times it).
 2. The first replica's names scanned again on the second replica: answered from the shared cache (whois.cached),
    no request at the registry.
 3. Redis killed while three scans run: once every replica says so (squatstream_global_limits_fallback 1), each
    runs on its share (--redis_fallback_replicas=3) and the total still holds.
 4. Redis started again (same port, empty): every replica's fallback gauge goes back to 0 and three more scans
    hold the limit in total again.

DNS, geo and banner are simulated (no resolver, no internet); the registration stage is real. A 1-s window is
measured as 0.98 s: a request leaves when the limiter allows it and is stamped when it arrives, a few ms later,
so two requests exactly 1 s apart by the limiter can look 0.99 s apart at the registry.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from grpcurl_output import enrich_stream  # noqa: E402
from squatstreamd import Checks, Server, require_tool, stop, wait_for  # noqa: E402

RATE = 6  # requests per second to the registry, over every replica; divisible by the 3 replicas (their shares)
PLACES = 3  # at once to the registry; one each in fallback
REPLICAS = 3
WINDOW = 0.98
KINDS = ["PERMUTATION_KIND_OMISSION", "PERMUTATION_KIND_TRANSPOSITION", "PERMUTATION_KIND_REPLACEMENT",
         "PERMUTATION_KIND_ADDITION", "PERMUTATION_KIND_BITSQUATTING"]


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_peers(script):
    proc = subprocess.Popen(["/usr/bin/python3", script, "--until-signal"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    os.set_blocking(proc.stdout.fileno(), False)
    line = b""
    while not line.endswith(b"\n"):
        piece = proc.stdout.read()
        if piece:
            line += piece
        elif proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            sys.exit(f"global_limits_test: registry_peers.py did not start: {line!r} {proc.stderr.read()!r}")
        else:
            time.sleep(0.02)
    return proc, json.loads(line)


def peers_stats(http_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/stats", timeout=10) as r:
        return json.loads(r.read())


def peers_reset(http_port):
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as r:
        r.read()


def arrivals(stats):
    """Every RDAP request's arrival (time.monotonic()), sorted."""
    return sorted(t for times in stats["times"].values() for t in times)


def most_in_a_window(times, start=float("-inf"), end=float("inf")):
    """The most requests in any WINDOW-long span that lies within [start, end]."""
    inside = [t for t in times if start <= t <= end]
    most, j = 0, 0
    for i, t in enumerate(inside):
        while inside[j] <= t - WINDOW:
            j += 1
        most = max(most, i - j + 1)
    return most


def whois_of(record):
    found = [e for e in record.get("enrichments", []) if e.get("enricher") == "ENRICHER_WHOIS"]
    return found[0] if found else {}


def request_for(domain):
    return {"domain": domain, "kinds": KINDS, "enrichers": ["ENRICHER_DNS", "ENRICHER_WHOIS"]}


def scan_all(c, grpcurl, pairs, what):
    """One EnrichDomain stream per (server, domain), all at once; their records by domain."""
    results = {}

    def run(server, domain):
        try:
            records, _, code, err, _ = enrich_stream(grpcurl, server.address, request_for(domain), max_time=240)
        except ValueError as e:
            records, code, err = {}, 1, str(e)
        results[domain] = (records, code, err)

    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    return threads, results


def finish(c, threads, results, what):
    for t in threads:
        t.join(timeout=300)
        c.expect(not t.is_alive(), f"{what}: the scan ended")
    for domain, (records, code, err) in sorted(results.items()):
        asked = [r for r in records.values() if "whois" in whois_of(r)]
        failed = [r["domain_ascii"] for r in records.values()
                  if whois_of(r).get("status") and whois_of(r)["status"].get("code") not in (None, 0, 5)]
        c.expect(code == 0 and records, f"{what}: {domain}: the stream ends OK with {len(records)} records, "
                 f"{len(asked)} whois answers (grpcurl exit {code}{': ' + err.strip() if err.strip() else ''})")
        c.expect(not failed, f"{what}: {domain}: no whois failed ({failed[:5]})")
    return {d: r for d, (r, _, _) in results.items()}


def fallback_everywhere(servers, value):
    return all(s.metric("squatstream_global_limits_fallback") == value for s in servers)


def main():
    grpcurl, squatstreamd, peers_script, redis_script = sys.argv[1:5]
    require_tool(grpcurl, "grpcurl")
    redis_peer = load_module(redis_script, "redis_peer")
    c = Checks()
    peers, ports = start_peers(peers_script)
    http_port = ports["http_port"]
    redis = redis_peer.Server("")
    try:
        error = redis.start()
        if error:
            sys.exit(f"global_limits_test: {error}")
        redis_port = redis.port
        with tempfile.TemporaryDirectory(prefix="squatstream-global-limits-") as tmp:
            bootstrap = os.path.join(tmp, "dns.json")
            with open(bootstrap, "w") as f:
                json.dump({"description": "global_limits_test", "publication": "2026-01-01T00:00:00Z",
                           "version": "1.0",
                           "services": [[["example"], [f"http://127.0.0.1:{http_port}/registry/"]]]}, f)
            flags = ["--stub_enrichers=dns,geo,banner", f"--rdap_bootstrap_file={bootstrap}",
                     "--rdap_bootstrap_url=", "--dial_allow_cidrs=127.0.0.0/8",
                     f"--whois_server=127.0.0.1:{ports['whois_iana_port']}",
                     f"--registration_rate_limit={RATE}", f"--registration_max_per_server={PLACES}",
                     "--registration_deadline=300s", "--registration_timeout=5s",
                     f"--redis_address=127.0.0.1:{redis_port}", f"--redis_fallback_replicas={REPLICAS}",
                     "--redis_timeout=200ms"]
            with Server(squatstreamd, flags) as a, Server(squatstreamd, flags) as b, \
                    Server(squatstreamd, flags) as d:
                servers = [a, b, d]
                wait_for(lambda: fallback_everywhere(servers, 0), 30, "every replica on Redis (fallback 0)")

                # 1. Three scans at once: the rate holds in total.
                peers_reset(http_port)
                threads, results = scan_all(c, grpcurl, [(a, "alphaone.example"), (b, "bravotwo.example"),
                                                         (d, "charlie.example")], "pass 1")
                first = finish(c, threads, results, "pass 1")
                times = arrivals(peers_stats(http_port))
                c.expect(len(times) >= 3 * RATE, f"pass 1: {len(times)} requests at the registry (enough to "
                         f"span several seconds)")
                most = most_in_a_window(times)
                c.expect(most <= RATE, f"pass 1: at most {RATE} requests in any {WINDOW}-s window over the three "
                         f"replicas: {most} (span {times[-1] - times[0]:.1f} s)" if times else "pass 1: no request")

                # 2. The first replica's names from the second: the shared cache, no request.
                hits = peers_stats(http_port)["hits"]
                threads, results = scan_all(c, grpcurl, [(b, "alphaone.example")], "pass 2")
                again = finish(c, threads, results, "pass 2")["alphaone.example"]
                answered = [n for n, r in first["alphaone.example"].items() if "whois" in whois_of(r)]
                not_cached = [n for n in answered
                              if not whois_of(again.get(n, {})).get("whois", {}).get("cached", False)]
                c.expect(answered and not not_cached, f"pass 2: the {len(answered)} names the registry answered "
                         f"for replica 1 are cached on replica 2 ({not_cached[:5] or 'all cached'})")
                c.expect(peers_stats(http_port)["hits"] == hits, "pass 2: no request at the registry")

                # 3. Redis killed mid-run: every replica on its share; the total still holds.
                peers_reset(http_port)
                threads, results = scan_all(c, grpcurl, [(a, "deltafour.example"), (b, "echofive.example"),
                                                         (d, "foxtrotsix.example")], "pass 3")
                wait_for(lambda: len(arrivals(peers_stats(http_port))) >= 2 * RATE, 60,
                         "pass 3: the registry asked on Redis's limits")
                redis.kill()
                wait_for(lambda: fallback_everywhere(servers, 1), 30, "every replica in fallback (gauge 1)")
                fell_back = time.monotonic()
                finish(c, threads, results, "pass 3")
                times = arrivals(peers_stats(http_port))
                after = [t for t in times if t >= fell_back]
                c.expect(len(after) >= 2 * RATE, f"pass 3: {len(after)} requests while Redis was down")
                most = most_in_a_window(times, start=fell_back)
                c.expect(most <= RATE, f"pass 3: at most {RATE} requests in any {WINDOW}-s window with Redis down, "
                         f"each replica on its share: {most}")
                print(f"info  pass 3: most in a window around the switch (not asserted): {most_in_a_window(times)}")

                # 4. Redis back: global again.
                error = redis.start(port=redis_port)
                c.expect(error is None, f"Redis started again on port {redis_port} ({error or 'ok'})")
                wait_for(lambda: fallback_everywhere(servers, 0), 60, "every replica back on Redis (gauge 0)")
                peers_reset(http_port)
                threads, results = scan_all(c, grpcurl, [(a, "golfseven.example"), (b, "hoteleight.example"),
                                                         (d, "indianine.example")], "pass 4")
                finish(c, threads, results, "pass 4")
                times = arrivals(peers_stats(http_port))
                c.expect(len(times) >= 3 * RATE, f"pass 4: {len(times)} requests at the registry")
                most = most_in_a_window(times)
                c.expect(most <= RATE, f"pass 4: at most {RATE} requests in any {WINDOW}-s window, Redis back: "
                         f"{most}")
    finally:
        redis.cleanup()
        stop(peers)
    if c.failures:
        print(f"FAILED: {len(c.failures)} checks")
        sys.exit(1)
    print("PASSED")


if __name__ == "__main__":
    main()
