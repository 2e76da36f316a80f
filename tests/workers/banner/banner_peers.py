#!/usr/bin/python3
"""Real HTTP/HTTPS, SSH and SMTP peers on loopback for the banner enricher's tests (Python 3 standard library
only; it runs Debian's nginx, sshd and, through Debian's python3, aiosmtpd).

  banner_peers.py [--verbose] [--until-signal] [--names NAME,NAME...]

Scenarios are told apart by loopback ADDRESS; every address uses the same four ports (127.0.0.0/8 is all routable
on Linux's loopback). Nothing listens or dials outside 127.0.0.0/8.

  address     scenario   HTTP port and HTTPS port (nginx unless said)                 SMTP port        SSH port
  127.0.0.11  plain      200, pages/plain.html, nginx's own Server header             accepts RCPT     sshd
  127.0.0.12  chain      http / -> 301 http://$host:<http>/step2 -> 302                refuses RCPT     sshd
                         https://$host:<https>/final -> 200 pages/chain_final.html
                         (https / also answers that page with 200)
  127.0.0.13  slow       a Python server on all four ports: accepts, reads, never sends a byte (no TLS
                         handshake either), closes after 30 s or when the client does
  127.0.0.14  endless    200, a 64 MiB text/html body (a sparse file: an HTML head, then zeros) with its
                         Content-Length: the client has to stop at its byte cap
  127.0.0.15  metadata   302 to http://169.254.169.254/latest/meta-data/ (any path)
  127.0.0.16  private    302 to http://10.0.0.1/ (any path)
  127.0.0.17  original   200, pages/original.html (a bank's home page, ~4 KB)
  127.0.0.18  copy       200, pages/copy.html (that page with a few words and the form's action changed)
  127.0.0.19  unrelated  200, pages/unrelated.html (a recipe blog's page of about the same size)
  127.0.0.20  parked     200, pages/parked.html (a domain parking page with a "Buy this domain" sale link)
                         (TLSH distances from original, Debian's libtlsh 3.4.4: copy 17, unrelated 168,
                         parked 271, plain 321)
Ports not listed for an address are closed there (connection refused). HTTPS uses one self-signed certificate
(RSA 2048, 30 days, made by openssl at start-up) whose subjectAltName lists the DNS names of --names (lowercased;
default <scenario>.banner.test for each scenario above; CN the first one), whatever name the client sends in SNI.
SMTP: aiosmtpd (smtp_peer.py, greeting "220 mx.banner.test Python SMTP <version>", aiosmtpd's own EHLO; DATA is
refused with 554 before any 354); each command it receives is appended to the file "smtp_log" names.
SSH: Debian's sshd, which sends its identification line and lets nobody log in.

Picks four free ports (bound on 127.0.0.1 with port 0, then checked free on every address), starts everything,
and prints one JSON line to stdout:

  {"http_port": N, "https_port": N, "smtp_port": N, "ssh_port": N,
   "cert_sha256": "AB:CD:...", (what `openssl x509 -noout -fingerprint -sha256` says of the certificate)
   "cert_pem": "/tmp/banner_peers.../cert.pem", "names": [the certificate's DNS names],
   "server_header": "nginx/1.22.1", (as read from the plain page) "ssh_banner": "SSH-2.0-OpenSSH_9.2p1 Debian-...",
   (the identification line as read from sshd, without CR LF) "smtp_banners": {"accept": "220 ...", "refuse":
   "220 ..."}, (the greetings as read) "addresses": {"plain": "127.0.0.11", ...},
   "smtp": {"accept": "127.0.0.11", "refuse": "127.0.0.12", "silent": "127.0.0.13"},
   "ssh": {"open": ["127.0.0.11", "127.0.0.12"], "silent": "127.0.0.13"},
   "redirects": {"metadata": "http://169.254.169.254/latest/meta-data/", "private": "http://10.0.0.1/"},
   "endless_size": 67108864, "slow_seconds": 30,
   "pages": {"plain": path, "chain_final": path, "original": path, "copy": path, "unrelated": path,
             "parked": path}, (the fixture files in pages/, as served)
   "smtp_log": path, "scratch": the scratch directory}

A port taken by someone else between the pick and the start (tests run in parallel): everything started is
stopped and it tries again with new ports (up to 8 times; then exit 1 with the servers' logs on stderr).

Then serves until its stdin reaches EOF, or SIGTERM / SIGINT; with --until-signal stdin is not watched and it
also stops when its parent exits. Stopping: SIGTERM to each server's process group (SIGKILL after 3 s), then the
scratch directory is removed; exit 0. The servers also get SIGTERM from the kernel if this script is killed
(PR_SET_PDEATHSIG); the scratch directory is left behind then. Quiet unless --verbose (notes on stderr); the servers'
logs (nginx.log, nginx-error.log, nginx-access.log, sshd.log, smtp_peer.log) stay in the scratch directory until it
is removed, and their ends are printed when the start fails. Only a port taken meanwhile ("Address already in
use") is retried; any other failure exits 1 at once.

As root: sshd needs its privilege separation directory /run/sshd (created, 0755, when missing: OpenSSH 9.2 has no
option to do without it), and nginx's worker runs as nobody (no `user` directive), so the scratch directory and
the served files are made world-readable (the key stays 0600: the master reads it before dropping privileges).
"""
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES_DIR = os.path.join(HERE, "pages")
SMTP_PEER = os.path.join(HERE, "smtp_peer.py")
DEBIAN_PYTHON = "/usr/bin/python3"  # has python3-aiosmtpd
NGINX = "/usr/sbin/nginx"
SSHD = "/usr/sbin/sshd"  # sshd re-executes itself: it must be started by its absolute path

