"""SIGTERM as Kubernetes sends it, observed with grpcurl the way a probe, a mesh and clients see it: an open
Health/Watch, five EnrichDomain streams whose lookups outlast the grace period, then SIGTERM.

Pass criteria: Watch sees NOT_SERVING and then ends; while draining, Health/Check answers NOT_SERVING and a
new EnrichDomain gets UNAVAILABLE "server shutting down"; each running stream ends UNAVAILABLE "server
shutting down" (not gRPC's generic "Cancelling all calls"); squatstreamd exits 0 within the grace period
+ 0.5 s of the signal (it used to wait out the whole grace for the Watch alone, and overrun by 1.5-2.3 s).

usage: drain_test.py GRPCURL SQUATSTREAMD        Standard library only; bounded: every wait has a deadline.
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from squatstreamd import Checks, Server, require_tool  # noqa: E402

GRACE = 2.0
STREAMS = 5


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    grpcurl, squatstreamd = sys.argv[1], sys.argv[2]
    require_tool(grpcurl, "grpcurl")
    checks = Checks()
    expect = checks.expect

    flags = ["--stub_whois_latency=30s", "--stub_dns_registered_rate=1", f"--shutdown_grace={GRACE:g}s"]
    with Server(squatstreamd, flags, stop_timeout=GRACE + 10) as server:
        def call(*args, timeout=20):
            return subprocess.run([grpcurl, "-plaintext", *args], capture_output=True, text=True, timeout=timeout)

        def start(*args):
            return subprocess.Popen([grpcurl, "-plaintext", *args], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)

        watch = start(server.address, "grpc.health.v1.Health/Watch")
        streams = [start("-d", '{"domain":"example.com","max_candidates":50}', server.address,
                         "squatstream.v1.EnrichmentService/EnrichDomain") for _ in range(STREAMS)]
        deadline = time.monotonic() + 20
        while server.metric("squatstream_active_streams") < STREAMS and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(server.metric("squatstream_active_streams") == STREAMS, f"{STREAMS} streams running before the signal")

        exited = {}

        def wait_exit():  # the exit time, taken when it happens, whatever the checks below take
            exited["code"] = server.proc.wait(timeout=GRACE + 30)
            exited["at"] = time.monotonic()

        waiter = threading.Thread(target=wait_exit)
        server.stopped = True
        sent = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        waiter.start()
        # While draining: Check says NOT_SERVING, a new stream is refused as UNAVAILABLE.
        check = call(server.address, "grpc.health.v1.Health/Check", timeout=5)
        expect('"NOT_SERVING"' in check.stdout, f"Health/Check while draining: {check.stdout.strip() or check.stderr.strip()}")
        new = call("-d", '{"domain":"example.com"}', server.address, "squatstream.v1.EnrichmentService/EnrichDomain",
                   timeout=5)
        expect("Code: Unavailable" in new.stderr and "server shutting down" in new.stderr,
               f"a new stream while draining: {new.stderr.strip()}")

        waiter.join()
        code = exited.get("code")
        took = exited.get("at", float("inf")) - sent
        expect(code == 0, f"squatstreamd exited with {code}")
        expect(took <= GRACE + 0.5, f"exited {took:.2f} s after SIGTERM (grace {GRACE:g} s, at most +0.5 s)")

        try:
            watch_out, _ = watch.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            watch.kill()
            watch_out, _ = watch.communicate()
        expect('"SERVING"' in watch_out and '"NOT_SERVING"' in watch_out
               and watch_out.index('"SERVING"') < watch_out.index('"NOT_SERVING"'),
               "Health/Watch saw SERVING, then NOT_SERVING")
        for i, p in enumerate(streams):
            try:
                out, _ = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            expect("Code: Unavailable" in out and "Message: server shutting down" in out,
                   f"stream {i} ended UNAVAILABLE \"server shutting down\": "
                   f"{out.strip().splitlines()[-2:] if out.strip() else '(no output)'}")
    print(f"drain_test: {len(checks.failures)} failed")
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
