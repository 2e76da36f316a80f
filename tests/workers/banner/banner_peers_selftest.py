#!/usr/bin/python3
"""Self-test of banner_peers.py (Python 3 standard library only): starts the peers as a test does and checks each
scenario with plain sockets and ssl (no name is ever resolved: every connection dials the scenario's 127.0.0.x
address and sends the name in Host / SNI), then that they stop cleanly: on SIGTERM, on stdin EOF, and when their
parent dies. Exits 0 when every check passed; bounded in time (about 10-15 s; a 50 s watchdog).

  python3 tests/workers/banner/banner_peers_selftest.py
"""
import hashlib
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = [sys.executable, os.path.join(HERE, "banner_peers.py")]
SILENT_WAIT = 2.0

failures = []
passed = [0]


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if cond:
        passed[0] += 1
    else:
        failures.append(what)


def read_json_line(child, seconds=20):
    ready, _, _ = select.select([child.stdout], [], [], seconds)
    if not ready:
        raise RuntimeError("banner_peers.py printed nothing in %d s" % seconds)
    line = child.stdout.readline().decode()
    if not line:
        raise RuntimeError("banner_peers.py exited (%s) without its JSON line" % child.wait())
    return json.loads(line)


def processes_mentioning(text):
    """Pids of the processes whose command line contains text (the scratch directory: nginx, sshd, smtp_peer)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if text.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def wait_gone(scratch, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not os.path.exists(scratch) and not processes_mentioning(scratch):
            return True
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------------------------
def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)  # verifies the chain and the name
    return ctx


def http_get(addr, port, host, path="/", ctx=None, limit=1 << 20, timeout=5):
    """(status, headers with lowercased names, body) of one GET with Connection: close, read up to limit."""
    sock = socket.create_connection((addr, port), timeout=timeout)
    try:
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_hostname=host)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: banner_peers_selftest\r\nConnection: close"
                      "\r\n\r\n" % (path, host, port)).encode())
        data = b""
        while True:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0 and len(data) - head_end - 4 >= limit:
                break
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body[:limit]


def title(body):
    m = re.search(rb"<title>(.*?)</title>", body, re.S | re.I)
    return m.group(1).decode() if m else None


def smtp_session(addr, port, commands, timeout=5):
    """The greeting, then each command's reply lines (the last line of each reply decides)."""
    sock = socket.create_connection((addr, port), timeout=timeout)
    f = sock.makefile("rb")

    def reply():
        out = []
        while True:
            line = f.readline().decode().rstrip("\r\n")
            out.append(line)
            if len(line) < 4 or line[3] == " ":
                return out

    try:
        replies = [reply()]
        for c in commands:
            sock.sendall(c.encode() + b"\r\n")
            replies.append(reply())
        return replies
    finally:
        f.close()
        sock.close()


def silent_for(connect_and_wait):
    """(seconds waited, what came) for a connection that should stay silent for SILENT_WAIT."""
    t0 = time.monotonic()
    try:
        got = connect_and_wait()
    except socket.timeout:
        got = None
    except OSError as e:  # e.g. refused: not silent
        got = "error: %s" % e
    return time.monotonic() - t0, got


