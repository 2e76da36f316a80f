#!/usr/bin/env python3
"""A user's scan through a recursive resolver (issue 27), in one run, all on loopback:

    client ─▶ unbound (recursive, 127.0.0.153:53, cold cache per run)
           ─▶ delay relay (each answer held 20–80 ms) ─▶ nsd (authoritative for every candidate's TLD; ~5% of the candidates registered)

The fixture is bench/run_dns_bench.py's (imported): every candidate of example.com and paypal.com (squatstream's
list and dnstwist's), one zone per top-level label, ~5% registered (A, AAAA, MX) and NXDOMAIN for the rest.

Measured for example.com and paypal.com, each run against a fresh unbound (its cache cold) and a fresh squatstreamd
(its DNS cache cold):
  * squatstream adaptive (`--dns_pacing=adaptive`, no --dns_rate_limit: the default) — skipped, with a note, when
    the built squatstreamd has no --dns_pacing flag;
  * squatstream at the old fixed rate (`--dns_pacing=fixed --dns_rate_limit=100`; before --dns_pacing existed,
    `--dns_rate_limit=100`, which was the default);
  * dnstwist 20250130 (.tools/dnstwist) `--nameservers 127.0.0.153` at its default threads (min(32, cpus+4)) and
    at 32, 64 and 128, the best kept;
for each: the wall time of the default scan (all candidates, every record printed) and of the registered-only scan
(CLI --registered; dnstwist --registered), and in the registered-only scan the time to the first registered
record and to half of the registered names the fixture holds for that tool's candidates, taken from the client's
output read line by line as it comes (squatstream's JSON lines through `stdbuf -oL`; dnstwist's CSV).
The non-DNS stages are squatstreamd's stubs (--stub_enrichers=geo,whois,banner): the request is a default one.

Then the rate-limiting resolver: the same unbound with `ip-ratelimit: LIMIT` (more queries a second from one
address are dropped, no answer) and with `ratelimit: LIMIT` (more queries a second sent to one zone's servers are
answered SERVFAIL), a default scan of example.com by squatstream adaptive and fixed 100/s, verdicts counted:
registered, NXDOMAIN, unknown by the last query's RCODE (TIMEOUT, SERVFAIL, REFUSED ...), and the verdicts
that differ from the fixture's.

Writes docs/bench/resolver.json and the table between the RESOLVER markers of docs/BENCHMARKS.md. Needs root
(unbound on port 53 of 127.0.0.153: dnstwist's --nameservers takes no port) and the ci build (squatstreamd,
squatstream, permute_bench). Nothing leaves loopback: squatstreamd and dnstwist are given 127.0.0.153 only, and
unbound asks only the relay (its stub zones include ".").

usage: sudo bench/run_resolver_bench.py [--build=build/ci] [--quick] [--limit=150] [--only=squatstream|dnstwist]
       --quick: example.com only, the registered-only scan, one dnstwist setting, no rate-limited runs; prints
       the table, writes nothing.
"""
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "tools"))
import benchmarks_doc  # noqa: E402
import run_dns_bench  # noqa: E402  (its fixture: zones and the ~5% registered)
from delay_relay import DelayRelay  # noqa: E402
from nsd import Nsd  # noqa: E402
from squatstreamd import MetricPeak, Server  # noqa: E402
from unbound import Unbound  # noqa: E402

BUILD = os.path.join(ROOT, "build/ci")
QUICK = "--quick" in sys.argv
LIMIT = 150
ONLY = ""
for arg in sys.argv[1:]:
    if arg.startswith("--build="):
        BUILD = os.path.abspath(arg.split("=", 1)[1])
    elif arg.startswith("--limit="):
        LIMIT = int(arg.split("=", 1)[1])
    elif arg.startswith("--only="):
        ONLY = arg.split("=", 1)[1]
SQUATSTREAMD = os.path.join(BUILD, "daemon/squatstreamd")
SQUATSTREAM = os.path.join(BUILD, "client/squatstream")
DNSTWIST = os.path.join(ROOT, ".tools/dnstwist/bin/dnstwist")
DOMAINS = ["example.com"] if QUICK else ["example.com", "paypal.com"]
RESOLVER_ADDRESS = "127.0.0.153"  # port 53: dnstwist's --nameservers takes addresses only
DELAY_MS = (20, 80)
DNSTWIST_DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)  # dnstwist's THREAD_COUNT_DEFAULT
DNSTWIST_THREADS = [DNSTWIST_DEFAULT_THREADS] if QUICK else [DNSTWIST_DEFAULT_THREADS, 32, 64, 128]
RUN_TIMEOUT = 900  # seconds, any one client run


