"""64 clients that open a big stream (internationalbusinessmachines.com, max_candidates 100000) and never
read it, against squatstreamd with its default memory budget (512 MiB) and room for one stream more (65):
the budget keeps a typical stream's share (its generation and a minimal buffer) for each stream that could
still arrive, so all 64 are admitted, the first ones with large buffers, the last ones with what is left —
and the budget is then all granted.

Pass criteria: the budget holds — every stalled stream is admitted, the slots granted reach the budget and
never exceed it, the server's peak RSS stays under its idle RSS + the budget; the 65th stream, asking for 32
domains (more than a typical stream's share), is refused with RESOURCE_EXHAUSTED naming the memory budget
(seen by grpcurl, a client that reads its answer), while a typical one still fits; after the clients go, RSS
returns to at most 2x its idle value within 30 s. (Without the budget the same 64 readers took the server to
~1.1 GB, and the memory stayed taken.)

The probes run once every stalled stream reached the server and the grants are settled (waited for on
the server's metrics, never a fixed time), and the test checks the stalled streams' charge did not change
around them, so the outcome is the budget's on any machine.

usage: stalled_readers_test.py STALLED_READERS GRPCURL SQUATSTREAMD [--sanitizer-build]
With --sanitizer-build the RSS checks are printed, not asserted (the sanitizer's allocator and shadow memory).
Standard library only; bounded.
"""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from squatstreamd import Checks, Server, require_tool, wait_for  # noqa: E402

BUDGET_MB = 512
READERS = 64
# Each stalled stream asks for internationalbusinessmachines.com (22,026 candidates): more than its largest
# possible grant (--fanin_capacity, 16,384, counting its lookups in flight), one batch in flight (1,024
# records) and what the client's transport takes before flow control stops it (its 64 KiB window, BDP
# probing off in stalled_readers), so no stalled stream's generation can end while it is held — on a fast
# machine or a slow one — and what the probes meet is decided by the budget alone. (With BDP probing the
# client's window grew, a fast machine finished generating the first, large-buffered streams before the
# probe, their charges shrank, and the 65th stream was admitted.)
STALLED_DOMAIN = "internationalbusinessmachines.com"
MAX_HOLD = 150  # a bound for a test that dies; the test lets go as soon as it has checked


def main():
    sanitizer_build = "--sanitizer-build" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--sanitizer-build"]
    if len(args) != 3:
        sys.exit(__doc__)
    stalled, grpcurl, squatstreamd = args
    require_tool(grpcurl, "grpcurl")
    checks = Checks(rss_asserted=not sanitizer_build)
    expect = checks.expect

    with Server(squatstreamd, [f"--memory_budget_mb={BUDGET_MB}", f"--max_concurrent_streams={READERS + 1}"]) as server:
        metric = server.metric

        subprocess.run([stalled, server.address, "1", "example.com", "10", "0"], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        server.wait_idle_release()
        idle = server.rss_bytes()
        slots = metric("squatstream_memory_budget_slots")

        peak, granted_peak = [idle], [0.0]
        stop = threading.Event()

        sample_errors = []

        def sample():
            while not stop.wait(0.2):
                try:
                    peak[0] = max(peak[0], server.rss_bytes())
                    granted_peak[0] = max(granted_peak[0], metric("squatstream_memory_budget_slots_granted"))
                except Exception as e:  # noqa: BLE001 - reported as a failure below
                    sample_errors.append(repr(e))

        sampler = threading.Thread(target=sample)
        sampler.start()
        clients = subprocess.Popen([stalled, server.address, str(READERS), STALLED_DOMAIN, "100000", str(MAX_HOLD)],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        try:
            # The state the probes are about: every stalled stream holding its grant (or refused). The budget
            # sets its holders and its charge together, under its lock.
            refusals = lambda: metric("grpc_server_handled_total",  # noqa: E731
                                      'grpc_code="ResourceExhausted",grpc_method="EnrichDomain"')
            wait_for(lambda: metric("squatstream_memory_budget_streams") + refusals() >= READERS,
                     120, f"the {READERS} stalled streams to be granted their share (or refused)")
            refused = refusals()
            charged_before = metric("squatstream_memory_budget_slots_granted")
            domains = ", ".join(f'"internationalbusinessmachines{i}.com"' for i in range(32))
            extra = subprocess.run([grpcurl, "-plaintext", "-d", f'{{"domains":[{domains}],"max_candidates":100000}}',
                                    server.address, "squatstream.v1.EnrichmentService/EnrichDomain"],
                                   capture_output=True, text=True, timeout=60)
            typical = subprocess.run([grpcurl, "-plaintext", "-d", '{"domain":"example.com","max_candidates":10}',
                                      server.address, "squatstream.v1.EnrichmentService/EnrichDomain"],
                                     capture_output=True, text=True, timeout=60)
            # grpcurl has the typical probe's status, so its grant is back (it is released before the status
            # leaves): what is charged now is the stalled streams' alone.
            charged_after = metric("squatstream_memory_budget_slots_granted")
        finally:
            clients.stdin.close()
            clients.wait(timeout=60)
            stop.set()
            sampler.join()
        expect(charged_after == charged_before,
               f"the stalled streams held their charge through the probes ({charged_before:.0f} then "
               f"{charged_after:.0f} slots): the probes met the budget, not a generation that had ended")
        print(f"      idle {idle / 2**20:.0f} MiB, peak {peak[0] / 2**20:.0f} MiB; budget {BUDGET_MB} MiB = "
              f"{slots:.0f} slots, peak granted {granted_peak[0]:.0f}; {refused:.0f} of {READERS} refused")
        expect(not sample_errors, f"sampled RSS and metrics throughout ({sample_errors[:1]})")
        expect(granted_peak[0] <= slots, "the slots granted never exceed the budget")
        expect(refused == 0, f"every stalled stream was admitted ({refused:.0f} refused)")
        expect(granted_peak[0] >= slots * 0.98, "the grants reached the budget (it bound the buffers)")
        expect("Code: ResourceExhausted" in extra.stderr and "memory budget" in extra.stderr,
               f"a stream asking for more than a typical share is told why: "
               f"{extra.stderr.strip().splitlines()[-1:] if extra.stderr else extra.stdout[:80]}")
        expect(typical.returncode == 0 and typical.stdout.count('"domain_ascii"') == 10,
               f"a typical stream still fits (exit {typical.returncode}, {typical.stdout.count('domain_ascii')} "
               f"records; {typical.stderr.strip()[-120:]})")
        checks.expect_rss(peak[0] <= idle + BUDGET_MB * 2**20,
                          f"peak RSS {peak[0] / 2**20:.0f} MiB within idle + budget "
                          f"({(idle + BUDGET_MB * 2**20) / 2**20:.0f} MiB)")
        deadline = time.monotonic() + (5 if sanitizer_build else 30)
        while server.rss_bytes() > 2 * idle and time.monotonic() < deadline:
            time.sleep(0.25)
        rss = server.rss_bytes()
        checks.expect_rss(rss <= 2 * idle, f"RSS back to {rss / 2**20:.0f} MiB (idle {idle / 2**20:.0f} MiB, at most 2x)")
    print(f"stalled_readers_test: {len(checks.failures)} failed")
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