# ---------------------------------------------------------------------------------------------------------------
# The scenarios
# ---------------------------------------------------------------------------------------------------------------
def check_scenarios(j):
    a, h, s = j["addresses"], j["http_port"], j["https_port"]
    check(all(isinstance(j[k], int) and j[k] > 0 for k in ("http_port", "https_port", "smtp_port", "ssh_port"))
          and len({h, s, j["smtp_port"], j["ssh_port"]}) == 4, "four distinct ports")
    check(a == {"plain": "127.0.0.11", "chain": "127.0.0.12", "slow": "127.0.0.13", "endless": "127.0.0.14",
                "metadata": "127.0.0.15", "private": "127.0.0.16", "original": "127.0.0.17", "copy": "127.0.0.18",
                "unrelated": "127.0.0.19", "parked": "127.0.0.20"}, "addresses")
    pages = {k: open(p, "rb").read() for k, p in j["pages"].items()}
    check(sorted(pages) == ["chain_final", "copy", "original", "parked", "plain", "unrelated"], "pages listed")

    # The certificate: the fingerprint openssl printed is the DER's SHA-256; what each HTTPS port serves.
    with open(j["cert_pem"]) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    fp = ":".join("%02X" % b for b in hashlib.sha256(der).digest())
    check(j["cert_sha256"] == fp, "cert_sha256 is the certificate's SHA-256 (%s)" % j["cert_sha256"][:23])
    ctx = tls_context(j["cert_pem"])
    sock = ctx.wrap_socket(socket.create_connection((a["plain"], s), timeout=5), server_hostname="plain.banner.test")
    served = sock.getpeercert(binary_form=True)
    names = [v for k, v in sock.getpeercert().get("subjectAltName", ()) if k == "DNS"]
    sock.close()
    check(served == der and names == j["names"] == [n + ".banner.test" for n in a],
          "https on plain: verified for plain.banner.test, the certificate of cert_pem, SANs " + ",".join(names))

    # Slow: all four ports accept and stay silent (in parallel: SILENT_WAIT once).
    def slow_http():
        c = socket.create_connection((a["slow"], h), timeout=SILENT_WAIT)
        c.sendall(b"GET / HTTP/1.1\r\nHost: slow.banner.test\r\n\r\n")
        try:
            return c.recv(1)
        finally:
            c.close()

    def slow_https():
        c = socket.create_connection((a["slow"], s), timeout=SILENT_WAIT)
        try:
            ctx.wrap_socket(c, server_hostname="slow.banner.test")
            return "handshake completed"
        finally:
            c.close()

    def slow_line(port):
        def read():
            c = socket.create_connection((a["slow"], port), timeout=SILENT_WAIT)
            try:
                return c.recv(1)
            finally:
                c.close()
        return read

    slow = {}
    threads = [threading.Thread(target=lambda k=k, fn=fn: slow.__setitem__(k, silent_for(fn)))
               for k, fn in (("http", slow_http), ("https", slow_https), ("smtp", slow_line(j["smtp_port"])),
                             ("ssh", slow_line(j["ssh_port"])))]
    for t in threads:
        t.start()

    # Plain, over HTTP and HTTPS.
    for scheme, port, c in (("http", h, None), ("https", s, ctx)):
        st, hd, body = http_get(a["plain"], port, "plain.banner.test", ctx=c)
        check(st == 200 and hd.get("server") == j["server_header"] and j["server_header"].startswith("nginx/")
              and title(body) == "Plain Fixture Page" and body == pages["plain"] and len(body) >= 1500,
              "plain %s: 200, Server %s, the page (%d bytes)" % (scheme, hd.get("server"), len(body)))

    # Chain: 301, 302, then the final page over TLS; the Host name is kept.
    st, hd, _ = http_get(a["chain"], h, "chain.banner.test")
    check(st == 301 and hd.get("location") == "http://chain.banner.test:%d/step2" % h,
          "chain /: 301 " + str(hd.get("location")))
    st, hd, _ = http_get(a["chain"], h, "chain.banner.test", "/step2")
    check(st == 302 and hd.get("location") == "https://chain.banner.test:%d/final" % s,
          "chain /step2: 302 " + str(hd.get("location")))
    st, hd, body = http_get(a["chain"], s, "chain.banner.test", "/final", ctx=ctx)
    check(st == 200 and title(body) == "Chain Final" and body == pages["chain_final"],
          "chain https /final: 200 Chain Final")
    st, hd, _ = http_get(a["chain"], h, "other-name.test")
    check(st == 301 and hd.get("location") == "http://other-name.test:%d/step2" % h, "chain keeps any Host name")

    # Endless: a 64 MiB Content-Length; read 1 MiB and hang up.
    st, hd, body = http_get(a["endless"], h, "endless.banner.test", limit=1 << 20)
    check(st == 200 and int(hd.get("content-length", 0)) == j["endless_size"] == 64 << 20 and len(body) == 1 << 20
          and title(body) == "Endless", "endless: 200, Content-Length 64 MiB, 1 MiB read")

    # Redirects to addresses a client must refuse (never followed here).
    for name in ("metadata", "private"):
        for scheme, port, c in (("http", h, None), ("https", s, ctx)):
            st, hd, _ = http_get(a[name], port, name + ".banner.test", ctx=c)
            check(st == 302 and hd.get("location") == j["redirects"][name],
                  "%s %s: 302 %s" % (name, scheme, hd.get("location")))
    check(j["redirects"] == {"metadata": "http://169.254.169.254/latest/meta-data/", "private": "http://10.0.0.1/"},
          "redirect targets")

    # Similarity fixtures.
    bodies = {}
    for name in ("original", "copy", "unrelated", "parked"):
        st, hd, body = http_get(a[name], h, name + ".banner.test")
        st2, _, body2 = http_get(a[name], s, name + ".banner.test", ctx=ctx)
        bodies[name] = body
        check(st == st2 == 200 and body == body2 == pages[name] and title(body), "%s: 200, %d bytes, %r"
              % (name, len(body), title(body)))
    check("Example Bank" in title(bodies["original"]) and title(bodies["copy"]) == title(bodies["original"])
          and bodies["copy"] != bodies["original"] and abs(len(bodies["copy"]) - len(bodies["original"])) < 100
          and b"Example Bank" not in bodies["unrelated"] and 3000 < len(bodies["unrelated"]) < 5000
          and b"Buy this domain" in bodies["parked"] and b"may be for sale" in bodies["parked"]
          and b"sedo" in bodies["parked"], "original ~ copy, unrelated, parked")
    forms = [re.search(rb'<form[^>]*action="([^"]*)"', bodies[n]).group(1) for n in ("original", "copy")]
    check(forms[0] != forms[1], "copy: another form action (%s)" % forms[1].decode())

    # SMTP: accept and refuse.
    rcpt = "qz7x1k@plain.banner.test"
    r = smtp_session(a["plain"], j["smtp_port"], ["EHLO probe.banner.test", "MAIL FROM:<>", "RCPT TO:<%s>" % rcpt,
                                                   "QUIT"])
    check(r[0] == [j["smtp_banners"]["accept"]] and r[0][0].startswith("220 ") and r[1][0].startswith("250-")
          and any("SIZE" in line for line in r[1]) and r[2][-1].startswith("250") and r[3][-1].startswith("250")
          and r[4][-1].startswith("221"), "smtp accept: 220, EHLO, MAIL 250, RCPT 250, QUIT 221: %s" % r[3])
    r = smtp_session(a["chain"], j["smtp_port"], ["EHLO probe.banner.test", "MAIL FROM:<>", "RCPT TO:<%s>" % rcpt,
                                                   "QUIT"])
    check(r[0] == [j["smtp_banners"]["refuse"]] and r[2][-1].startswith("250") and r[3][-1].startswith("550 5.1.1")
          and r[4][-1].startswith("221"), "smtp refuse: RCPT %s" % r[3])
    r = smtp_session(a["plain"], j["smtp_port"], ["DATA"])
    check(r[1][-1].startswith("554"), "smtp: DATA refused at once: %s" % r[1])
    with open(j["smtp_log"]) as f:
        logged = f.read().splitlines()
    where = lambda addr: "%s:%d" % (addr, j["smtp_port"])
    check(logged[:5] == [where(a["plain"]) + " EHLO probe.banner.test", where(a["plain"]) + " MAIL FROM:<>",
                         where(a["plain"]) + " RCPT TO:<%s>" % rcpt, where(a["plain"]) + " QUIT",
                         where(a["chain"]) + " EHLO probe.banner.test"] and logged[-1] == where(a["plain"]) + " DATA",
          "smtp_log: the commands received (%d lines)" % len(logged))

    # SSH: the identification line.
    for name in ("plain", "chain"):
        c = socket.create_connection((a[name], j["ssh_port"]), timeout=5)
        line = c.makefile("rb").readline().decode().rstrip("\r\n")
        c.close()
        check(line == j["ssh_banner"] and line.startswith("SSH-2.0-OpenSSH_"), "ssh %s: %s" % (name, line))

    # Ports nothing listens on.
    for addr, port in ((a["endless"], j["smtp_port"]), (a["parked"], j["ssh_port"])):
        try:
            socket.create_connection((addr, port), timeout=2).close()
            refused = False
        except ConnectionRefusedError:
            refused = True
        check(refused, "%s:%d refused" % (addr, port))

    for t in threads:
        t.join()
    for k in ("http", "https", "smtp", "ssh"):
        took, got = slow[k]
        check(got is None and took >= SILENT_WAIT - 0.05, "slow %s: silent for %.2f s (%r)" % (k, took, got))


