"""A hostile name server against squatstreamd's bounds on strangers' DNS data (issue 35), end to end and on loopback
only: squatstreamd with its real DNS stage (geo, whois and banner simulated: nothing is dialled) whose only
resolver (--dns_servers) is tests/e2e/tools/hostile_dns.py on 127.0.0.1 — a server that answers every name it is
asked, as a squatter answers for its own zones, by a hash of the name: compression-pointer bloat (64 KiB TCP answers
of thousands of NS, MX, CNAME and A records whose owner and rdata are 2-byte pointers to a 249-byte name: a naive
reader expands them to megabytes), floods of thousands of A records, maximal TXT records (255-byte strings of binary
bytes, 8 a record, 31 records), plain names, and NXDOMAIN with an SOA for 7 names in 16 (the scan is mostly normal).
Big answers come truncated over UDP, so the resolver asks again over TCP.

squatstreamd runs with a small memory budget (--memory_budget_mb=64, --max_concurrent_streams=8: a stream's share
is ~11 MiB of buffer), a small DNS cache (--dns_cache_mb=1), the default --max_batch_bytes (1 MiB) and a 1 s batch
window (--batch_window, its largest): records pile up between messages as on a busy server, so that what cuts the
batches is the byte bound, not the default 20 ms window. Steps and what is asserted:
 1. Idle: a warm-up stream of names under .test (all NXDOMAIN), then the server's idle release; its RSS then is
    the baseline.
 2. One stalled reader (tests/e2e/stall/stalled_readers: a gRPC client that never reads) streams
    secureloginportal.com (21,548 candidates, max_candidates 5,000, every stage): waited for on the server's
    metrics, not for a time — the stream holds its grant, its lookups in flight reached 0 with records held and
    fewer candidates dispatched than asked for (its buffer is at its bound: the pipeline waits for the reader),
    and two readings 0.25 s apart agree. Asserted: the server's peak RSS, sampled every 50 ms from the stream's
    start, grew less than the budget above the baseline (before the bounds one such reader of 40 candidates
    took the server from 33 MB to 1.18 GB); the stream was paused by its bound; the hostile answers were served
    over TCP. The stalled client then lets go.
 3. grpcurl streams secureloginportal.attacker.com with permute_subdomains (max_candidates 600, every stage),
    with -max-msg-sz 1.1 MiB: a message over the byte bound (1 MiB of records beyond the first) fails the call.
    Asserted: the stream ends OK with every candidate; the byte bound cut the batches (a message carried over
    512 KiB of strings with fewer than 1,024 records — asserted when the stream took under 5 s, as it does in well
    under one: on a machine so slow that a 1 s window holds less than 512 KiB, the window cut them); every record's
    DNS result is OK, real, answered (no TIMEOUT), with at most 16 answers per query (and per list: name servers,
    mail exchangers), its answers within 16 KiB as the stage counts them (each value twice and 16 bytes) and all
    its strings within the result's 20 KiB bound, every value printable ASCII (a stranger's bytes escaped \\DDD);
    for every query, the answers kept plus answers_omitted are exactly the records of its type the server sent
    (nothing dropped uncounted); bloated names (NS, A, MX and CNAME bloat) and floods say on the record what was
    cut (`truncated`, naming the count of answers not kept), TXT records are cut at 1024 bytes ("...") and say so,
    plain and NXDOMAIN names are not marked truncated; verdicts REGISTERED for answered names, UNREGISTERED for
    NXDOMAIN. The peak RSS during the stream also stays within the baseline plus the budget.
 4. The DNS cache: squatstream_dns_cache_bytes, sampled throughout, never exceeds --dns_cache_mb (1 MiB) and
    after the streams is within it too — while it holds the hostile answers (over half the bound used: the bound,
    not the traffic, is what held it). After the streams and the idle release RSS is back within the baseline
    plus 32 MiB (before the bounds the cache alone kept ~110 MB).
A build from before the bounds (before 9b36558; run without --dns_cache_mb) fails 9 of these checks: the stalled
reader takes the server past idle + 4x the budget within a second, grpcurl gets "received message larger than max
(164079809 vs. 1153433)", RSS grows by 2.4 GB during the stream and stays 1.5 GB after it.

usage: hostile_zone_test.py GRPCURL SQUATSTREAMD STALLED_READERS [--sanitizer-build]
With --sanitizer-build the RSS checks are printed, not asserted (the sanitizer's allocator and shadow memory).
Standard library only (Debian's /usr/bin/python3); ~5 s.
"""
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from grpcurl_output import decode_messages  # noqa: E402
from hostile_dns import BLOAT, FLOOD, NX, PLAIN, TXT, HostileDns, category, records_sent  # noqa: E402
from squatstreamd import Checks, MetricPeak, Server, require_tool, wait_for  # noqa: E402

