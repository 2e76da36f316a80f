"""Adaptive DNS pacing against a real recursive resolver that rate-limits (issue 27): squatstreamd's real DNS stage
asks Debian's unbound on loopback (tests/e2e/tools/unbound.py), which asks nsd through a relay that holds each
answer 20–80 ms (tests/e2e/tools/delay_relay.py: the network these kernels cannot simulate). The other stages are
not asked (the request names ENRICHER_DNS only). Driven by grpcurl.

The fixture: the candidates of example.com of a few kinds (~300, listed first by a stream with every stage
simulated), one zone per TLD in nsd, one in five registered (A, AAAA, MX), NXDOMAIN for the rest.

Asserted:
  1. back-off: against unbound with `ip-ratelimit: LIMIT`, ip-ratelimit-factor 0 (more queries a second from one
     address are dropped, unanswered — as a home router or a public resolver sheds load), squatstreamd with
     --dns_pacing=adaptive starting above LIMIT backs off: squatstream_dns_pace_backoffs_total for that server
     becomes > 0 while the stream runs (polled, never a fixed sleep);
  2. the verdicts: in that run no candidate's verdict contradicts the one a run at a low fixed rate
     (--dns_pacing=fixed --dns_rate_limit=50) gets from an unbound with no limit — and that one is the fixture's —
     and at most MAX_UNKNOWN_SHARE of them are unknown instead (an adaptive probe over a limiter that then drops
     everything for two seconds can cost a name its tries), never more than at the old default, a fixed 100/s,
     against the same limiting unbound (the issue's target);
  3. the ceiling: with --dns_rate_limit=C (adaptive below it), a counting relay in front of unbound never sees more
     than C and the token bucket's burst (C/20) queries in one second, while the controller reaches its "ceiling"
     state (squatstream_dns_pace_state{state="ceiling"} = 1).

usage: resolver_pacing_test.py GRPCURL SQUATSTREAMD
Exits 77 (skipped) when the squatstreamd given has no --dns_pacing flag. Standard library only (Debian's
/usr/bin/python3); needs Debian's nsd and unbound (scripts/install-deps.sh).
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from delay_relay import DelayRelay  # noqa: E402
from grpcurl_output import enrich_stream  # noqa: E402
from nsd import Nsd, registered_zones  # noqa: E402
from squatstreamd import Checks, Server, require_tool, wait_for  # noqa: E402
from unbound import Unbound  # noqa: E402

DOMAIN = "example.com"
KINDS = ["PERMUTATION_KIND_" + k for k in ("ADDITION", "BITSQUATTING", "INSERTION", "REPLACEMENT", "TLD_SWAP",
                                           "DOUBLE_VOWEL_INSERTION", "DVORAK")]
IP_LIMIT = 40  # queries/s from one address the limiting unbound answers; adaptive pacing starts at 100
FIXED_RATE = 50  # the reference run's fixed rate, against an unbound with no limit
CEILING = 60  # --dns_rate_limit of the ceiling run
OLD_DEFAULT_RATE = 100  # the fixed rate adaptive pacing replaced as the default
MAX_UNKNOWN_SHARE = 0.03  # of the candidates, unknown against the limiting unbound (runs here: 0-9 of 295)
STREAM_TIMEOUT = 120  # seconds, any one stream


def registered(name):  # one in five, fixed per name
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5 == 0




def request():
    return {"domain": DOMAIN, "kinds": KINDS, "enrichers": ["ENRICHER_DNS"]}


def verdicts(records):
    """{name: verdict} from a stream's records ("REGISTERED", "UNREGISTERED", or "unknown RCODE")."""
    out = {}
    for name, record in records.items():
        dns = next((e for e in record.get("enrichments", []) if e.get("enricher") == "ENRICHER_DNS"), {})
        verdict = dns.get("dns", {}).get("verdict", "DNS_VERDICT_UNSPECIFIED").replace("DNS_VERDICT_", "")
        if verdict not in ("REGISTERED", "UNREGISTERED"):
            queries = dns.get("dns", {}).get("queries", [])
            verdict = "unknown " + (queries[-1].get("rcode", "?") if queries else "?")
        out[name] = verdict
    return out