ADDRESSES = {
    "plain": "127.0.0.11",
    "chain": "127.0.0.12",
    "slow": "127.0.0.13",
    "endless": "127.0.0.14",
    "metadata": "127.0.0.15",
    "private": "127.0.0.16",
    "original": "127.0.0.17",
    "copy": "127.0.0.18",
    "unrelated": "127.0.0.19",
    "parked": "127.0.0.20",
}
PAGES = {name: os.path.join(PAGES_DIR, name + ".html")
         for name in ("plain", "chain_final", "original", "copy", "unrelated", "parked")}
STATIC = {"plain": "plain", "original": "original", "copy": "copy", "unrelated": "unrelated", "parked": "parked"}
REDIRECTS = {"metadata": "http://169.254.169.254/latest/meta-data/", "private": "http://10.0.0.1/"}
SMTP_ROLES = {"accept": ADDRESSES["plain"], "refuse": ADDRESSES["chain"], "silent": ADDRESSES["slow"]}
SSH_OPEN = [ADDRESSES["plain"], ADDRESSES["chain"]]
SMTP_HOSTNAME = "mx.banner.test"
ENDLESS_SIZE = 64 * 1024 * 1024
ENDLESS_HEAD = b"<html><head><title>Endless</title></head><body>\n"
SLOW_SECONDS = 30
ATTEMPTS = 8
START_SECONDS = 15  # per attempt, for the servers to listen
DEFAULT_NAMES = [scenario + ".banner.test" for scenario in ADDRESSES]

VERBOSE = False


def log(*args):
    if VERBOSE:
        print("banner_peers:", *args, file=sys.stderr, flush=True)


class StartError(Exception):
    pass


class PortTaken(StartError):
    """A port was taken by someone else after the pick: worth another attempt with new ports."""


# ---------------------------------------------------------------------------------------------------------------
# Children: each in its own process group, told by the kernel when this process dies
# ---------------------------------------------------------------------------------------------------------------
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_setup(parent):
    # Runs in the child between fork and exec (no thread of ours runs yet when children are started).
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)


class Child:
    def __init__(self, name, argv, scratch, stdout=subprocess.DEVNULL):
        self.name = name
        self.log_path = os.path.join(scratch, name + ".log")
        self.log = open(self.log_path, "wb")
        parent = os.getpid()
        log("starting", " ".join(argv))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=self.log,
                                     start_new_session=True, preexec_fn=lambda: _child_setup(parent))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=3)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                # Still there (so not reaped: its group id is still ours to signal), with its group (nginx's worker).
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.log:
            self.log.close()

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------------------------
# The silent peer (127.0.0.13): accepts, reads, never answers
# ---------------------------------------------------------------------------------------------------------------
class SilentServer:
    def __init__(self, address, ports):
        self.socks = []
        try:
            for port in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.socks.append(s)
                s.bind((address, port))
                s.listen(64)
        except OSError as e:
            self.close()
            raise PortTaken("silent server: cannot bind %s: %s" % (address, e))

    def start(self):
        for s in self.socks:
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    @staticmethod
    def _hold(conn):
        deadline = time.monotonic() + SLOW_SECONDS
        try:
            while time.monotonic() < deadline:
                conn.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                try:
                    if not conn.recv(65536):
                        break  # the client closed
                except socket.timeout:
                    continue
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        for s in self.socks:
            s.close()