def has_pacing_flag():
    out = subprocess.run([SQUATSTREAMD, "--helpfull"], capture_output=True, text=True).stdout
    return "--dns_pacing" in out


def build_identity():
    """What was measured: the source tree's commit (and whether it had uncommitted changes) when the binaries were
    copied, and the DNS flags' defaults the copied squatstreamd prints."""
    described = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                               text=True).stdout.strip()
    helpfull = subprocess.run([SQUATSTREAMD, "--helpfull"], capture_output=True, text=True).stdout
    defaults = {m.group(1): m.group(2) for m in re.finditer(r"--(dns_\w+) \(.*?\); default: ([^;]*);", helpfull, re.S)}
    return {"source": described, "dns_defaults": defaults}


def squatstream_candidates(domain):
    out = subprocess.run([os.path.join(BUILD, "bench/permute_bench"), f"--list={domain}"], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("\t")[0] for line in out.splitlines() if line]


def dnstwist_candidates(domain):
    out = subprocess.run([DNSTWIST, "--format", "list", domain], check=True, capture_output=True, text=True).stdout
    return [n for n in out.split() if n != domain]


def cpu_seconds(pid):
    """CPU time (user + system) of process `pid` and its descendants still running, from /proc."""
    total, todo, ticks = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError, IndexError):
            pass
    return total


class CpuMeter:
    """CPU seconds each named process (and its children) and the clients this script waited for spent between
    start() and stop(): where the two cores went in a run."""

    def __init__(self, pids):
        self.pids = pids  # {name: pid}

    def start(self):
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.client_before = usage.ru_utime + usage.ru_stime
        return self

    def stop(self):
        out = {name: round(cpu_seconds(pid) - self.before[name], 2) for name, pid in self.pids.items()}
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["client"] = round(usage.ru_utime + usage.ru_stime - self.client_before, 2)
        return out


def timed_lines(args, timeout):
    """Runs `args`, reading its stdout line by line; returns (wall seconds, [(seconds since start, line)],
    stderr text, exit code). Killed after `timeout` s."""
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        lines = []
        try:
            for line in proc.stdout:
                lines.append((time.monotonic() - start, line))
                if time.monotonic() - start > timeout:
                    break
        finally:
            # Past its time, or this script interrupted: the client goes too.
            if proc.poll() is None and (time.monotonic() - start > timeout or sys.exc_info()[0] is not None):
                proc.kill()
            proc.wait(timeout=60)
        wall = time.monotonic() - start
        err.seek(0)
        return wall, lines, err.read().decode("utf-8", "replace"), proc.returncode


def first_and_half(times, expected):
    """Seconds to the first registered name and to half of `expected` (None when never reached)."""
    times = sorted(times)
    half = math.ceil(expected / 2)
    return (round(times[0], 2) if times else None,
            round(times[half - 1], 2) if expected and len(times) >= half else None)