# ---------------------------------------------------------------------------------------------------------------
def main():
    def watchdog(*_):
        raise RuntimeError("watchdog: the self-test took too long")

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(50)
    started = time.monotonic()
    children = []
    try:
        # 1. --until-signal: the scenarios, then SIGTERM.
        child = subprocess.Popen(PEERS + ["--until-signal"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        children.append(child)
        j = read_json_line(child)
        check(time.monotonic() - started < 10, "started in %.2f s" % (time.monotonic() - started))
        check(processes_mentioning(j["scratch"]) != [], "its servers run")
        check_scenarios(j)
        t0 = time.monotonic()
        child.terminate()
        rc = child.wait(timeout=10)
        check(rc == 0 and wait_gone(j["scratch"], 5),
              "SIGTERM: exit 0 in %.2f s, servers gone, scratch removed" % (time.monotonic() - t0))

        # 2. --names, and stdin EOF.
        child = subprocess.Popen(PEERS + ["--names", "Examp1e.test,www.examp1e.test"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        children.append(child)
        j = read_json_line(child)
        ctx = tls_context(j["cert_pem"])
        ok = []
        for name in ("examp1e.test", "www.examp1e.test", "plain.banner.test"):
            try:
                ctx.wrap_socket(socket.create_connection((j["addresses"]["plain"], j["https_port"]), timeout=5),
                                server_hostname=name).close()
                ok.append(name)
            except ssl.SSLCertVerificationError:
                pass
        check(j["names"] == ["examp1e.test", "www.examp1e.test"] and ok == ["examp1e.test", "www.examp1e.test"],
              "--names: the certificate is valid for those names only (%s)" % ok)
        child.stdin.close()
        rc = child.wait(timeout=10)
        check(rc == 0 and wait_gone(j["scratch"], 5), "stdin EOF: exit 0, servers gone, scratch removed")

        # 3. --until-signal and the parent dies (a test that crashed).
        relay = ("import subprocess, sys\n"
                 "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)\n"
                 "sys.stdout.buffer.write(p.stdout.readline()); sys.stdout.flush()\n")
        child = subprocess.Popen([sys.executable, "-c", relay] + PEERS + ["--until-signal"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        children.append(child)
        j = read_json_line(child)
        child.wait(timeout=5)
        t0 = time.monotonic()
        check(wait_gone(j["scratch"], 8),
              "parent gone: servers gone, scratch removed in %.2f s" % (time.monotonic() - t0))
    except Exception as e:
        check(False, "%s: %s" % (type(e).__name__, e))
    finally:
        signal.alarm(0)
        for c in children:
            if c.poll() is None:
                c.terminate()
                try:
                    c.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    c.kill()
                    c.wait()
    print("took %.1f s" % (time.monotonic() - started))
    print("%d passed, %d failed" % (passed[0], len(failures)))
    print("FAILED: %d check(s)" % len(failures) if failures else "OK", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
