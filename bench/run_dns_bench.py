#!/usr/bin/env python3
"""The DNS stage's benchmark, in one run, against one authoritative nsd on 127.0.0.1:53 (Debian's nsd,
rate limiting off, one server process, sharing the machine's cores with whatever it serves):

1. the fixture: every candidate of example.com (squatstream's own list, permute_bench --list), one zone per
   top-level label, and ~5% of the candidates registered (A, AAAA and MX records) — NXDOMAIN for the rest;
2. the ceiling: dnsperf (Debian) against that nsd with squatstream's query mix (NS for every candidate; A,
   AAAA, MX, CNAME and TXT for the registered ones), best of a few client settings;
3. squatstream: squatstreamd with the real DNS stage only (cache off, no rate limit; fixed pacing, the engine's
   speed, and adaptive pacing, the default, which must find that speed itself), driven by
   squatstream-load (registered_only, enrichers=dns): candidates resolved per second and DNS queries per
   second (from its own squatstream_dns_queries_total);
4. dnstwist (upstream, .tools/dnstwist, with dnspython): `--registered --nameservers 127.0.0.1 --threads N`
   for a few N; names/s = its candidate count / wall time.

Writes docs/bench/dns.json and the table between the DNS markers of docs/BENCHMARKS.md. Nothing leaves the
loopback interface: every resolver here is pointed at 127.0.0.1, and dnstwist runs with no option that
fetches anything else. Needs root (port 53, for dnstwist, whose --nameservers takes no port) and the dev build
(squatstreamd, squatstream-load, permute_bench).

usage: bench/run_dns_bench.py [--seconds=10] [--quick]
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import benchmarks_doc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e", "tools"))
from nsd import Nsd, registered_zones  # noqa: E402  (tests/e2e/tools/nsd.py: the tests' nsd, here on port 53)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SQUATSTREAM_BUILD", os.path.join(ROOT, "build/dev"))  # or build/ci: the same flags
DNSTWIST = os.path.join(ROOT, ".tools/dnstwist/bin/dnstwist")
DOMAIN = "example.com"  # dnstwist's, and the fixture's ~5%
# squatstream's load: as many streams as domains, each on its own domain (streams asking the same names at
# once would share queries in flight), all of their candidates in the fixture.
LOAD_DOMAINS = ["example.com", "google.com", "paypal.com", "wikipedia.org"]
PORT = 53
SECONDS = 10
QUICK = "--quick" in sys.argv
for arg in sys.argv[1:]:
    if arg.startswith("--seconds="):
        SECONDS = float(arg.split("=", 1)[1])


def candidates(domain):
    out = subprocess.run([os.path.join(BUILD, "bench/permute_bench"), f"--list={domain}"], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t")[0] for line in out.splitlines() if line]


def registered(name):  # ~5%, fixed per name
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 20 == 0


def fixture(names):
    """The zones (one per top-level label; ~5% of the names registered) and squatstream's query mix."""
    zones = registered_zones(names, registered)
    queries = []
    for name in names:
        queries.append(f"{name} NS")
        if registered(name):
            queries += [f"{name} {t}" for t in ("A", "AAAA", "MX", "CNAME", "TXT")]
    return zones, "\n".join(queries) + "\n"


def dnsperf(queries_path):
    best = None
    for clients, outstanding in ([(1, 500)] if QUICK else [(1, 200), (1, 1000), (4, 1000)]):
        out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(PORT), "-d", queries_path,
                              "-l", str(SECONDS), "-c", str(clients), "-q", str(outstanding), "-T", "1"],
                             capture_output=True, text=True).stdout
        qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
        lost = re.search(r"Queries lost:\s+(\d+)", out).group(1)
        run = {"clients": clients, "max_outstanding": outstanding, "qps": qps, "lost": int(lost)}
        print("dnsperf", run, flush=True)
        if best is None or qps > best["qps"]:
            best = run
    return best


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(m.group(1)) for m in re.finditer(r"^squatstream_dns_queries_total\{[^}]*\} (\S+)$", text, re.M))


def squatstream(inflight, threads, pacing="fixed"):
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")
    server = subprocess.Popen([os.path.join(BUILD, "daemon/squatstreamd"), "--grpc_address=127.0.0.1:0",
                               "--metrics_address=127.0.0.1:0", "--stub_enrichers=geo,whois,banner",
                               f"--worker_threads={threads}",
                               f"--dns_servers=127.0.0.1:{PORT}", "--dns_rate_limit=0", f"--dns_pacing={pacing}",
                               f"--dns_max_inflight={inflight}", "--dns_cache_entries=0", "--dns_tries=2",
                               "--dns_timeout=1s"], stdout=log, stderr=log)
    try:
        for _ in range(200):
            log.seek(0)
            m = re.search(r"serving gRPC on port (\d+), metrics on port (\d+)", log.read())
            if m:
                break
            time.sleep(0.05)
        grpc_port, metrics_port = m.group(1), m.group(2)
        before, start = scrape(metrics_port), time.time()
        out = subprocess.run([os.path.join(BUILD, "client/squatstream-load"), f"--server=127.0.0.1:{grpc_port}",
                              f"--concurrency={len(LOAD_DOMAINS)}", f"--duration={SECONDS}s",
                              f"--domain={','.join(LOAD_DOMAINS)}",
                              "--enrichers=dns", "--registered"],
                             capture_output=True, text=True).stdout
        seconds = time.time() - start
        queries = scrape(metrics_port) - before
        fields = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
        run = {"max_inflight": inflight, "worker_threads": threads, "pacing": pacing, "streams": len(LOAD_DOMAINS),
               "seconds": round(seconds, 2),
               "names_per_second": round(float(fields["candidates"]) / seconds),
               "queries_per_second": round(queries / seconds), "streams_ok": int(fields["streams_ok"]),
               "streams_failed": int(fields["streams_failed"]),
               "registered_records": int(fields["records"])}
        print("squatstream", run, flush=True)
        return run
    finally:
        server.terminate()
        server.wait(timeout=30)