def squatstream_run(resolver, domain, variant, flags, registered_only, expected, path):
    with Server(SQUATSTREAMD, ["--stub_enrichers=geo,whois,banner", f"--dns_servers={resolver.server}"] + flags,
                stop_timeout=60) as server:
        args = ["stdbuf", "-oL", SQUATSTREAM, f"--server={server.address}", "--format=json", "--deadline=15m",
                domain] + (["--registered"] if registered_only else [])
        meter = CpuMeter(dict(path, unbound=resolver.proc.pid, squatstreamd=server.proc.pid)).start()
        with MetricPeak(server, "squatstream_dns_pace_qps", every=0.1) as pace:
            wall, lines, err, code = timed_lines(args, RUN_TIMEOUT)
        cpu = meter.stop()
        verdicts, registered_at, wrong = {}, [], 0
        for at, line in lines:
            record = json.loads(line)
            dns = next((e for e in record.get("enrichments", []) if e.get("enricher") == "ENRICHER_DNS"), {})
            verdict = dns.get("dns", {}).get("verdict", "DNS_VERDICT_UNSPECIFIED").replace("DNS_VERDICT_", "")
            if verdict not in ("REGISTERED", "UNREGISTERED", "WILDCARD"):
                queries = dns.get("dns", {}).get("queries", [])
                verdict = "unknown " + (queries[-1].get("rcode", "?") if queries else dns.get("status", {}).get(
                    "message", "?"))
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            if verdict == "REGISTERED":
                registered_at.append(at)
            fixture_says = run_dns_bench.registered(record["domain_ascii"])
            if (verdict == "REGISTERED") != fixture_says and verdict in ("REGISTERED", "UNREGISTERED"):
                wrong += 1
        first, half = first_and_half(registered_at, expected)
        run = {"who": "squatstream", "variant": variant, "flags": flags, "domain": domain,
               "registered_only": registered_only, "wall_s": round(wall, 2), "exit": code,
               "records": len(lines), "registered": len(registered_at), "expected_registered": expected,
               "first_registered_s": first, "half_registered_s": half, "verdicts": verdicts,
               "verdicts_contradicting_fixture": wrong,
               "dns_queries": server.metric("squatstream_dns_queries_total"),
               "backoffs": server.metric("squatstream_dns_pace_backoffs_total"), "cpu_s": cpu,
               "peak_pace_qps": round(pace.peak), "queries_per_s": round(
                   server.metric("squatstream_dns_queries_total") / wall),
               "summary": err.strip().splitlines()[0] if err.strip() else ""}
        print("squatstream", json.dumps(run), flush=True)
        return run


def dnstwist_run(resolver, domain, threads, registered_only, expected, candidates, path):
    args = [DNSTWIST, "--nameservers", resolver.server.rsplit(":", 1)[0], "--threads", str(threads),
            "--format", "csv", domain] + (["--registered"] if registered_only else [])
    meter = CpuMeter(dict(path, unbound=resolver.proc.pid)).start()
    wall, lines, err, code = timed_lines(args, RUN_TIMEOUT)
    cpu = meter.stop()
    registered_at, servfail = [], 0
    for at, line in lines[1:]:  # the CSV header first
        fields = line.rstrip("\n").split(",")
        name = fields[1] if len(fields) > 1 else ""
        if "!ServFail" in line:
            servfail += 1
        # dnstwist prints a row for every name it found records for (and with !ServFail): registered are the
        # rows the fixture registers.
        if name != domain and run_dns_bench.registered(name) and any(f for f in fields[2:]):
            registered_at.append(at)
    first, half = first_and_half(registered_at, expected)
    run = {"who": "dnstwist", "threads": threads, "domain": domain, "registered_only": registered_only,
           "wall_s": round(wall, 2), "exit": code, "rows": max(0, len(lines) - 1), "candidates": candidates,
           "registered": len(registered_at), "expected_registered": expected, "first_registered_s": first,
           "half_registered_s": half, "servfail_rows": servfail, "cpu_s": cpu}
    print("dnstwist", json.dumps(run), flush=True)
    return run


def fmt(value, unit=" s"):
    return "–" if value is None else f"{value:,}{unit}" if isinstance(value, int) else f"{value:.1f}{unit}"


def main():
    global SQUATSTREAMD, SQUATSTREAM, BUILD
    # SIGTERM unwinds like an exception, so that every server this started is stopped and its files removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("run_resolver_bench: terminated"))
    if os.geteuid() != 0:
        sys.exit("run_resolver_bench: needs root (unbound on port 53 of 127.0.0.153, for dnstwist)")
    for path in (SQUATSTREAMD, SQUATSTREAM, DNSTWIST):
        if not os.access(path, os.X_OK):
            sys.exit(f"run_resolver_bench: {path} missing (cmake --build build/ci; scripts/install-deps.sh)")
    # The binaries copied first: a rebuild of build/ci while this runs changes nothing here.
    snapshot = tempfile.mkdtemp(prefix="squatstream-resolver-bench-")
    for part in ("daemon/squatstreamd", "client/squatstream", "bench/permute_bench"):
        os.makedirs(os.path.join(snapshot, os.path.dirname(part)), exist_ok=True)
        shutil.copy2(os.path.join(BUILD, part), os.path.join(snapshot, part))
    BUILD = snapshot
    SQUATSTREAMD = os.path.join(BUILD, "daemon/squatstreamd")
    SQUATSTREAM = os.path.join(BUILD, "client/squatstream")
    try:
        run(has_pacing_flag(), build_identity())
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