# ---------------------------------------------------------------------------------------------------------------
# Files in the scratch directory
# ---------------------------------------------------------------------------------------------------------------
def run(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise StartError("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def make_certificate(scratch, names):
    pem, key = os.path.join(scratch, "cert.pem"), os.path.join(scratch, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=" + names[0],
         "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names), "-keyout", key, "-out", pem])
    os.chmod(key, 0o600)
    os.chmod(pem, 0o644)
    out = run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"]).strip()
    return pem, key, out.split("=", 1)[1]  # "sha256 Fingerprint=AB:CD:..."


def make_host_key(scratch):
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "banner_peers", "-f",
         os.path.join(scratch, "ssh_host_ed25519_key")])


def make_site(scratch):
    www = os.path.join(scratch, "www")
    for scenario, page in list(STATIC.items()) + [("chain", "chain_final")]:
        d = os.path.join(www, scenario)
        os.makedirs(d)
        shutil.copyfile(PAGES[page], os.path.join(d, "index.html"))
    d = os.path.join(www, "endless")
    os.makedirs(d)
    with open(os.path.join(d, "index.html"), "wb") as f:
        f.write(ENDLESS_HEAD)
        f.truncate(ENDLESS_SIZE)  # sparse: no disk, no memory
    os.makedirs(os.path.join(scratch, "temp"))  # nginx makes the directories below it, not it
    for root, dirs, files in os.walk(www):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)


def nginx_conf(scratch, ports):
    h, s = ports["http"], ports["https"]

    def server(scenario, listens, body):
        addr = ADDRESSES[scenario]
        lines = ["    server {"]
        lines += ["        listen %s:%d%s;" % (addr, port, " ssl" if port == s else "") for port in listens]
        lines += ["        server_name %s.banner.test;" % scenario,  # $host when a request has no Host
                  "        root %s/www/%s;" % (scratch, scenario)]
        lines += ["        " + line for line in body]
        return "\n".join(lines + ["    }"])

    servers = [server(name, (h, s), []) for name in ("plain", "endless", "original", "copy", "unrelated", "parked")]
    servers.append(server("chain", (h,), [
        "location = / { return 301 http://$host:%d/step2; }" % h,
        "location = /step2 { return 302 https://$host:%d/final; }" % s,
        "location / { return 404; }"]))
    servers.append(server("chain", (s,), ["location = /final { try_files /index.html =404; }"]))
    for name, url in REDIRECTS.items():
        servers.append(server(name, (h, s), ["location / { return 302 %s; }" % url]))
    return """# Written by banner_peers.py for one run.
worker_processes 1;
pid {d}/nginx.pid;
lock_file {d}/nginx.lock;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {d}/nginx-access.log;
    client_body_temp_path {d}/temp/client_body;
    proxy_temp_path {d}/temp/proxy;
    fastcgi_temp_path {d}/temp/fastcgi;
    uwsgi_temp_path {d}/temp/uwsgi;
    scgi_temp_path {d}/temp/scgi;
    types {{ text/html html; }}
    default_type application/octet-stream;
    index index.html;
    sendfile on;
    keepalive_timeout 5s;
    send_timeout 30s;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
{servers}
}}
""".format(d=scratch, servers="\n".join(servers))


def sshd_conf(scratch, port):
    return "\n".join(["# Written by banner_peers.py for one run: a server that shows its banner, lets nobody in."]
                     + ["ListenAddress %s:%d" % (a, port) for a in SSH_OPEN] + [
        "HostKey %s/ssh_host_ed25519_key" % scratch,
        "PidFile %s/sshd.pid" % scratch,
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin no",
        "DenyUsers *",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication no",
        "AuthorizedKeysFile none",
        "LoginGraceTime 10",
        "UseDNS no",
        "LogLevel ERROR",
        ""])


# ---------------------------------------------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------------------------------------------
def pick_ports():
    """Four ports free on 127.0.0.1 (bound with port 0) and, checked while those are held, on every address."""
    held = []
    try:
        for _ in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in held]
        for port in ports:
            for addr in ADDRESSES.values():
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(t)
                t.bind((addr, port))
        return dict(zip(("http", "https", "smtp", "ssh"), ports))
    except OSError:
        return None
    finally:
        for s in held:
            s.close()


