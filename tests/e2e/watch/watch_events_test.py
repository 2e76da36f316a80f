"""Watches end to end: squatstreamd with real DNS against Debian's nsd on 127.0.0.1 (the other stages simulated),
its store in SQLite, driven through grpcurl and the squatstream CLI; a webhook receiver on 127.0.0.1 (in this
process) that verifies every signature the way docs/WATCH.md tells users to.

The watch: examplebank.com, kinds OMISSION (its 11 .com names), rescanned only when asked (ScanWatchNow; interval
1h), --watch_confirmations=2.
 1. Baseline: three of the names registered -> exactly one BASELINE event (3 registered), no event per name.
 2. The zone changes (one look-alike appears, one's addresses change, one disappears): after one scan nothing
    (a change needs two scans that agree); then nsd is stopped for one scan (every lookup times out: UNKNOWN,
    which counts for nothing); then nsd is back and the next scan confirms: exactly APPEARED, CHANGED (addresses,
    before and after) and GONE — none from the flapping scan.
 3. `squatstream watch events --since=ID --format=json` prints exactly the events after ID.
 4. Webhooks: every event delivered once the receiver answers, each signature valid, the id header equal to the
    body's id, in event order; the receiver failing 3 times then recovering: the next event delivered after
    retries, still in order.
 5. kill -9 of squatstreamd while a delivery is held by the receiver, then a restart on the same store: the event
    is delivered again with the same id (at least once), nothing lost: the ids delivered are exactly the events'.
 6. The store then marked as written by a newer schema (version 99): squatstreamd refuses to start, saying so.

usage: watch_events_test.py SQUATSTREAMD SQUATSTREAM GRPCURL
Standard library only, plus Debian's python3-dnslib (run with /usr/bin/python3). Every wait is bounded.
"""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from nsd import Nsd  # noqa: E402
from squatstreamd import Checks, Server, wait_for  # noqa: E402

SECRET = "whsec-test-0123456789"
DOMAIN = "examplebank.com"
A, B, C, D = "xamplebank.com", "eamplebank.com", "exmplebank.com", "exampebank.com"


def zone(registered):
    """The com zone: each registered name -> its addresses (A), TTL 1 (a rescan asks again)."""
    lines = ["$ORIGIN com.", "$TTL 1", f"@ IN SOA ns.test. hostmaster.test. {int(time.time() * 1000) % 2**31} 3600 "
             "600 86400 1", "@ IN NS ns.test."]
    for name, addresses in sorted(registered.items()):
        lines += [f"{name}. IN A {a}" for a in addresses]
    return "\n".join(lines) + "\n"