def run(adaptive, identity):
    variants = []
    if adaptive:
        variants.append(("adaptive", ["--dns_pacing=adaptive"]))
        variants.append(("fixed 100/s", ["--dns_pacing=fixed", "--dns_rate_limit=100"]))
    else:
        print("note: this squatstreamd has no --dns_pacing flag: the adaptive variant is skipped", flush=True)
        variants.append(("fixed 100/s", ["--dns_rate_limit=100"]))
    notes = [] if adaptive else ["squatstream adaptive: not measured (this build has no --dns_pacing)"]

    ours = {d: squatstream_candidates(d) for d in DOMAINS}
    theirs = {d: dnstwist_candidates(d) for d in DOMAINS}
    names = sorted(set(n for d in DOMAINS for n in ours[d] + theirs[d]))
    zones, _ = run_dns_bench.fixture(names)
    expected = {(who, d): sum(map(run_dns_bench.registered, set(lst[d]))) for who, lst in
                (("squatstream", ours), ("dnstwist", theirs)) for d in DOMAINS}
    print(f"fixture: {len(names)} names in {len(zones)} zones, "
          f"{sum(map(run_dns_bench.registered, names))} registered; expected {expected}", flush=True)

    results = {"delay_ms": DELAY_MS, "resolver": "unbound " + subprocess.run(
        ["/usr/sbin/unbound", "-V"], capture_output=True, text=True).stdout.split("\n")[0],
        "fixture_names": len(names), "runs": [], "rate_limited": [], "notes": notes, "build": identity,
        "machine": f"{os.cpu_count()} cores, " + open("/proc/cpuinfo").read().split("model name")[1]
        .split(":")[1].split("\n")[0].strip()}

    def fresh_resolver(**limits):
        return Unbound(list(zones), relay.server, address=RESOLVER_ADDRESS, port=53, **limits)

    with Nsd(zones) as nsd, DelayRelay(nsd.server, delay_ms=DELAY_MS) as relay:
        path = {"nsd": nsd.proc.pid, "relay": relay.proc.pid}
        for domain in DOMAINS:
            if ONLY in ("", "squatstream"):
                for variant, flags in variants:
                    for registered_only in ([True] if QUICK else [False, True]):
                        with fresh_resolver() as resolver:
                            results["runs"].append(squatstream_run(resolver, domain, variant, flags,
                                                                   registered_only,
                                                                   expected[("squatstream", domain)], path))
            if ONLY in ("", "dnstwist"):
                twist = []
                for threads in DNSTWIST_THREADS:
                    with fresh_resolver() as resolver:
                        twist.append(dnstwist_run(resolver, domain, threads, True, expected[("dnstwist", domain)],
                                                  len(theirs[domain]), path))
                best = min(twist, key=lambda r: r["wall_s"])
                for threads in sorted({DNSTWIST_DEFAULT_THREADS, best["threads"]}):
                    if QUICK:
                        break
                    with fresh_resolver() as resolver:
                        twist.append(dnstwist_run(resolver, domain, threads, False, expected[("dnstwist", domain)],
                                                  len(theirs[domain]), path))
                for r in twist:
                    r["best"] = r["threads"] == best["threads"]
                results["runs"] += twist
        if not QUICK and ONLY in ("", "squatstream"):
            for kind, limits in (("ip-ratelimit (drops)", {"ip_ratelimit": LIMIT}),
                                 ("ratelimit (SERVFAIL)", {"ratelimit": LIMIT})):
                for variant, flags in variants:
                    with fresh_resolver(**limits) as resolver:
                        run = squatstream_run(resolver, "example.com", variant, flags, False,
                                              expected[("squatstream", "example.com")], path)
                        run["limit"] = f"{kind} {LIMIT}/s"
                        results["rate_limited"].append(run)

    table = render(results)
    print(table)
    if not QUICK:
        os.makedirs(os.path.join(ROOT, "docs/bench"), exist_ok=True)
        with open(os.path.join(ROOT, "docs/bench/resolver.json"), "w") as f:
            json.dump(results, f, indent=1)
        benchmarks_doc.write_section("RESOLVER", table, "Through a recursive resolver")


