"""A second squatstreamd on a port another one serves is refused, with a message naming the cause.

gRPC sets SO_REUSEPORT by default: a second server on the same address would start without error and the kernel
would split new connections between the two, so that a forgotten server (a stub one, say) answers part of a
user's requests. squatstreamd turns it off; this test starts one server on a free loopback port, then another on
that port, and expects the second to exit 1 saying the address is in use, while the first goes on serving.

Usage: taken_port_test.py SQUATSTREAMD GRPCURL
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from squatstreamd import Checks, Server  # noqa: E402


def main():
    binary, grpcurl = sys.argv[1], sys.argv[2]
    checks = Checks()
    with Server(binary) as first:
        second = subprocess.run([binary, f"--grpc_address={first.address}", "--metrics_address=127.0.0.1:0",
                                 "--stub_enrichers=all"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=30)
        print(second.stderr.strip())
        checks.expect(second.returncode == 1, f"the second server exits 1 (got {second.returncode})")
        checks.expect(f"cannot serve gRPC on {first.address}" in second.stderr, "its message names the address")
        checks.expect("the address is in use" in second.stderr and "--grpc_address" in second.stderr,
                      "and says the address is in use and how to choose another")
        checks.expect(first.proc.poll() is None, "the first server still runs")
        # Every new connection reaches the first: ten health checks over ten connections all answer SERVING
        # (with SO_REUSEPORT and a second server, some would be refused or reach the other).
        answered = 0
        for _ in range(10):
            check = subprocess.run([grpcurl, "-plaintext", first.address, "grpc.health.v1.Health/Check"],
                                   capture_output=True, text=True, timeout=30)
            answered += '"SERVING"' in check.stdout
        checks.expect(answered == 10, f"the first server answers every new connection ({answered} of 10)")
    if checks.failures:
        sys.exit(f"{len(checks.failures)} check(s) failed")


if __name__ == "__main__":
    main()
