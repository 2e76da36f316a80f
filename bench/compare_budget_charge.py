"""What streams hold against what the memory budget charges them, for one or more squatstreamd binaries in the
same run (e.g. two trees' builds): 200 ghz streams of 500 candidates, for example.com and for
internationalbusinessmachines.com, against --max_concurrent_streams=256 --memory_budget_mb=2048 with every stage
stubbed. Prints each run's status codes, streams/s, idle and peak RSS (VmHWM) and the most of the budget granted at
once (squatstream_memory_budget_slots_granted sampled every 50 ms, x 1.5 KiB a slot).

usage: /usr/bin/python3 bench/compare_budget_charge.py SQUATSTREAMD [SQUATSTREAMD ...]
Needs ghz in .tools/bin (scripts/install-deps.sh). Loopback only; each ghz run is bounded (600 calls, 60 s each).
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "tools"))
from squatstreamd import MetricPeak, Server  # noqa: E402

GHZ = os.path.join(ROOT, ".tools", "bin", "ghz")
CALL = "squatstream.v1.EnrichmentService/EnrichDomain"
SLOT_BYTES = 1536  # MemoryBudget::kBytesPerSlot


def ghz(server, request, *args):
    r = subprocess.run([GHZ, "--insecure", "--call", CALL, "-d", request, "--format", "json", "--timeout", "60s",
                        *args, server.address], capture_output=True, timeout=300)
    return json.loads(r.stdout)


def peak_rss(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def measure(binary, domain, cap=500):
    request = json.dumps({"domain": domain, "max_candidates": cap})
    with Server(binary, ["--max_concurrent_streams=256", "--memory_budget_mb=2048"]) as server:
        ghz(server, request, "--concurrency", "1", "--total", "1")
        time.sleep(1.5)  # the server's idle release
        idle = server.rss_bytes()
        with MetricPeak(server, "squatstream_memory_budget_slots_granted") as granted:
            report = ghz(server, request, "--concurrency", "200", "--connections", "4", "--total", "600")
        peak = peak_rss(server)
        print(f"{binary}: {domain} cap {cap}: codes {report.get('statusCodeDistribution')}, "
              f"{report['rps']:.0f} streams/s, idle {idle / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB "
              f"(+{(peak - idle) / 2**20:.0f}), most charged {granted.peak * SLOT_BYTES / 2**20:.0f} MiB", flush=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for binary in sys.argv[1:]:
        for domain in ("example.com", "internationalbusinessmachines.com"):
            measure(binary, domain)


if __name__ == "__main__":
    main()