BUDGET_MB = 64
CACHE_MB = 1
MAX_MSG = int(1.1 * 2**20)  # grpcurl's limit: the byte bound (1 MiB beyond the first record) and room for that one
FLAGS = ["--stub_enrichers=geo,whois,banner", "--dns_rate_limit=0", f"--dns_cache_mb={CACHE_MB}",
         f"--memory_budget_mb={BUDGET_MB}", "--max_concurrent_streams=8", "--batch_window=1s",
         "--dns_timeout=5s", "--dns_tries=3"]
METHOD = "squatstream.v1.EnrichmentService/EnrichDomain"

STALLED_DOMAIN, STALLED_MAX = "secureloginportal.com", 5000
MAX_HOLD = 120  # seconds: a bound for a test that dies; the test lets go as soon as it has checked
REQUEST = {"domain": "secureloginportal.attacker.com", "permute_subdomains": True, "max_candidates": 600}

# The DNS stage's bounds (workers/dns/dns_message.h, dns_enricher.h).
MAX_PER_TYPE = 16
MAX_TXT_BYTES = 1024
MAX_ANSWER_BYTES = 16 << 10  # each value counted twice, and 16 bytes
MAX_RESULT_BYTES = 20 << 10
QUERY_TYPES = ("NS", "A", "AAAA", "MX", "CNAME", "TXT")


class RssPeak:
    """The server's peak RSS while the `with` block runs, sampled every 50 ms in a thread."""

    def __init__(self, server):
        self.server, self.peak, self.errors = server, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self):
        while True:
            try:
                self.peak = max(self.peak, self.server.rss_bytes())
            except (Exception, SystemExit) as e:  # noqa: BLE001 - reported as a failure
                self.errors.append(repr(e))
                return
            if self._stop.wait(0.05):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def strings(value):
    """Every string in a decoded JSON value, recursively."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def string_bytes(value):
    """The UTF-8 bytes of every string in `value`: a lower bound of its protobuf encoding's size."""
    return sum(len(s.encode()) for s in strings(value))


def printable(s):
    return all(0x20 <= ord(c) < 0x7F for c in s)


def check_record(record):
    """What is wrong with one streamed record's DNS result, as a list of faults (empty: nothing)."""
    name = record["domain_ascii"]
    kind = category(name)
    dns = [e for e in record.get("enrichments", []) if e.get("enricher") == "ENRICHER_DNS"]
    if len(dns) != 1:
        return [f"{name}: {len(dns)} DNS enrichments"]
    e = dns[0]
    faults = []
    if e.get("status", {}).get("code", 0) != 0 or "dns" not in e:
        return [f"{name}: DNS status {e.get('status')}, truncated {e.get('truncated', '')!r}"]
    if e.get("simulated"):
        faults.append(f"{name}: DNS simulated")
    result = e["dns"]
    queries = {q["type"]: q for q in result.get("queries", [])}
    want_verdict = "DNS_VERDICT_UNREGISTERED" if kind == NX else "DNS_VERDICT_REGISTERED"
    if result.get("verdict") != want_verdict:
        faults.append(f"{name} ({kind}): verdict {result.get('verdict')}, {want_verdict} expected")
    if set(queries) != ({"NS"} if kind == NX else set(QUERY_TYPES)):
        faults.append(f"{name} ({kind}): queries {sorted(queries)}")
    counted, omitted = 0, 0
    for t, q in queries.items():
        answers = q.get("answers", [])
        if q.get("rcode") not in ("NOERROR", "NXDOMAIN"):
            faults.append(f"{name}: {t} {q.get('rcode')}")
        if len(answers) > MAX_PER_TYPE:
            faults.append(f"{name}: {t} {len(answers)} answers (at most {MAX_PER_TYPE})")
        kept_plus_omitted = len(answers) + q.get("answers_omitted", 0)
        if kept_plus_omitted != records_sent(name, t):
            faults.append(f"{name}: {t} {len(answers)} answers + {q.get('answers_omitted', 0)} omitted, "
                          f"{records_sent(name, t)} sent")
        for a in answers:
            if not printable(a.get("value", "")):
                faults.append(f"{name}: {t} value not printable ASCII: {a.get('value', '')[:60]!r}")
            if t == "TXT" and (len(a["value"]) > MAX_TXT_BYTES or not a["value"].endswith("...")):
                faults.append(f"{name}: TXT value of {len(a['value'])} bytes, ends {a['value'][-8:]!r}")
        counted += sum(2 * len(a.get("value", "")) + 16 for a in answers)
        omitted += q.get("answers_omitted", 0)
    for field in ("name_servers", "mail_exchangers"):
        if len(result.get(field, [])) > MAX_PER_TYPE:
            faults.append(f"{name}: {len(result[field])} {field}")
    if counted > MAX_ANSWER_BYTES:
        faults.append(f"{name}: answers of {counted} bytes as the stage counts them (at most {MAX_ANSWER_BYTES})")
    if string_bytes(e) > MAX_RESULT_BYTES:
        faults.append(f"{name}: DNS result's strings {string_bytes(e)} bytes (its bound {MAX_RESULT_BYTES})")
    truncated = e.get("truncated", "")
    if kind in (BLOAT, FLOOD, TXT):
        if omitted == 0 or str(omitted) not in truncated:
            faults.append(f"{name} ({kind}): {omitted} answers omitted, truncated {truncated!r}")
        if kind == TXT and "TXT" not in truncated:
            faults.append(f"{name}: TXT cut but truncated says {truncated!r}")
    elif truncated or omitted:
        faults.append(f"{name} ({kind}): truncated {truncated!r}, {omitted} omitted")
    return faults