def connect_until(addr, port, deadline, child):
    while True:
        if child is not None and not child.alive():
            raise StartError("%s exited (%s) before listening on %s:%d"
                             % (child.name, child.proc.returncode, addr, port))
        try:
            return socket.create_connection((addr, port), timeout=max(0.5, deadline - time.monotonic()))
        except OSError as e:
            if time.monotonic() > deadline:
                raise StartError("%s:%d: not listening in time (%s)" % (addr, port, e))
            time.sleep(0.05)


def wait_pid_file(child, path, deadline):
    """Waits for the pid file that nginx and sshd write once their listening sockets are bound (so that the
    connections that follow reach them, not whoever else might listen on a port taken meanwhile)."""
    while True:
        try:
            if os.path.getsize(path) > 0:
                return
        except OSError:
            pass
        if not child.alive():
            raise StartError("%s exited (%s) before writing %s" % (child.name, child.proc.returncode, path))
        if time.monotonic() > deadline:
            raise StartError("%s: no %s in time" % (child.name, path))
        time.sleep(0.02)


def read_line(sock, deadline):
    data = b""
    while b"\n" not in data and len(data) < 4096:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    return data.split(b"\n", 1)[0].rstrip(b"\r").decode(errors="replace")


def http_server_header(addr, port, deadline, child):
    sock = connect_until(addr, port, deadline, child)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: plain.banner.test\r\nConnection: close\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            piece = sock.recv(4096)
            if not piece:
                break
            head += piece
    finally:
        sock.close()
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"server":
            return value.strip().decode()
    raise StartError("nginx: no Server header in %r" % head[:200])


