#!/usr/bin/python3
"""A stand-in for the machine's resolver that logs every question it gets, in a network and mount namespace of the
test's own: for tests proving that a program resolves the names strangers choose only through the resolver it was
configured with (squatstreamd's --dns_servers), never through the system's resolver or /etc/hosts. Standard library
only (Debian's /usr/bin/python3).

    resolver_trap.py COMMAND [ARG...]

runs COMMAND inside the trap and exits with its status — or 1, printing what was asked, when the logging resolver
got any question while COMMAND ran. COMMAND sees SQUATSTREAM_RESOLVER_TRAP=1 in its environment.

The trap: a mount and network namespace (`unshare --mount --net`; when that is refused, as the root of a user
namespace of its own, `unshare --map-root-user --mount --net`) whose only interface is loopback, brought up — no
route leads off the machine, so nothing in it can reach the machine's real resolver — where
  * /etc/resolv.conf is a scratch file naming one server, 127.0.0.53: the logging resolver, a DNS server (UDP and
    TCP, port 53) that writes every question to its log and answers REFUSED;
  * /etc/hosts is a scratch file mapping localhost, and every name given to ResolverTrap(hosts=...), to 127.0.0.254,
    where nothing listens (a program that asked /etc/hosts for a test's name dials nothing that answers);
  * /etc/nsswitch.conf says "hosts: files dns" (no other name service), and nscd's and systemd-resolved's sockets,
    if the machine has them, are hidden under empty directories;
all bind mounts inside the namespace only (private propagation: the machine's files are untouched). Before
anything runs in it, the trap is shown to work: the system's resolver (getaddrinfo) asked for a probe name reaches
the log, and the hosts file's trap name resolves to 127.0.0.254; the log is then emptied.

As a module (a test script that runs itself in the trap):
    isolate()                      # first thing in main(): re-runs this script in the namespace; returns inside it
    with ResolverTrap(hosts=[...]) as trap:
        ...                        # trap.questions(): [(name, type)] asked of the logging resolver so far
Exit status 77 (ctest's SKIP_RETURN_CODE) when no namespace can be made here, saying why.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

MARK = "SQUATSTREAM_RESOLVER_TRAP"
RESOLVER = "127.0.0.53"
HOSTS_TRAP = "127.0.0.254"
PROBE = "resolver-trap-probe.invalid"
HOSTS_PROBE = "hosts-trap-probe.invalid"
SKIP = 77
UNSHARE = [["unshare", "--mount", "--net", "--propagation", "private"],
           ["unshare", "--map-root-user", "--mount", "--net", "--propagation", "private"]]


def isolate(argv=None):
    """Re-runs the calling script (`argv`, default sys.argv) in a fresh namespace and exits with its status; inside
    it (MARK set), returns at once. Exits 77 when neither unshare works here."""
    if os.environ.get(MARK) == "1":
        return
    argv = list(sys.argv if argv is None else argv)
    reasons = []
    for prefix in UNSHARE:
        probe = subprocess.run(prefix + ["true"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        if probe.returncode != 0:
            reasons.append(f"{' '.join(prefix)}: {probe.stderr.decode(errors='replace').strip()}")
            continue
        env = dict(os.environ, **{MARK: "1"})
        sys.stdout.flush()
        sys.exit(subprocess.run(prefix + [sys.executable] + argv, env=env).returncode)
    print("resolver_trap: no network and mount namespace can be made here, so the test cannot isolate the system's "
          "resolver (skipped):\n  " + "\n  ".join(reasons), flush=True)
    sys.exit(SKIP)


def _name(message, offset):
    """The (uncompressed) name at `offset` of a DNS message, and the offset after it."""
    labels = []
    while offset < len(message):
        n = message[offset]
        offset += 1
        if n == 0:
            break
        if n & 0xC0:  # a pointer in a question: not from a real stub resolver; keep what was read
            offset += 1
            break
        labels.append(message[offset:offset + n].decode("ascii", "replace"))
        offset += n
    return ".".join(labels), offset


def _refused(query):
    """REFUSED to `query`: its ID and question, QR set, RD copied, RA clear, no records."""
    if len(query) < 12:
        return b""
    qid, flags = struct.unpack("!HH", query[:4])
    _, end = _name(query, 12)
    question = query[12:end + 4]
    return struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x7900) | 5, 1, 0, 0, 0) + question


class ResolverTrap:
    """The logging resolver and the scratch files, in the namespace isolate() made (see the module's help)."""

    def __init__(self, hosts=()):
        self.hosts = list(hosts)
        self._log = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._sockets = []
        self._dir = None

    # --- what it was asked ---
    def questions(self):
        with self._lock:
            return list(self._log)

    def _record(self, query):
        if len(query) < 12:
            return
        name, end = _name(query, 12)
        qtype = struct.unpack("!H", query[end:end + 2])[0] if end + 2 <= len(query) else 0
        with self._lock:
            self._log.append((name, qtype))

    # --- the servers ---
    def _serve_udp(self, sock):
        while not self._stop.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self._record(query)
            try:
                sock.sendto(_refused(query), peer)
            except OSError:
                pass

    def _serve_tcp(self, listener):
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    size = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))[0]
                    query = conn.recv(size, socket.MSG_WAITALL)
                except (OSError, struct.error):
                    continue
                self._record(query)
                answer = _refused(query)
                try:
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
                except OSError:
                    pass

    # --- setting up ---
    @staticmethod
    def _run(*args):
        r = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"resolver_trap: {' '.join(args)} failed: {r.stderr.decode(errors='replace').strip()}")
        return r.stdout.decode()

    def _bind_over(self, name, text, target):
        path = os.path.join(self._dir, name)
        with open(path, "w") as f:
            f.write(text)
        self._run("mount", "--bind", path, target)

    def __enter__(self):
        if os.environ.get(MARK) != "1":
            sys.exit("resolver_trap: ResolverTrap outside the namespace (call isolate() first)")
        self._run("ip", "link", "set", "lo", "up")
        links = [line.split(":")[1].strip() for line in self._run("ip", "-o", "link", "show").splitlines()]
        if links != ["lo"]:
            sys.exit(f"resolver_trap: the namespace has other interfaces than loopback: {links}")
        self._dir = tempfile.mkdtemp(prefix="squatstream-resolver-trap-")
        self._bind_over("resolv.conf", f"nameserver {RESOLVER}\noptions timeout:1 attempts:1\n",
                        os.path.realpath("/etc/resolv.conf"))
        names = " ".join([HOSTS_PROBE] + self.hosts)
        self._bind_over("hosts", f"127.0.0.1 localhost\n::1 localhost\n{HOSTS_TRAP} {names}\n", "/etc/hosts")
        self._bind_over("nsswitch.conf", "hosts: files dns\n", "/etc/nsswitch.conf")
        for hidden in ("/run/nscd", "/var/run/nscd", "/run/systemd/resolve"):
            if os.path.isdir(hidden) and not os.path.islink(hidden):
                empty = tempfile.mkdtemp(dir=self._dir)
                self._run("mount", "--bind", empty, hidden)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((RESOLVER, 53))
        udp.settimeout(0.2)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind((RESOLVER, 53))
        tcp.listen(16)
        tcp.settimeout(0.2)
        self._sockets = [udp, tcp]
        self._threads = [threading.Thread(target=self._serve_udp, args=(udp,), daemon=True),
                         threading.Thread(target=self._serve_tcp, args=(tcp,), daemon=True)]
        for t in self._threads:
            t.start()
        self._prove()
        return self

    def _prove(self):
        """Shows the trap catches the system's resolver before anything relies on it, then empties the log."""
        try:
            socket.getaddrinfo(PROBE, 80, type=socket.SOCK_STREAM)
            sys.exit(f"resolver_trap: {PROBE} resolved: the logging resolver is not the system's")
        except socket.gaierror:
            pass
        deadline = time.monotonic() + 10
        while not any(name == PROBE for name, _ in self.questions()):
            if time.monotonic() > deadline:
                sys.exit(f"resolver_trap: getaddrinfo({PROBE}) never reached the logging resolver: {self.questions()}")
            time.sleep(0.02)
        found = {a[4][0] for a in socket.getaddrinfo(HOSTS_PROBE, 80, type=socket.SOCK_STREAM)}
        if found != {HOSTS_TRAP}:
            sys.exit(f"resolver_trap: {HOSTS_PROBE} is {found}, not the scratch /etc/hosts' {HOSTS_TRAP}")
        with self._lock:
            self._log.clear()

    def __exit__(self, *exc):
        self._stop.set()
        for s in self._sockets:
            s.close()
        for t in self._threads:
            t.join(timeout=5)
        return False


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    isolate()
    with ResolverTrap() as trap:
        code = subprocess.run(sys.argv[1:], env=dict(os.environ)).returncode
        asked = trap.questions()
    if asked:
        print(f"resolver_trap: the system's resolver was asked {len(asked)} question(s) while "
              f"{os.path.basename(sys.argv[1])} ran: {sorted(set(asked))}", flush=True)
        sys.exit(1)
    print(f"resolver_trap: the system's resolver was asked nothing while {os.path.basename(sys.argv[1])} ran",
          flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
