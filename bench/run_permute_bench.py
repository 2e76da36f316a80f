#!/usr/bin/python3
"""Runs the permutation-engine benchmark and Debian's dnstwist on the same domains in one run, keeps the JSON,
and writes the side-by-side tables into docs/BENCHMARKS.md between its PERMUTE markers.

dnstwist is timed in-process (its Fuzzer.generate(), the same work as `dnstwist --format list`: permute,
IDNA-encode, validate, deduplicate), so interpreter start-up is not counted against it. Nothing here touches
the network: --format list and Fuzzer.generate() never resolve names.

usage: bench/run_permute_bench.py [path/to/permute_bench]   (default build/dev/bench/permute_bench)
"""
import collections
import json
import os
import platform
import subprocess
import sys
import time

import benchmarks_doc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/dev/bench/permute_bench")
OUT = os.path.join(ROOT, "docs/bench")
# (name asked, name benchmarked): github.io is itself a public suffix, so a name under it is benchmarked.
DOMAINS = [("example.com", "example.com"), ("google.com", "google.com"), ("paypal.com", "paypal.com"),
           ("github.io", "octocat.github.io"), ("xn--80ak6aa92e.com", "xn--80ak6aa92e.com"),
           ("internationalbusinessmachines.com", "internationalbusinessmachines.com")]
SHORT = {"example.com", "google.com", "paypal.com", "octocat.github.io", "xn--80ak6aa92e.com"}

DNSTWIST_TIMER = r"""
import collections, json, sys, time
sys.argv = ['dnstwist']
import dnstwist
domain = SYS_DOMAIN
f = dnstwist.Fuzzer(domain)
t0 = time.perf_counter()
f.generate()
seconds = time.perf_counter() - t0
names = [p for p in f.domains if p['fuzzer'] != '*original']
kinds = collections.Counter(p['fuzzer'] for p in names)
print(json.dumps({'seconds': seconds, 'names': len(names), 'kinds': kinds}))
"""


def dnstwist(domain):
    code = DNSTWIST_TIMER.replace("SYS_DOMAIN", repr(domain))
    out = subprocess.run(["/usr/bin/python3", "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    raw = os.path.join(OUT, "permute.json")
    subprocess.run([BIN, "--benchmark_format=json", f"--benchmark_out={raw}", "--benchmark_out_format=json",
                    "--benchmark_min_time=0.2"], check=True, stdout=subprocess.DEVNULL)
    ours = {b["name"]: b for b in json.load(open(raw))["benchmarks"]}
    theirs = {}
    for asked, _ in DOMAINS:
        theirs[asked] = dnstwist(asked)
        print(f"dnstwist {asked}: {theirs[asked]['names']} names in {theirs[asked]['seconds']:.3f} s", flush=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    date = time.strftime("%Y-%m-%d")
    lines = [f"Machine: {cpu}, {os.cpu_count()} cores; {date}; `{os.path.relpath(BIN, ROOT)}` (dev preset, "
             f"RelWithDebInfo) and dnstwist {dnstwist_version()} (Debian), both timed in the same run of "
             "`bench/run_permute_bench.py`. squatstream: every kind, drained through `Generator::Next()`; "
             "dnstwist: `Fuzzer.generate()` in-process (what `--format list` runs), default kinds.", "",
             "| domain | squatstream names | squatstream names/s | first candidate | dnstwist names | "
             "dnstwist names/s | rate ratio |", "|---|---|---|---|---|---|---|"]
    for asked, bench in DOMAINS:
        g = ours[f"BM_Generate/{bench}/all"]
        first = ours[f"BM_FirstCandidate/{bench}"]
        t = theirs[asked]
        rate_t = t["names"] / t["seconds"] if t["seconds"] > 0 else 0
        ratio = g["names_per_second"] / rate_t if rate_t > 0 else float("inf")
        lines.append(f"| {bench} | {g['names']:.0f} | {g['names_per_second'] / 1e6:.2f}M | "
                     f"{first['real_time']:.0f} µs | {t['names']} | {rate_t / 1e3:.1f}k | {ratio:.0f}× |")
    lines += ["", "Names per kind (squatstream, counted by every kind that produces a name / dnstwist, counted by "
              "the kind it kept) and squatstream's names/s for that kind alone:", ""]
    kinds = sorted({b["name"].split("/")[2] for b in ours.values() if b["name"].startswith("BM_Generate/")} - {"all"})
    header = "| kind | " + " | ".join(b for _, b in DOMAINS) + " | names/s (example.com) |"
    lines += [header, "|---|" + "---|" * (len(DOMAINS) + 1)]
    for k in kinds:
        cells = []
        for asked, bench in DOMAINS:
            mine = ours[f"BM_Generate/{bench}/{k}"]["names"]
            dt = theirs[asked]["kinds"].get(k)
            cells.append(f"{mine:.0f} / {dt}" if dt is not None else f"{mine:.0f} / –")
        rate = ours[f"BM_Generate/example.com/{k}"]["names_per_second"]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {rate / 1e6:.2f}M |")
    table = "\n".join(lines)
    benchmarks_doc.write_section("PERMUTE", table, "Permutation engine vs dnstwist")
    print(table)


def dnstwist_version():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "dnstwist"], capture_output=True, text=True).stdout
    return out or "?"


if __name__ == "__main__":
    main()
