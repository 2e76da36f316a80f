"""Watch scans leave the last stream slots to interactive streams: squatstreamd with --max_concurrent_streams=4
(a quarter, one slot, kept for interactive streams) and every lookup simulated with a 20 s latency.
 1. Three EnrichDomain streams (grpcurl) hold three slots; a watch created then is due, but its scan is deferred:
    the watch says "deferred: ... kept for interactive streams", squatstream_watch_scans_total{outcome="deferred"}
    counts it, and no scan is committed.
 2. A fourth interactive stream still gets the slot the watch scans leave free.
 3. Once the interactive streams end (their clients go), the watch's scan runs and is committed.

usage: slots_test.py SQUATSTREAMD GRPCURL
Standard library only. Every wait is bounded.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from squatstreamd import Checks, Server, stop, wait_for  # noqa: E402


def main():
    squatstreamd, grpcurl = sys.argv[1:3]
    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="squatstream-slots-")
    flags = [f"--store=sqlite:{tmp}/db", "--max_concurrent_streams=4", "--watch_max_concurrent_scans=1",
             "--watch_min_interval=1s", "--stub_dns_latency=20s"]
    streams = []
    try:
        with Server(squatstreamd, flags) as server:
            def stream():
                return subprocess.Popen([grpcurl, "-plaintext", "-d",
                                         json.dumps({"domain": "example.com", "max_candidates": 5}), server.address,
                                         "squatstream.v1.EnrichmentService/EnrichDomain"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def watch():
                out = subprocess.run([grpcurl, "-plaintext", "-d", '{"domain":"example.org"}', server.address,
                                      "squatstream.v1.WatchService/GetWatch"], capture_output=True, text=True,
                                     timeout=60)
                return json.loads(out.stdout) if out.returncode == 0 else {}

            streams = [stream() for _ in range(3)]
            wait_for(lambda: server.metric("squatstream_active_streams") == 3, 30, "three interactive streams")
            out = subprocess.run([grpcurl, "-plaintext", "-d", json.dumps({
                "domain": "example.org", "settings": {"interval_seconds": 3600, "max_candidates": 5}}),
                server.address, "squatstream.v1.WatchService/CreateWatch"], capture_output=True, text=True, timeout=60)
            checks.expect(out.returncode == 0, f"CreateWatch ({out.stderr.strip()})")
            wait_for(lambda: server.metric("squatstream_watch_scans_total", 'outcome="deferred"') >= 1, 30,
                     "the watch's scan to be deferred")
            w = watch()
            checks.expect(w.get("last_scan_outcome", "").startswith("deferred:") and
                          "interactive streams" in w.get("last_scan_outcome", ""),
                          f"the watch says why it waits: {w.get('last_scan_outcome')!r}")
            checks.expect(int(w.get("scans", 0)) == 0, "no scan committed while the slots are taken")
            streams.append(stream())
            wait_for(lambda: server.metric("squatstream_active_streams") == 4, 30,
                     "a fourth interactive stream in the slot the watch scans leave")
            for s in streams:
                stop(s)
            wait_for(lambda: int(watch().get("scans", 0)) >= 1, 90, "the watch's scan once the slots are free")
            checks.expect(watch().get("last_scan_outcome") == "ok", "committed: ok")
    finally:
        for s in streams:
            stop(s)
        shutil.rmtree(tmp, ignore_errors=True)
    if checks.failures:
        sys.exit(f"{len(checks.failures)} check(s) failed")


if __name__ == "__main__":
    main()