def cpu_cell(run):
    c = run.get("cpu_s", {})
    return " / ".join(f"{c[k]:.1f}" if k in c else "–" for k in ("squatstreamd", "unbound", "relay", "nsd", "client"))


def build_note(build):
    if not build:
        return ""
    d = build["dns_defaults"]
    return (f" squatstreamd at {build['source']}, its defaults --dns_tries={d.get('dns_tries', '?')} "
            f"--dns_max_inflight={d.get('dns_max_inflight', '?')} --dns_timeout={d.get('dns_timeout', '?')}.")


def render(results):
    rows = ["| domain | who | setting | candidates | default scan | names/s | registered only | first registered | "
            "half registered | registered found / in fixture | CPU s: squatstreamd / unbound / relay / nsd / client |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    runs = results["runs"]
    domains = sorted({r["domain"] for r in runs}, key=lambda d: DOMAINS.index(d))
    for domain in domains:
        keys = []
        for r in runs:
            key = (r["who"], r.get("variant") or r.get("threads"))
            if r["domain"] == domain and key not in keys:
                keys.append(key)
        for who, setting in keys:
            mine = [r for r in runs if r["domain"] == domain and r["who"] == who and
                    (r.get("variant") or r.get("threads")) == setting]
            full = next((r for r in mine if not r["registered_only"]), None)
            reg = next((r for r in mine if r["registered_only"]), None)
            if who == "squatstream":
                label = f"squatstream {setting}"
                candidates = full["records"] if full else None
            else:
                default = " (default)" if setting == DNSTWIST_DEFAULT_THREADS else ""
                best = " (best)" if mine[0].get("best") else ""
                label = f"dnstwist {setting} threads{default}{best}"
                candidates = mine[0]["candidates"]
            setting_cell = " ".join(mine[0].get("flags", [])) or f"--threads {setting}"
            if who == "squatstream" and full:
                setting_cell += f" ({full['queries_per_s']:,} queries/s" + (
                    f", paced up to {full['peak_pace_qps']:,}/s)" if full["peak_pace_qps"] else ")")
            rows.append(f"| {domain} | {label} | {setting_cell} "
                        f"| {fmt(candidates, '')} | {fmt(full['wall_s'] if full else None)} "
                        f"| {fmt(round(candidates / full['wall_s']) if full and candidates else None, '')} "
                        f"| {fmt(reg['wall_s'] if reg else None)} | {fmt(reg['first_registered_s'] if reg else None)} "
                        f"| {fmt(reg['half_registered_s'] if reg else None)} "
                        f"| {reg['registered'] if reg else '–'} / {reg['expected_registered'] if reg else '–'} "
                        f"| {cpu_cell(full or reg)} |")
    if results["rate_limited"]:
        rows += ["", "| resolver limit | squatstream | default scan | registered | NXDOMAIN | unknown (last RCODE) | "
                     "contradicting the fixture | DNS queries sent | back-offs |",
                 "|---|---|---:|---:|---:|---|---:|---:|---:|"]
        for r in results["rate_limited"]:
            v = r["verdicts"]
            unknown = ", ".join(f"{k[8:]} {n}" for k, n in sorted(v.items()) if k.startswith("unknown ")) or "0"
            rows.append(f"| {r['limit']} | {r['variant']} | {fmt(r['wall_s'])} | {v.get('REGISTERED', 0)} | "
                        f"{v.get('UNREGISTERED', 0)} | {unknown} | {r['verdicts_contradicting_fixture']} | "
                        f"{r['dns_queries']:,.0f} | {r['backoffs']:,.0f} |")
    rows.append("")
    rows.append(f"Delay relay {results['delay_ms'][0]}–{results['delay_ms'][1]} ms per answer between "
                f"{results['resolver']} and nsd; {results['fixture_names']:,} names in the fixture; "
                f"{results['machine']}." + build_note(results.get("build")) + ("" if not results["notes"] else " " + "; ".join(results["notes"]) + "."))
    return "\n".join(rows)


if __name__ == "__main__":
    main()
