"""Starts the built squatstreamd on free loopback ports for the end-to-end tests that drive it with outside
tools (grpcurl, ghz), and stops it. Standard library only: runs under any Python 3.9+ (the pyenv one or
Debian's /usr/bin/python3).
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


class Checks:
    """Pass/fail lines as the e2e scripts print them. RSS checks are asserted unless the server is a
    sanitizer build (its allocator ignores malloc_trim and its RSS is mostly shadow memory): then printed."""

    def __init__(self, rss_asserted=True):
        self.failures = []
        self.rss_asserted = rss_asserted

    def expect(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)

    def expect_rss(self, ok, what):
        if self.rss_asserted:
            self.expect(ok, what)
        else:
            print(f"info  {what} ({'holds' if ok else 'does not hold'}; not asserted in a sanitizer build)")


def stop(proc, timeout=20):
    """Ends a peer process the test started: SIGTERM, then SIGKILL if it is still there after `timeout`."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def require_tool(path, name):
    """Exits with a clear message when the pinned tool is not installed."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"{name} not found at {path}: scripts/install-deps.sh installs it (pinned, into .tools/)")


def wait_for(condition, timeout, what, every=0.05):
    """Polls `condition()` until it is true; exits naming `what` when `timeout` seconds pass first. The way a
    test waits for a state (never a fixed sleep standing in for it). Returns the condition's last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            sys.exit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Server:
    """squatstreamd on 127.0.0.1 with `flags`; `address` is host:port once started. Use as a context manager:
    on exit the server gets SIGTERM and must exit 0 within `stop_timeout` seconds."""

    def __init__(self, binary, flags=(), start_timeout=20.0, stop_timeout=20.0):
        self.binary = binary
        self.flags = list(flags)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.proc = None
        self.address = None
        self.metrics_port = None
        self.stopped = False  # set by a test that stops the server itself
        self._log = tempfile.TemporaryFile()

    def __enter__(self):
        # Simulated stages unless a test's own flags say otherwise: no test queries the machine's resolver. No
        # store unless the test names one (the default, /var/lib/squatstream, is the machine's, not a test's).
        store = [] if any(f.startswith(("--store=", "--store_file=")) for f in self.flags) else ["--store=none"]
        args = [self.binary, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
                "--stub_enrichers=all"] + store + self.flags
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            m = re.search(r"serving gRPC on port (\d+), metrics on port (\d+)", self.log())
            if m:
                self.address = f"127.0.0.1:{m.group(1)}"
                self.metrics_port = int(m.group(2))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self._kill()
        sys.exit(f"squatstreamd did not start ({' '.join(args)}):\n{self.log()}")

    def __exit__(self, *exc):
        if self.proc.poll() is not None and self.proc.returncode != 0 and exc[0] is None and not self.stopped:
            sys.exit(f"squatstreamd died during the test (exit {self.proc.returncode}):\n{self.log()[-20000:]}")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                sys.exit(f"squatstreamd did not stop within {self.stop_timeout} s of SIGTERM:\n{self.log()}")
            if code != 0 and exc[0] is None:
                sys.exit(f"squatstreamd exited with {code} on SIGTERM:\n{self.log()}")
        self._log.close()
        return False

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def metric(self, name, labels=""):
        """The sum of the /metrics samples of `name` whose labels hold every comma-separated part of `labels`
        (e.g. 'grpc_code="OK",grpc_method="EnrichDomain"'); 0 when none."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for m in re.finditer(r"^" + re.escape(name) + r"(\{[^}]*\})? (\S+)$", text, re.M):
            if all(part in (m.group(1) or "") for part in labels.split(",") if part):
                total += float(m.group(2))
        return total

    def wait_idle_release(self, timeout=30):
        """Waits until no stream is in progress and the server has since given its free memory back to the
        system (its once-a-second idle release, counted in squatstream_memory_releases_total). Call it right
        after streams ended: the server releases on the first ten idle seconds after activity only."""
        wait_for(lambda: self.metric("squatstream_active_streams") == 0, timeout, "the streams to end")
        released = self.metric("squatstream_memory_releases_total")
        wait_for(lambda: self.metric("squatstream_memory_releases_total") > released, timeout,
                 "the server's idle memory release")

    def rss_bytes(self):
        """The server's resident set size now (VmRSS of /proc/PID/status). Exits, with the server's log, if
        the server is no longer running."""
        if self.proc.poll() is not None:
            sys.exit(f"squatstreamd exited with {self.proc.returncode} while the test ran:\n{self.log()[-20000:]}")
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


class MetricPeak:
    """The most a metric of `server` reads while the `with` block runs, sampled every `every` seconds in a
    thread: `with MetricPeak(server, name) as p: ...; p.peak`."""

    def __init__(self, server, name, every=0.05):
        self.server, self.name, self.every = server, name, every
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.server.metric(self.name))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