class Stream(threading.Thread):
    """One grpcurl EnrichDomain stream in a thread, so that the test watches the server's metrics meanwhile."""

    def __init__(self, grpcurl, address):
        super().__init__(daemon=True)  # a test that gives up does not wait for it
        self.grpcurl, self.address = grpcurl, address
        self.result = ({}, {}, -1, "the stream did not end", [])

    def run(self):
        try:
            self.result = enrich_stream(self.grpcurl, self.address, request(), max_time=STREAM_TIMEOUT)
        except (ValueError, OSError, subprocess.SubprocessError) as e:
            self.result = ({}, {}, -1, f"grpcurl: {e}", [])


def main():
    grpcurl, squatstreamd = sys.argv[1], sys.argv[2]
    require_tool(grpcurl, "grpcurl")
    for path in ("/usr/sbin/nsd", "/usr/sbin/unbound"):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} not found: scripts/install-deps.sh installs Debian's nsd and unbound")
    helpfull = subprocess.run([squatstreamd, "--helpfull"], capture_output=True, text=True).stdout
    if "--dns_pacing" not in helpfull:
        print("skip: this squatstreamd has no --dns_pacing (adaptive pacing)")
        sys.exit(77)
    checks = Checks()
    started = time.monotonic()

    # The candidates, from the server itself (every stage simulated: nothing is resolved).
    with Server(squatstreamd, ["--stub_enrichers=all"]) as stub:
        listed, _, code, err, _ = enrich_stream(grpcurl, stub.address, request(), max_time=60)
    checks.expect(code == 0 and len(listed) > 100, f"{len(listed)} candidates of {DOMAIN} listed ({err.strip()})")
    names = sorted(listed)
    fixture = {n: "REGISTERED" if registered(n) else "UNREGISTERED" for n in names}
    zones = registered_zones(names, registered)
    print(f"info  {len(names)} candidates in {len(zones)} zones, {sum(map(registered, names))} registered")

    with tempfile.TemporaryDirectory(prefix="squatstream-pacing-") as scratch, \
            Nsd(zones) as nsd, DelayRelay(nsd.server, delay_ms=(20, 80)) as network, \
            Unbound(list(zones), network.server) as plain, \
            Unbound(list(zones), network.server, ip_ratelimit=IP_LIMIT, ip_ratelimit_factor=0) as limiting:
        dns_flags = ["--stub_enrichers=geo,whois,banner"]

        # The reference: a low fixed rate, a resolver with no limit.
        with Server(squatstreamd, dns_flags + ["--dns_pacing=fixed", f"--dns_rate_limit={FIXED_RATE}",
                                               f"--dns_servers={plain.server}"]) as server:
            t = time.monotonic()
            records, _, code, err, _ = enrich_stream(grpcurl, server.address, request(), max_time=STREAM_TIMEOUT)
            reference = verdicts(records)
        wrong = sorted(n for n in names if reference.get(n) != fixture[n])
        checks.expect(code == 0 and not wrong,
                      f"fixed {FIXED_RATE}/s, no resolver limit: every verdict is the fixture's "
                      f"({len(records)} records in {time.monotonic() - t:.1f} s; differing: "
                      f"{[(n, reference.get(n)) for n in wrong[:5]]}{err.strip()})")

        # 1 and 2: adaptive against the limiting resolver.
        with Server(squatstreamd, dns_flags + ["--dns_pacing=adaptive", f"--dns_servers={limiting.server}"]) as server:
            label = f'server="{limiting.server}"'
            t = time.monotonic()
            stream = Stream(grpcurl, server.address)
            stream.start()
            wait_for(lambda: server.metric("squatstream_dns_pace_backoffs_total", label) > 0 or
                     not stream.is_alive(), STREAM_TIMEOUT, "a back-off or the stream's end")
            backoffs = {reason: server.metric("squatstream_dns_pace_backoffs_total", f'{label},reason="{reason}"')
                        for reason in ("timeout", "refused", "servfail", "error", "latency")}
            qps = server.metric("squatstream_dns_pace_qps", label)
            stream.join(STREAM_TIMEOUT + 60)
            records, _, code, err, _ = stream.result
            adaptive = verdicts(records)
            seconds = time.monotonic() - t
            seen = {reason: n for reason, n in backoffs.items() if n}
            checks.expect(sum(backoffs.values()) > 0,
                          f"adaptive against ip-ratelimit {IP_LIMIT}/s (drops): backed off "
                          f"(back-offs by reason: {seen}, rate then {qps:.0f}/s)")
        differing = sorted(n for n in names if adaptive.get(n) != reference.get(n))
        contradicting = [n for n in differing if not adaptive.get(n, "unknown").startswith("unknown")]
        unknown = len(differing) - len(contradicting)
        checks.expect(code == 0 and len(records) == len(names) and not contradicting and
                      unknown <= MAX_UNKNOWN_SHARE * len(names),
                      f"adaptive against the limiting resolver: no verdict contradicts fixed {FIXED_RATE}/s's, "
                      f"{unknown} of {len(names)} unknown instead ({seconds:.1f} s; contradicting: "
                      f"{[(n, adaptive.get(n)) for n in contradicting[:5]]}; unknown: "
                      f"{[(n, adaptive.get(n)) for n in differing if n not in contradicting][:5]}{err.strip()})")

        # 2, the comparison: the old default, a fixed 100/s, against the same limiting resolver.
        with Server(squatstreamd, dns_flags + ["--dns_pacing=fixed", f"--dns_rate_limit={OLD_DEFAULT_RATE}",
                                               f"--dns_servers={limiting.server}"]) as server:
            t = time.monotonic()
            records, _, code, err, _ = enrich_stream(grpcurl, server.address, request(), max_time=STREAM_TIMEOUT)
            old = verdicts(records)
        old_unknown = sum(1 for n in names if old.get(n, "unknown").startswith("unknown"))
        checks.expect(code == 0 and unknown <= old_unknown,
                      f"adaptive: {unknown} unknown against the limiting resolver, fixed {OLD_DEFAULT_RATE}/s: "
                      f"{old_unknown} ({time.monotonic() - t:.1f} s){err.strip()}")

        # 3: the ceiling, counted by a relay in front of the resolver.
        with DelayRelay(plain.server, delay_ms=(0, 0), stats_dir=scratch) as counter, \
                Server(squatstreamd, dns_flags + ["--dns_pacing=adaptive", f"--dns_rate_limit={CEILING}",
                                                  f"--dns_servers={counter.server}"]) as server:
            label = f'server="{counter.server}"'
            stream = Stream(grpcurl, server.address)
            stream.start()
            wait_for(lambda: server.metric("squatstream_dns_pace_state", f'{label},state="ceiling"') == 1 or
                     not stream.is_alive(), STREAM_TIMEOUT, "the ceiling state or the stream's end")
            at_ceiling = server.metric("squatstream_dns_pace_state", f'{label},state="ceiling"') == 1
            stream.join(STREAM_TIMEOUT + 60)
            records, _, code, err, _ = stream.result
        bins = counter.per_second()
        burst = max(1, CEILING // 20)
        # The relay's one-second bins are not the bucket's: a bin may hold the end of one full second and the
        # burst the bucket had saved; 10% more for the relay's own scheduling.
        allowed = CEILING + burst + CEILING // 10
        peak = max(bins.values()) if bins else 0
        checks.expect(at_ceiling, f"--dns_rate_limit={CEILING}: the controller reached its ceiling state")
        checks.expect(code == 0 and len(records) == len(names) and peak <= allowed and peak >= CEILING * 0.7,
                      f"--dns_rate_limit={CEILING}: at most {peak} queries in one second reached the resolver "
                      f"(allowed {allowed}; per second: {[bins[k] for k in sorted(bins)]}{err.strip()})")

    print(f"info  {time.monotonic() - started:.1f} s in all")
    if checks.failures:
        sys.exit(f"{len(checks.failures)} check(s) failed")


if __name__ == "__main__":
    main()
