#!/usr/bin/python3
"""Runs the fan-in benchmark one case per process (so peak RSS is per case), keeps the JSON, draws the
log-log plot with gnuplot, and writes the table into docs/BENCHMARKS.md between its FANIN markers.

usage: bench/run_fanin_bench.py [path/to/fanin_bench]   (default build/dev/bench/fanin_bench)
"""
import json
import os
import platform
import re
import subprocess
import sys
import time

import benchmarks_doc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/dev/bench/fanin_bench")
OUT = os.path.join(ROOT, "docs/bench")
VARIANTS = ["Channel", "StdMutexSwap", "AbslMutexSwap", "AsyncLockSwap", "AtomicExchange", "Lanes", "Moodycamel",
            "ProductionFanIn"]
WORKERS = [2 ** k for k in range(1, 14)]


GRPC_WORKERS = [2, 16, 128, 1024, 8192]


def run_case(variant, w, bench="BM_FanIn"):
    out = subprocess.run([BIN, f"--benchmark_filter=^{bench}<{variant}>/W:{w}/", "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return {"variant": variant, "W": w, "time_us": b["real_time"], "items_per_second": b["items_per_second"],
            "peak_rss_mb": b["peak_rss_mb"], "iterations": b["iterations"]}


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for v in VARIANTS:
        for w in WORKERS:
            r = run_case(v, w)
            rows.append(r)
            print(f"{v:16} W={w:5} {r['time_us']:12.1f} us {r['items_per_second'] / 1e6:9.2f} M/s "
                  f"{r['peak_rss_mb']:7.1f} MB", flush=True)
    cpu = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        cpu = m.group(1) if m else platform.processor()
    meta = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": os.cpu_count(), "binary": os.path.relpath(BIN, ROOT)}
    with open(os.path.join(OUT, "fanin.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)

    # Plot: time (us) against W, log-log, one line per variant, like the seed's graph.
    dat = os.path.join(OUT, "fanin.dat")
    with open(dat, "w") as f:
        for v in VARIANTS:
            f.write(f'"{v}"\n')
            for r in rows:
                if r["variant"] == v:
                    f.write(f"{r['W']} {r['time_us']}\n")
            f.write("\n\n")
    plot = "; ".join([
        "set terminal pngcairo size 1000,650", f"set output '{os.path.join(OUT, 'fanin.png')}'",
        "set logscale xy", "set xlabel 'workers (W), 1000 messages each'", "set ylabel 'time to last delivery (us)'",
        f"set title 'fan-in variants, {meta['cores']} cores, {meta['date']} (lower is better)'",
        "set key left top", "set grid",
        "plot " + ", ".join(f"'{dat}' index {i} with linespoints title columnheader(1)" for i in range(len(VARIANTS))),
    ])
    subprocess.run(["gnuplot", "-e", plot], check=True)

    by = {(r["variant"], r["W"]): r for r in rows}
    lines = [f"Machine: {meta['cpu']}, {meta['cores']} cores; {meta['date']}; `{meta['binary']}` (dev preset). "
             "Items/s in millions (time to last delivery in µs); each case in its own process.", "",
             "| W | " + " | ".join(VARIANTS) + " |", "|---|" + "---|" * len(VARIANTS)]
    for w in WORKERS:
        cells = [f"{by[(v, w)]['items_per_second'] / 1e6:.1f} ({by[(v, w)]['time_us']:.0f})" for v in VARIANTS]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    lines += ["", "Peak RSS (MB) at W=8192: " + ", ".join(f"{v} {by[(v, 8192)]['peak_rss_mb']:.0f}" for v in VARIANTS),
              "", "![fan-in variants](bench/fanin.png)"]
    # gRPC mode: the same delivery, drained into a real gRPC stream (one message per receive) on loopback.
    grpc_rows = {}
    for v in VARIANTS:
        for w in GRPC_WORKERS:
            if v == "Channel" and w > 64:
                continue  # one stream message per item: ~8k items/s, minutes per case
            r = run_case(v, w, "BM_FanInGrpc")
            grpc_rows[(v, w)] = r
            print(f"grpc {v:16} W={w:5} {r['items_per_second'] / 1e6:9.2f} M/s", flush=True)
    json.dump(list(grpc_rows.values()), open(os.path.join(OUT, "fanin_grpc.json"), "w"), indent=1)
    lines += ["", "gRPC mode (`BM_FanInGrpc`: each receive is one message of a real gRPC stream on loopback, read by "
              "a gRPC client; the clock stops when the client has the last item). Items/s in millions:", "",
              "| W | " + " | ".join(VARIANTS) + " |", "|---|" + "---|" * len(VARIANTS)]
    for w in GRPC_WORKERS:
        cells = [f"{grpc_rows[(v, w)]['items_per_second'] / 1e6:.2f}" if (v, w) in grpc_rows else "–" for v in VARIANTS]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    benchmarks_doc.write_section("FANIN", table, "Fan-in variants")
    print(table)


if __name__ == "__main__":
    main()
