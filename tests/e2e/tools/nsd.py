"""An authoritative nsd (Debian's) on 127.0.0.1 for the Python tests and the DNS benchmark: generated zone files
in a scratch directory, run unprivileged in the foreground, rate limiting off, 4 MiB socket buffers (bursts of
queries overflow the kernel's default). Standard library only.

    with Nsd({"com": COM_ZONE_TEXT}) as nsd:   # nsd.port, nsd.server ("127.0.0.1:PORT")
        ...
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    """A loopback port free for UDP and TCP both when it was picked (nsd binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket(socket.AF_INET) as t:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no loopback port free for both UDP and TCP")


def answers(port):
    """Whether something answers a DNS query (SOA of com) on 127.0.0.1:port over UDP."""
    query = bytes([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3]) + b"com" + bytes([0, 0, 6, 0, 1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        s.sendto(query, ("127.0.0.1", port))
        try:
            return len(s.recv(512)) > 0
        except OSError:
            return False


def registered_zones(names, registered):
    """Zone files for nsd, one per top-level label of `names`: {tld: text}. Each name `registered(name)` says is
    registered gets an A, an AAAA and an MX record; the rest are NXDOMAIN."""
    members = {}
    for name in names:
        members.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    zones = {}
    for tld, in_zone in sorted(members.items()):
        lines = [f"$ORIGIN {tld}.", "$TTL 300", "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300",
                 "@ IN NS ns.test."]
        for i, name in enumerate(in_zone):
            if registered(name):
                lines += [f"{name}. IN A 192.0.2.{1 + i % 254}", f"{name}. IN AAAA 2001:db8::{1 + i % 254:x}",
                          f"{name}. IN MX 10 mail.{name}."]
        zones[tld] = "\n".join(lines) + "\n"
    return zones


def start_on_a_free_port(peer, name, address="127.0.0.1"):
    """Starts `peer` (its `fixed_port`, or a free one) through its `_start()`, which returns False when the port
    was taken before the peer bound it (a test running beside may take a port picked free): then a fresh port
    is tried, up to 5 (a port the caller fixed is not). Sets peer.port and peer.server; exits when none worked."""
    for _ in range(1 if peer.fixed_port else 5):
        peer.port = peer.fixed_port or free_port()
        peer.server = f"{address}:{peer.port}"
        if peer._start():
            return peer
    sys.exit(f"{name} did not start: every port tried was taken (last {peer.port})")


class Nsd:
    def __init__(self, zones, port=None, processes=1):
        self.zones, self.fixed_port, self.processes = zones, port, processes
        self.port, self.server = None, None
        self.dir, self.proc = None, None

    def __enter__(self):
        # nsd exits at once when its port was taken meanwhile: _start says so, and another port is tried.
        return start_on_a_free_port(self, "nsd")

    def _start(self):
        d = self.dir = tempfile.mkdtemp(prefix="squatstream-nsd-")
        conf = [f"server:\n  ip-address: 127.0.0.1@{self.port}\n  username: \"\"\n  chroot: \"\"\n  database: \"\"\n"
                f"  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd\"\n  xfrdir: \"{d}\"\n"
                f"  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  rrl-ratelimit: 0\n"
                f"  server-count: {self.processes}\n  receive-buffer-size: 4194304\n  send-buffer-size: 4194304\n"
                "remote-control:\n  control-enable: no\n"]
        for name, text in sorted(self.zones.items()):
            with open(os.path.join(d, f"{name}.zone"), "w") as f:
                f.write(text)
            conf.append(f"zone:\n  name: {name}\n  zonefile: {name}.zone\n")
        with open(os.path.join(d, "nsd.conf"), "w") as f:
            f.write("".join(conf))
        self.proc = subprocess.Popen(["/usr/sbin/nsd", "-d", "-c", os.path.join(d, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = open(os.path.join(d, "nsd.log")).read() if os.path.exists(os.path.join(d, "nsd.log")) else ""
                self.__exit__(None, None, None)
                if "Address already in use" in log:
                    return False
                sys.exit(f"nsd did not start on port {self.port}: {log}")
            time.sleep(0.05)
        return True

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False