def dnstwist(threads):
    start = time.time()
    out = subprocess.run([DNSTWIST, "--registered", "--nameservers", "127.0.0.1", "--threads", str(threads),
                          "--format", "csv", DOMAIN], capture_output=True, text=True, timeout=600).stdout
    seconds = time.time() - start
    total = len(subprocess.run([DNSTWIST, "--format", "list", DOMAIN], capture_output=True,
                               text=True).stdout.split())
    run = {"threads": threads, "seconds": round(seconds, 2), "candidates": total,
           "registered_found": max(0, len(out.splitlines()) - 1), "names_per_second": round(total / seconds)}
    print("dnstwist", run, flush=True)
    return run


def main():
    names = sorted(set(n for d in LOAD_DOMAINS for n in candidates(d)))
    zones, queries = fixture(names)
    results = []
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as queries_file:
        queries_file.write(queries)
        queries_file.flush()
        for processes in [1] if QUICK else [1, 2]:
            with Nsd(zones, port=PORT, processes=processes):
                result = {"nsd_processes": processes, "domains": LOAD_DOMAINS, "fixture_names": len(names),
                          "registered": sum(map(registered, names)), "seconds_per_run": SECONDS,
                          "dnsperf": dnsperf(queries_file.name)}
                result["squatstream"] = [squatstream(*setting) for setting in
                                         ([(1000, 2), (1000, 2, "adaptive")] if QUICK else
                                          [(256, 2), (1000, 2), (4000, 2), (1000, 1), (1000, 2, "adaptive")])]
                result["dnstwist"] = [dnstwist(t) for t in ([32] if QUICK else [8, 32, 64, 128])]
                results.append(result)
    if not QUICK:  # a quick run is a check of the script, not a result
        os.makedirs(os.path.join(ROOT, "docs/bench"), exist_ok=True)
        with open(os.path.join(ROOT, "docs/bench/dns.json"), "w") as f:
            json.dump(results, f, indent=1)
    rows = ["| nsd processes | who | setting | names/s | queries/s | vs the ceiling |", "|---|---|---|---:|---:|---:|"]
    summary = []
    for result in results:
        p = result["nsd_processes"]
        ceiling = result["dnsperf"]["qps"]
        rows.append(f"| {p} | dnsperf (the ceiling: nsd's answers/s) | {result['dnsperf']['clients']} client(s), "
                    f"{result['dnsperf']['max_outstanding']} outstanding | | {ceiling:,.0f} | 100% |")
        for r in result["squatstream"]:
            rows.append(f"| {p} | squatstream | {r.get('pacing', 'fixed')} pacing, {r['max_inflight']} in flight, "
                        f"{r['worker_threads']} executor thread(s), {r['streams']} streams | {r['names_per_second']:,} | "
                        f"{r['queries_per_second']:,} | {100 * r['queries_per_second'] / ceiling:.0f}% |")
        for r in result["dnstwist"]:
            rows.append(f"| {p} | dnstwist {r['threads']} threads | {r['candidates']:,} names in {r['seconds']} s | "
                        f"{r['names_per_second']:,} | | |")
        best = max(result["squatstream"], key=lambda r: r["queries_per_second"])
        best_twist = max(result["dnstwist"], key=lambda r: r["names_per_second"])
        fixed = [r for r in result["squatstream"] if r.get("pacing", "fixed") == "fixed" and r["max_inflight"] == 1000
                 and r["worker_threads"] == 2]
        adaptive = [r for r in result["squatstream"] if r.get("pacing") == "adaptive"]
        if fixed and adaptive:
            summary.append(f"adaptive pacing {adaptive[0]['names_per_second'] / fixed[0]['names_per_second']:.2f}x "
                           f"fixed (both 1000 in flight, 2 threads)")
        summary.append(f"with {p} nsd process(es): squatstream's best is {100 * best['queries_per_second'] / ceiling:.0f}%"
                       f" of the ceiling's queries/s and {best['names_per_second'] / best_twist['names_per_second']:.0f}x"
                       f" dnstwist's best names/s")
    rows.append("")
    rows.append("; ".join(summary) + f" (fixture: the {len(names):,} candidates of {', '.join(LOAD_DOMAINS)}, "
                f"{results[0]['registered']} of them registered; dnstwist: {DOMAIN}).")
    table = "\n".join(rows)
    print(table)
    if not QUICK:
        benchmarks_doc.write_section("DNS", table, "DNS stage")


if __name__ == "__main__":
    main()
