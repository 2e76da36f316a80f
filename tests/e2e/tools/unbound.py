"""A recursive resolver on loopback for the tests and the resolver benchmark: Debian's unbound, run in the
foreground as the calling user with its files in a scratch directory, iterator only (no DNSSEC module, no trust
anchor, so nothing is fetched), asking stub zones on loopback instead of the root: each zone given, and "." as
well, so that no name (a zone's NS target included) sends it to the compiled-in root servers. No remote control.
Standard library only.

    with Unbound(["com", "net"], upstream=relay.server) as resolver:   # resolver.server: "127.0.0.1:PORT"
        ...
    Unbound(..., ip_ratelimit=200)          # more than 200 queries/s from one address: dropped (no answer at all)
    Unbound(..., ratelimit=200)             # more than 200 queries/s sent to one zone's servers: SERVFAIL
    Unbound(..., address="127.0.0.153", port=53)   # for a client that cannot name a port (dnstwist; needs root)

The cache is the process's: a fresh Unbound starts cold.
"""
import ctypes
import os
import random
import signal
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nsd import start_on_a_free_port  # noqa: E402

UNBOUND = "/usr/sbin/unbound"


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when the process that started it dies, however it dies (a test killed on
    its timeout leaves no resolver behind). Strictly, when the thread
    that started it ends (PR_SET_PDEATHSIG): start it from a thread that outlives it, as the main thread does."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def soa_query(zone):
    """A DNS query (RD set) for the SOA of `zone`, with a random ID; returns (id, bytes)."""
    qid = random.randrange(65536)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in zone.strip(".").split(".") if label) + b"\0"
    return qid, struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 6, 1)


def rcode_of(address, port, zone, timeout=0.5):
    """The RCODE of an SOA query for `zone` at address:port over UDP, or None when nothing answers in time."""
    qid, query = soa_query(zone)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query, (address, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(4096)
            except OSError:
                return None
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                return data[3] & 0x0F
    return None


class Unbound:
    def __init__(self, zones, upstream, address="127.0.0.1", port=None, ip_ratelimit=0, ip_ratelimit_factor=0,
                 ratelimit=0, ratelimit_factor=0, threads=1, start_timeout=30, extra=""):
        """zones: the zone names the upstream serves (stub zones; "." is added); upstream: "127.x.x.x:PORT" (the
        delay relay or nsd). ip_ratelimit / ratelimit: queries per second (0: off); the factors: 1 in that many
        over the limit let through (0: none)."""
        if not address.startswith("127."):
            raise ValueError("unbound here listens on loopback only")
        self.zones = sorted(set(z.strip(".") for z in zones if z.strip(".")))
        self.upstream = upstream.replace(":", "@")
        self.address, self.fixed_port = address, port
        self.ip_ratelimit, self.ip_ratelimit_factor = ip_ratelimit, ip_ratelimit_factor
        self.ratelimit, self.ratelimit_factor = ratelimit, ratelimit_factor
        self.threads, self.start_timeout, self.extra = threads, start_timeout, extra
        self.port, self.server, self.dir, self.proc = None, None, None, None

    def config(self):
        d = self.dir
        lines = [
            "server:",
            f"  interface: {self.address}@{self.port}",
            f"  port: {self.port}",
            "  do-ip6: no",
            "  do-ip4: yes",
            "  do-udp: yes",
            "  do-tcp: yes",
            "  access-control: 127.0.0.0/8 allow",
            # the upstream is on loopback: unbound refuses to ask 127.0.0.0/8 otherwise
            "  do-not-query-localhost: no",
            '  username: ""',
            '  chroot: ""',
            f'  directory: "{d}"',
            f'  pidfile: "{d}/unbound.pid"',
            f'  logfile: "{d}/unbound.log"',
            "  use-syslog: no",
            "  verbosity: 1",
            '  module-config: "iterator"',
            f"  num-threads: {self.threads}",
            "  so-rcvbuf: 4m",
            "  so-sndbuf: 4m",
            "  minimal-responses: yes",
            "  hide-identity: yes",
            "  hide-version: yes",
        ]
        if self.ip_ratelimit:
            lines += [f"  ip-ratelimit: {self.ip_ratelimit}", f"  ip-ratelimit-factor: {self.ip_ratelimit_factor}"]
        if self.ratelimit:
            lines += [f"  ratelimit: {self.ratelimit}", f"  ratelimit-factor: {self.ratelimit_factor}"]
        if self.extra:
            lines.append(self.extra)
        lines += ["remote-control:", "  control-enable: no"]
        for zone in self.zones + ["."]:
            lines += ["stub-zone:", f'  name: "{zone if zone == "." else zone + "."}"',
                      f"  stub-addr: {self.upstream}", "  stub-prime: no"]
        return "\n".join(lines) + "\n"

    def __enter__(self):
        return start_on_a_free_port(self, "unbound", self.address)

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="squatstream-unbound-")
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write(self.config())
        check = subprocess.run(["/usr/sbin/unbound-checkconf", path], capture_output=True, text=True)
        if check.returncode != 0:
            log = check.stdout + check.stderr
            self.__exit__(None, None, None)
            sys.exit(f"unbound's configuration does not check: {log}")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        # Ready when it answers a query for a zone it knows (any RCODE: an answer is an answer).
        deadline = time.monotonic() + self.start_timeout
        probe = self.zones[0] if self.zones else "."
        while rcode_of(self.address, self.port, probe) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log()
                self.__exit__(None, None, None)
                if "Address already in use" in log and not self.fixed_port:
                    return False
                sys.exit(f"unbound did not start on {self.server}: {log[-4000:]}")
        return True

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log")) as f:
                return f.read()
        except OSError:
            return ""

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
