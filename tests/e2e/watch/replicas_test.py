"""Three squatstreamd sharing one PostgreSQL (Debian's, started by tests/peers/postgres.py on 127.0.0.1 as an
unprivileged user): the due scans are shared through leases.
 1. 30 watches created at once (each due at once): every watch gets exactly one baseline — one BASELINE event
    each, 30 in all, and the replicas' committed scans add up to 30 — while one replica is killed (kill -9) in
    the middle of a scan: another takes the watch over once its lease (3 s) expires.
 2. PostgreSQL restarted while the replicas run: the watch side reports NOT_SERVING (grpc.health.v1, service
    squatstream.v1.WatchService) while it is down, the servers reconnect by themselves, SERVING again, and a
    rescan of every watch asked for meanwhile is committed exactly once each.

usage: replicas_test.py SQUATSTREAMD GRPCURL POSTGRES_PY
Standard library only. Every wait is bounded.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from squatstreamd import Checks, Server, wait_for  # noqa: E402

WATCHES = [f"brand{i:02d}.com" for i in range(30)]


class Postgres:
    """tests/peers/postgres.py: one line with the DSN; "stop"/"start" on stdin answered "stopped"/"started"."""

    def __init__(self, script):
        self.proc = subprocess.Popen([sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.dsn = self.proc.stdout.readline().strip()
        if not self.dsn:
            sys.exit("postgres.py did not start")

    def command(self, word, answer):
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        if line != answer:
            sys.exit(f"postgres.py answered {line!r} to {word!r}")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main():
    squatstreamd, grpcurl, postgres_py = sys.argv[1:4]
    checks = Checks()
    pg = Postgres(postgres_py)

    def call(server, method, request, service="squatstream.v1.WatchService"):
        out = subprocess.run([grpcurl, "-plaintext", "-d", json.dumps(request), server.address,
                              f"{service}/{method}"], capture_output=True, text=True, timeout=60)
        return (json.loads(out.stdout or "{}") if out.returncode == 0 else None), out.stderr.strip()

    def all_watches(server):
        watches, token = [], ""
        while True:
            page, _ = call(server, "ListWatches", {"page_size": 7, "page_token": token})
            if page is None:
                return None
            watches += page.get("watches", [])
            token = page.get("next_page_token", "")
            if not token:
                return watches

    def baseline_events(server):
        out = subprocess.run([grpcurl, "-plaintext", "-d", "{}", server.address,
                              "squatstream.v1.WatchService/StreamEvents"], capture_output=True, text=True, timeout=60)
        return [e for e in out.stdout.split('"type": ')[1:] if e.startswith('"EVENT_TYPE_BASELINE"')]

    def health(server):
        got, _ = call(server, "Check", {"service": "squatstream.v1.WatchService"}, service="grpc.health.v1.Health")
        return (got or {}).get("status")

    # Each scan: 40 candidates, every lookup simulated with a 1.5 s latency (a scan lasts seconds).
    flags = [f"--store={pg.dsn}", "--watch_min_interval=1s", "--watch_lease=3s", "--watch_max_concurrent_scans=2",
             "--stub_dns_latency=1500ms"]
    servers = [Server(squatstreamd, flags).__enter__() for _ in range(3)]
    try:
        for name in WATCHES:
            created, err = call(servers[0], "CreateWatch", {
                "domain": name, "settings": {"interval_seconds": 3600, "max_candidates": 40,
                                             "kinds": ["PERMUTATION_KIND_OMISSION", "PERMUTATION_KIND_ADDITION"]}})
            checks.expect(created is not None, f"CreateWatch {name} ({err})")
        listed = all_watches(servers[1])
        checks.expect(listed is not None and sorted(w["domain"] for w in listed) == WATCHES,
                      "ListWatches (paged by 7) on another replica lists the 30")
        # Kill the replica that is scanning, mid-scan.
        victim = wait_for(lambda: next((s for s in servers if s.metric("squatstream_watch_scans_running") > 0), None),
                          60, "a replica running a scan")
        victim.proc.kill()
        victim.proc.wait()
        victim.stopped = True
        alive = [s for s in servers if s is not victim]
        wait_for(lambda: all((w.get("baseline_done") for w in (all_watches(alive[0]) or [{}]))), 240,
                 "every watch's baseline")
        checks.expect(len(baseline_events(alive[0])) == 30, f"30 BASELINE events, one per watch "
                      f"({len(baseline_events(alive[0]))})")
        committed = sum(s.metric("squatstream_watch_scans_total", 'outcome="ok"') for s in alive)
        checks.expect(committed <= 30, f"the live replicas committed at most 30 scans ({committed})")
        checks.expect(all(int(w.get("scans", 0)) == 1 for w in all_watches(alive[0])), "each watch scanned once")

        # 2. PostgreSQL restarted.
        pg.command("stop", "stopped")
        wait_for(lambda: all(health(s) == "NOT_SERVING" for s in alive), 30, "NOT_SERVING while the store is down")
        got, err = call(alive[0], "GetWatch", {"domain": WATCHES[0]})
        checks.expect(got is None and "Unavailable" in err, f"a watch call while the store is down: UNAVAILABLE ({err})")
        checks.expect(all(s.proc.poll() is None for s in alive), "the replicas keep running")
        pg.command("start", "started")
        wait_for(lambda: all(health(s) == "SERVING" for s in alive), 60, "SERVING once the store is back")
        for name in WATCHES:
            _, err = call(alive[1], "ScanWatchNow", {"domain": name})
            checks.expect(not err, f"ScanWatchNow {name} ({err})")
        wait_for(lambda: all(int(w.get("scans", 0)) >= 2 for w in (all_watches(alive[0]) or [{}])), 240,
                 "every watch's second scan")
        checks.expect(all(int(w.get("scans", 0)) == 2 for w in all_watches(alive[0])), "each rescan committed once")
    finally:
        for s in servers:
            if not s.stopped:
                s.__exit__(None, None, None)
        pg.close()
    if checks.failures:
        sys.exit(f"{len(checks.failures)} check(s) failed")


if __name__ == "__main__":
    main()