class Receiver:
    """A webhook receiver in a thread: verifies signatures, logs deliveries; can fail the next N or hold one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = []  # {"id", "ok", "body"}
        self.fail_next = 0
        self.hold = threading.Event()
        self.hold.set()  # set: answer at once
        self.held = threading.Event()  # a request is being held
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                header = self.headers.get("Squatstream-Signature", "")
                parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
                expected = hmac.new(SECRET.encode(), parts.get("t", "").encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
                event = json.loads(body)
                ok = (hmac.compare_digest(expected, parts.get("v1", "")) and
                      self.headers.get("Squatstream-Event-Id") == str(event.get("id")) and
                      self.headers.get("Content-Type", "").startswith("application/json"))
                if not receiver.hold.is_set():
                    receiver.held.set()
                    receiver.hold.wait(60)
                with receiver.lock:
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    receiver.deliveries.append({"id": int(event["id"]), "ok": ok, "failed": failing, "event": event})
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self):
        with self.lock:
            return [d for d in self.deliveries if not d["failed"]]

    def all(self):
        with self.lock:
            return list(self.deliveries)


def main():
    squatstreamd, squatstream, grpcurl = sys.argv[1:4]
    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="squatstream-watch-")
    receiver = Receiver()
    v1 = {A: ["192.0.2.1"], B: ["192.0.2.2"], C: ["192.0.2.3"]}
    v2 = {A: ["192.0.2.1"], B: ["192.0.2.22"], D: ["192.0.2.4"]}

    def call(server, method, request):
        out = subprocess.run([grpcurl, "-plaintext", "-d", json.dumps(request), server.address,
                              f"squatstream.v1.WatchService/{method}"], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            return None, out.stderr.strip()
        return json.loads(out.stdout or "{}"), ""

    def events(server, since=0):
        out = subprocess.run([grpcurl, "-plaintext", "-d", json.dumps({"watch": DOMAIN, "since_id": since}),
                              server.address, "squatstream.v1.WatchService/StreamEvents"],
                             capture_output=True, text=True, timeout=60)
        checks.expect(out.returncode == 0, f"StreamEvents since {since} ends OK ({out.stderr.strip()[:200]})")
        return split_json(out.stdout)

    def scans(server):
        watch, _ = call(server, "GetWatch", {"domain": DOMAIN})
        return int((watch or {}).get("scans", 0))

    def scan_once(server):
        before = scans(server)
        _, err = call(server, "ScanWatchNow", {"domain": DOMAIN})
        checks.expect(not err, f"ScanWatchNow answers ({err})")
        wait_for(lambda: scans(server) > before, 60, f"scan {before + 1} to be committed")

    flags = lambda nsd: [f"--dns_servers={nsd.server}", "--stub_enrichers=geo,whois,banner",
                         f"--store=sqlite:{tmp}/watch.db", "--watch_min_interval=1s", "--watch_confirmations=2",
                         "--dial_allow_cidrs=127.0.0.0/8", "--webhook_min_delay=200ms", "--watch_lease=3s",
                         "--dns_timeout=300ms", "--dns_tries=2", "--dns_cache_entries=0"]
    nsd = Nsd({"com": zone(v1)}).__enter__()
    try:
        server = Server(squatstreamd, flags(nsd)).__enter__()
        created, err = call(server, "CreateWatch", {
            "domain": DOMAIN, "settings": {"interval_seconds": 3600, "kinds": ["PERMUTATION_KIND_OMISSION"],
                                           "webhook_url": f"http://127.0.0.1:{receiver.port}/hook",
                                           "webhook_secret": SECRET}})
        checks.expect(created is not None and created.get("domain") == DOMAIN, f"CreateWatch: {created or err}")
        checks.expect(created is not None and SECRET not in json.dumps(created) and created.get("has_webhook_secret"),
                      "the secret is never returned")
        # 1. The baseline: the watch is due at once.
        wait_for(lambda: scans(server) >= 1, 60, "the baseline scan")
        got = events(server)
        checks.expect([e["type"] for e in got] == ["EVENT_TYPE_BASELINE"], f"one BASELINE event: {got}")
        checks.expect(got and got[0].get("baseline", {}).get("registered") == "3",
                      f"the baseline counts 3 registered: {got and got[0].get('baseline')}")
        baseline_id = int(got[0]["id"]) if got else 0

        # 2. The zone changes; one scan says nothing yet.
        write_zone(nsd, zone(v2))
        wait_for(lambda: resolves(nsd.port, D), 20, "nsd to serve the changed zone")
        scan_once(server)
        checks.expect(len(events(server)) == 1, "after one scan of the change: no event yet (2 confirmations)")
        # nsd silent for one scan: every lookup UNKNOWN.
        port = nsd.port
        nsd.__exit__(None, None, None)
        scan_once(server)
        checks.expect(len(events(server)) == 1, "a scan with the name server silent: no event")
        nsd = Nsd({"com": zone(v2)}, port=port).__enter__()
        scan_once(server)
        got = events(server, baseline_id)
        kinds = sorted((e["type"], e.get("candidate_ascii")) for e in got)
        checks.expect(kinds == sorted([("EVENT_TYPE_APPEARED", D), ("EVENT_TYPE_CHANGED", B),
                                       ("EVENT_TYPE_GONE", C)]), f"exactly APPEARED {D}, CHANGED {B}, GONE {C}: {kinds}")
        changed = [e for e in got if e["type"] == "EVENT_TYPE_CHANGED"]
        address_change = [c for e in changed for c in e.get("changes", []) if c.get("field") == "addresses"]
        checks.expect(address_change and address_change[0].get("before") == "192.0.2.2" and
                      address_change[0].get("after") == "192.0.2.22", f"the addresses before and after: {changed}")
        checks.expect(all(e.get("record", {}).get("domain_ascii") == e.get("candidate_ascii") for e in got),
                      "each event carries the candidate's latest record")

        # 3. The CLI's cursor.
        out = subprocess.run([squatstream, "watch", "events", DOMAIN, f"--since={baseline_id}", "--format=json",
                              f"--server={server.address}"], capture_output=True, text=True, timeout=60)
        lines = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
        checks.expect(out.returncode == 0 and sorted(int(l["id"]) for l in lines) == sorted(int(e["id"]) for e in got),
                      f"squatstream watch events --since={baseline_id} prints exactly the later events "
                      f"(exit {out.returncode}: {out.stderr.strip()[:300]})")

        # A cursor beyond the last event is refused, not waited on in silence.
        out = subprocess.run([squatstream, "watch", "events", DOMAIN, "--since=999999", "--follow",
                              f"--server={server.address}"], capture_output=True, text=True, timeout=60)
        checks.expect(out.returncode == 3 and "OUT_OF_RANGE" in out.stderr and "999999" in out.stderr,
                      f"--since beyond the last event: exit 3, OUT_OF_RANGE ({out.returncode}: {out.stderr.strip()[:200]})")

        # 4. Webhooks: the four so far, each once, valid, in order.
        all_ids = [int(e["id"]) for e in events(server)]
        wait_for(lambda: len(receiver.accepted()) >= len(all_ids), 30, "the webhook deliveries")
        accepted = receiver.accepted()
        checks.expect([d["id"] for d in accepted] == all_ids, f"delivered in event order: "
                      f"{[d['id'] for d in accepted]} vs {all_ids}")
        checks.expect(all(d["ok"] for d in receiver.all()), "every signature and id header valid")
        # The receiver fails 3 times, then recovers: C appears again (two scans).
        with receiver.lock:
            receiver.fail_next = 3
        v3 = dict(v2, **{C: ["192.0.2.3"]})
        write_zone(nsd, zone(v3))
        wait_for(lambda: resolves(nsd.port, C), 20, "nsd to serve C again")
        scan_once(server)
        scan_once(server)
        all_ids = [int(e["id"]) for e in events(server)]
        wait_for(lambda: len(receiver.accepted()) >= len(all_ids), 60, "the delivery after the receiver's failures")
        checks.expect(len([d for d in receiver.all() if d["failed"]]) == 3, "3 failed attempts, then delivered")
        checks.expect([d["id"] for d in receiver.accepted()] == all_ids, "still in order, each once")

        # 5. kill -9 while a delivery is held.
        receiver.hold.clear()
        receiver.held.clear()
        v4 = {k: v for k, v in v3.items() if k != D}
        write_zone(nsd, zone(v4))
        wait_for(lambda: not resolves(nsd.port, D), 20, "nsd to drop D")
        scan_once(server)
        scan_once(server)
        wait_for(receiver.held.is_set, 30, "the GONE delivery to reach the receiver")
        server.proc.kill()
        server.proc.wait()
        server.stopped = True
        receiver.hold.set()
        server = Server(squatstreamd, flags(nsd)).__enter__()
        all_ids = [int(e["id"]) for e in events(server)]
        wait_for(lambda: {d["id"] for d in receiver.accepted()} >= set(all_ids) and
                 [d["id"] for d in receiver.accepted()].count(all_ids[-1]) >= 2, 60,
                 "the held delivery to be delivered again after the restart")
        ids = [d["id"] for d in receiver.accepted()]
        checks.expect(set(ids) == set(all_ids), f"no event lost, none made up: {ids} vs {all_ids}")
        checks.expect(ids.count(all_ids[-1]) >= 2 and all(ids.count(i) == 1 for i in all_ids[:-1]),
                      f"the repeat has the same id (at least once): {ids}")
        checks.expect(server.metric("squatstream_webhook_deliveries_total", 'outcome="delivered"') >= 1,
                      "the restarted server counts its delivery")
        server.__exit__(None, None, None)

        # 6. A store written by a newer squatstreamd: refused at start, with the message, exit non-zero.
        import sqlite3
        db = sqlite3.connect(f"{tmp}/watch.db")
        db.execute("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (99, 0)")
        db.commit()
        db.close()
        out = subprocess.run([squatstreamd, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                              "--stub_enrichers=all", f"--store=sqlite:{tmp}/watch.db"], capture_output=True,
                             text=True, timeout=60)
        checks.expect(out.returncode != 0 and "newer than this squatstreamd knows" in out.stderr,
                      f"a newer schema is refused at start (exit {out.returncode}: {out.stderr.strip()[:300]})")
    finally:
        nsd.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
    if checks.failures:
        sys.exit(f"{len(checks.failures)} check(s) failed")


def split_json(text):
    """grpcurl prints a stream's messages as consecutive JSON objects."""
    decoder, i, out = json.JSONDecoder(), 0, []
    text = text.strip()
    while i < len(text):
        obj, end = decoder.raw_decode(text, i)
        out.append(obj)
        i = end
        while i < len(text) and text[i].isspace():
            i += 1
    return out


def write_zone(nsd, text):
    with open(os.path.join(nsd.dir, "com.zone"), "w") as f:
        f.write(text)
    nsd.zones["com"] = text
    nsd.proc.send_signal(signal.SIGHUP)


def resolves(port, name):
    from dnslib import DNSRecord  # Debian's python3-dnslib
    try:
        answer = DNSRecord.parse(DNSRecord.question(name, "A").send("127.0.0.1", port, timeout=1))
    except OSError:
        return False
    return any(rr.rtype == 1 for rr in answer.rr)


if __name__ == "__main__":
    main()