class Peers:
    """Everything one attempt started; stop() undoes it."""

    def __init__(self, scratch, ports):
        self.scratch, self.ports = scratch, ports
        self.children = []
        self.silent = None

    def start(self):
        d, p = self.scratch, self.ports
        deadline = time.monotonic() + START_SECONDS
        for name in ("nginx.pid", "sshd.pid", "smtp-commands.log"):  # an earlier attempt's
            try:
                os.remove(os.path.join(d, name))
            except FileNotFoundError:
                pass
        self.silent = SilentServer(SMTP_ROLES["silent"], (p["http"], p["https"], p["smtp"], p["ssh"]))

        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(nginx_conf(d, p))
        nginx = Child("nginx", [NGINX, "-p", d + "/", "-e", d + "/nginx-error.log", "-c", "nginx.conf",
                                "-g", "daemon off;"], d)
        self.children.append(nginx)
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(sshd_conf(d, p["ssh"]))
        sshd = Child("sshd", [SSHD, "-D", "-e", "-f", os.path.join(d, "sshd_config")], d)
        self.children.append(sshd)
        smtp = Child("smtp_peer", [DEBIAN_PYTHON, SMTP_PEER, "--hostname", SMTP_HOSTNAME, "--log", self.smtp_log(),
                              SMTP_ROLES["accept"], str(p["smtp"]), "accept",
                              SMTP_ROLES["refuse"], str(p["smtp"]), "refuse"], d, stdout=subprocess.PIPE)
        self.children.append(smtp)

        # nginx: every address and port listens (a bind that fails is fatal to nginx, after 5 tries 0.5 s apart);
        # the Server header it sends.
        wait_pid_file(nginx, os.path.join(d, "nginx.pid"), deadline)
        for scenario, addr in ADDRESSES.items():
            if scenario != "slow":
                for port in (p["http"], p["https"]):
                    connect_until(addr, port, deadline, nginx).close()
        info = {"server_header": http_server_header(ADDRESSES["plain"], p["http"], deadline, nginx)}
        # sshd: its identification line, as a client reads it. A ListenAddress that fails to bind is only an
        # error in its log, as long as another one is bound.
        wait_pid_file(sshd, os.path.join(d, "sshd.pid"), deadline)
        sshd.log.flush()
        if "Address already in use" in sshd.log_tail():
            raise PortTaken("sshd: a ListenAddress is taken")
        banners = []
        for addr in SSH_OPEN:
            sock = connect_until(addr, p["ssh"], deadline, sshd)
            try:
                banners.append(read_line(sock, deadline))
            finally:
                sock.close()
        if not banners[0].startswith("SSH-") or len(set(banners)) != 1:
            raise StartError("sshd: unexpected identification lines %r" % banners)
        info["ssh_banner"] = banners[0]
        # aiosmtpd: "ready", then each greeting (read and closed without a command: the log stays empty).
        while True:
            ready, _, _ = select.select([smtp.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise StartError("smtp_peer: not ready in time")
            line = smtp.proc.stdout.readline()
            if line.strip() == b"ready":
                break
            if not line:
                raise StartError("smtp_peer exited (%s)" % smtp.proc.wait())
        info["smtp_banners"] = {}
        for role in ("accept", "refuse"):
            sock = connect_until(SMTP_ROLES[role], p["smtp"], deadline, smtp)
            try:
                info["smtp_banners"][role] = read_line(sock, deadline)
            finally:
                sock.close()
        self.silent.start()
        return info

    def smtp_log(self):
        return os.path.join(self.scratch, "smtp-commands.log")

    def stop(self):
        for child in self.children:
            child.stop()
        self.children = []
        if self.silent:
            self.silent.close()
            self.silent = None

    def logs(self):
        return "".join("--- %s (exit %s):\n%s\n" % (c.name, c.proc.poll(), c.log_tail()) for c in self.children)


def start(names, state):
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    scratch = os.path.abspath(tempfile.mkdtemp(prefix="banner_peers."))
    state["scratch"] = scratch
    os.chmod(scratch, 0o755)  # nginx's worker (nobody, when run as root) reads the pages below it
    try:
        pem, _, fingerprint = make_certificate(scratch, names)
        make_site(scratch)
        make_host_key(scratch)
        last = ""
        for attempt in range(1, ATTEMPTS + 1):
            ports = pick_ports()
            if ports is None:
                continue
            peers = Peers(scratch, ports)
            state["peers"] = peers
            try:
                info = peers.start()
            except (StartError, OSError) as e:
                logs = peers.logs()
                last = "attempt %d, ports %s: %s\n%s" % (attempt, ports, e, logs)
                log(last)
                peers.stop()
                del state["peers"]
                if isinstance(e, PortTaken) or "Address already in use" in logs:
                    continue
                raise StartError(last)
            return peers, dict(
                http_port=ports["http"], https_port=ports["https"], smtp_port=ports["smtp"], ssh_port=ports["ssh"],
                cert_sha256=fingerprint, cert_pem=pem, names=names, server_header=info["server_header"],
                ssh_banner=info["ssh_banner"], smtp_banners=info["smtp_banners"], addresses=ADDRESSES,
                smtp=SMTP_ROLES, ssh={"open": SSH_OPEN, "silent": SMTP_ROLES["silent"]}, redirects=REDIRECTS,
                endless_size=ENDLESS_SIZE, slow_seconds=SLOW_SECONDS, pages=PAGES, smtp_log=peers.smtp_log(),
                scratch=scratch)
        raise StartError("no attempt succeeded; the last: " + last)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def main():
    global VERBOSE
    args = sys.argv[1:]
    VERBOSE = "--verbose" in args
    until_signal = "--until-signal" in args
    names = DEFAULT_NAMES
    if "--names" in args:
        i = args.index("--names")
        if i + 1 >= len(args):
            sys.exit("--names needs a comma-separated list of names")
        names = [n.strip().rstrip(".").lower() for n in args[i + 1].split(",") if n.strip()]
        if not names:
            sys.exit("--names needs at least one name")
    unknown = [a for a in args if a.startswith("--") and a not in ("--verbose", "--until-signal", "--names")]
    if unknown:
        sys.exit("unknown option(s) %s\n%s" % (" ".join(unknown), __doc__))

    stopping = threading.Lock()
    state = {}

    def finish(why, code=0):
        if not stopping.acquire(blocking=False):
            return  # a second signal while stopping
        log(why + ": stopping")
        if "peers" in state:
            state["peers"].stop()
        if "scratch" in state:
            shutil.rmtree(state["scratch"], ignore_errors=True)
        os._exit(code)

    signal.signal(signal.SIGTERM, lambda *_: finish("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: finish("SIGINT"))
    parent = os.getppid()
    try:
        _, line = start(names, state)
    except StartError as e:
        print("banner_peers: %s" % e, file=sys.stderr, flush=True)
        finish("no start", 1)
    try:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
    except OSError:  # the reader is gone
        finish("stdout closed")
    if until_signal:
        # Also ends when the parent does (a test that crashed never sends its SIGTERM): it is re-parented.
        while os.getppid() == parent:
            time.sleep(0.5)
        finish("parent gone")
    while True:
        try:
            if not os.read(0, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    finish("stdin closed")


if __name__ == "__main__":
    main()