def main():
    sanitizer_build = "--sanitizer-build" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--sanitizer-build"]
    if len(args) != 3:
        sys.exit(__doc__)
    grpcurl, squatstreamd, stalled = args
    require_tool(grpcurl, "grpcurl")
    checks = Checks(rss_asserted=not sanitizer_build)
    expect = checks.expect
    budget = BUDGET_MB << 20
    started = time.monotonic()

    with HostileDns() as dns, Server(squatstreamd, FLAGS + [f"--dns_servers={dns.server}"]) as server:
        metric = server.metric
        with MetricPeak(server, "squatstream_dns_cache_bytes") as cache_peak:
            # 1. The baseline.
            warm = subprocess.run([grpcurl, "-plaintext", "-d", json.dumps({
                "domain": "quietbank.test", "kinds": ["PERMUTATION_KIND_OMISSION"], "max_candidates": 20}),
                server.address, METHOD], capture_output=True, text=True, timeout=60)
            expect(warm.returncode == 0, f"the warm-up stream (NXDOMAIN only) ended OK ({warm.stderr.strip()[-200:]})")
            server.wait_idle_release()
            idle = server.rss_bytes()

            # 2. One stalled reader.
            # Past it the server is broken: stop waiting, report. (A sanitizer build's RSS is mostly shadow memory
            # and quarantine: no limit there, the wait is for the stream's state alone.)
            hard_limit = idle + 4 * budget if checks.rss_asserted else float("inf")
            with RssPeak(server) as stall_peak:
                client = subprocess.Popen(
                    [stalled, server.address, "1", STALLED_DOMAIN, str(STALLED_MAX), str(MAX_HOLD)],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
                try:
                    wait_for(lambda: metric("squatstream_memory_budget_streams") == 1 or stall_peak.peak > hard_limit,
                             30, "the stalled stream to be granted its share")
                    last = [None]

                    def held_at_bound():
                        if stall_peak.peak > hard_limit:
                            return "over"
                        now = (metric("squatstream_inflight_lookups"), metric("squatstream_fanin_buffer_depth"),
                               metric("squatstream_permutations_generated_total"),
                               metric("squatstream_dns_queries_total"), metric("squatstream_memory_budget_streams"))
                        settled = now[0] == 0 and now[1] > 0 and now[2] < STALLED_MAX and now[4] == 1
                        same, last[0] = now == last[0], now
                        return now if settled and same else None

                    state = wait_for(held_at_bound, 90, "the stalled stream to hold its buffer at its bound",
                                     every=0.25)
                    granted = metric("squatstream_memory_budget_slots_granted")
                    buffer_bound = metric("squatstream_fanin_capacity_bytes") / 1536
                    rss_held = server.rss_bytes()
                finally:
                    client.stdin.close()
                    client.wait(timeout=60)
            wait_for(lambda: metric("squatstream_memory_budget_streams") == 0, 30, "the stalled stream to end")
            expect(not stall_peak.errors, f"sampled RSS throughout the stalled stream {stall_peak.errors[:1]}")
            if state == "over":
                expect(False, f"RSS {stall_peak.peak / 2**20:.0f} MiB passed idle + 4x the budget: stopped waiting")
            else:
                _, depth, generated, queries, _ = state
                print(f"      stalled stream held at its bound: {depth:.0f} records held, {generated:.0f} of "
                      f"{STALLED_MAX} candidates dispatched, {queries:.0f} DNS queries; granted {granted:.0f} slots "
                      f"of the budget, its buffer's bound {buffer_bound:.0f} slots")
                expect(generated < STALLED_MAX, "the stalled stream was paused by its buffer's bound")
            sent = dns.stats()
            tcp = sum(n for (protocol, _), n in sent["queries"].items() if protocol == "tcp")
            expect(tcp > 0 and sent["largest"] >= 60000,
                   f"the hostile answers went out over TCP ({tcp} TCP answers, the largest {sent['largest']} bytes, "
                   f"{sent['bytes_sent'] / 2**20:.0f} MiB in all)")
            print(f"      RSS idle {idle / 2**20:.0f} MiB, held {rss_held / 2**20:.0f} MiB, peak "
                  f"{stall_peak.peak / 2**20:.0f} MiB; budget {BUDGET_MB} MiB")
            checks.expect_rss(stall_peak.peak - idle < budget,
                              f"one stalled reader in the hostile zone grew RSS by "
                              f"{(stall_peak.peak - idle) / 2**20:.1f} MiB, less than the budget ({BUDGET_MB} MiB)")

            # 3. grpcurl, every message under its limit.
            before = dns.stats()
            with RssPeak(server) as stream_peak:
                t = time.monotonic()
                r = subprocess.run([grpcurl, "-plaintext", "-max-msg-sz", str(MAX_MSG), "-max-time", "90", "-d",
                                    json.dumps(REQUEST), server.address, METHOD],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
                took = time.monotonic() - t
            stderr = r.stderr.decode("utf-8", "replace").strip()
            expect(r.returncode == 0, f"grpcurl -max-msg-sz {MAX_MSG} streamed the hostile zone to its end in "
                                      f"{took:.1f} s (exit {r.returncode}; {stderr[-300:]})")
            try:
                messages = decode_messages(r.stdout.decode("utf-8", "replace"))
            except ValueError as e:
                messages = []
                expect(False, f"grpcurl printed JSON messages ({e})")
            records = [record for m in messages for record in m.get("records", [])]
            progress = messages[-1].get("progress", {}) if messages else {}
            expect(len(records) == REQUEST["max_candidates"] and
                   int(progress.get("sent", 0)) == int(progress.get("generated", -1)) == len(records),
                   f"every candidate streamed ({len(records)} records, progress {progress})")
            sizes = [(string_bytes(m), len(m.get("records", []))) for m in messages]
            largest = max(sizes, default=(0, 0))
            after = dns.stats()
            print(f"      {sum(after['queries'].values()) - sum(before['queries'].values())} DNS queries answered "
                  f"({(after['bytes_sent'] - before['bytes_sent']) / 2**20:.0f} MiB); {len(messages)} messages, the "
                  f"largest carrying {largest[0] / 1024:.0f} KiB of strings in {largest[1]} records")
            cut_by_bytes = largest[0] > 512 << 10 and largest[1] < 1024
            what = ("the byte bound cut the batches (a message of over 512 KiB with fewer than 1,024 records), each "
                    "within grpcurl's limit")
            if took < 5:
                expect(cut_by_bytes, what)
            else:
                print(f"info  {what}: {'holds' if cut_by_bytes else 'does not hold'} (not asserted: the stream took "
                      f"{took:.1f} s, its 1 s windows may have cut the batches first)")
            by_kind = {}
            for record in records:
                by_kind[category(record["domain_ascii"])] = by_kind.get(category(record["domain_ascii"]), 0) + 1
            print(f"      names by answer: {by_kind}")
            expect(all(by_kind.get(k, 0) > 0 for k in (BLOAT, FLOOD, TXT, PLAIN, NX)),
                   "the stream met every kind of answer")
            faults = [f for record in records for f in check_record(record)]
            expect(not faults, f"every DNS result within its bounds, each cut counted and said "
                               f"({len(faults)} faults{': ' if faults else ''}{'; '.join(faults[:5])})")
            expect(not stream_peak.errors, f"sampled RSS throughout the stream {stream_peak.errors[:1]}")
            checks.expect_rss(stream_peak.peak - idle < budget,
                              f"RSS during the stream grew by {(stream_peak.peak - idle) / 2**20:.1f} MiB, less than "
                              f"the budget")

            # 4. The cache.
            server.wait_idle_release()
            cache_now = metric("squatstream_dns_cache_bytes")
        cache_bound = CACHE_MB << 20
        print(f"      DNS cache: peak {cache_peak.peak:.0f} bytes, {cache_now:.0f} after the streams; bound "
              f"{cache_bound}")
        expect(cache_peak.peak <= cache_bound and cache_now <= cache_bound,
               f"the DNS cache stayed within --dns_cache_mb={CACHE_MB}")
        expect(cache_now > cache_bound / 2, "the DNS cache was full of the hostile answers (over half its bound)")
        rss_after = server.rss_bytes()
        checks.expect_rss(rss_after <= idle + (32 << 20),
                          f"RSS after the streams {rss_after / 2**20:.0f} MiB, within idle "
                          f"({idle / 2**20:.0f} MiB) + 32 MiB")
    print(f"hostile_zone_test: {len(checks.failures)} failed ({time.monotonic() - started:.0f} s)")
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
