"""squatstream (the client) printing what hostile strangers wrote, end to end: the built squatstreamd with its
real DNS and banner stages, against peers on loopback only —
  * Debian's nsd serving a `com` zone that registers exmplebank.com (an omission of examplebank.com) at
    127.0.0.35, with its mail exchanger there too;
  * a hostile HTTP peer on 127.0.0.35 (this script): 200 with a Server header that is a spreadsheet formula
    (a DDE payload) full of terminal controls — ESC sequences, a C1 CSI (U+009B), bidi controls — and a page
    whose title is a formula with a numeric reference to CSI (&#x9b;), &#27;, raw ESC sequences (a window
    title, an OSC 8 link), raw C1 controls and a bidi override; its HTTPS port closes every connection;
  * a hostile SMTP peer on 127.0.0.35 (this script): a greeting with C1 controls (CSI, OSC, ST), bidi
    controls (U+202E, U+2066, U+061C) and an ESC sequence, then EHLO, MAIL and RCPT answered (the RCPT reply
    with a control too), QUIT.
`--dial_allow_cidrs=127.0.0.0/8` opens loopback (refused by default); nothing else is dialled or resolved (the
similarity probe, which would fetch the input domain's page, is off; --dns_servers names nsd).

The client streams `--kinds=omission --enrichers=dns,banner --registered examplebank.com` three times, as a
table, CSV and JSON. Asserted:
 1. Table and CSV, byte by byte: valid UTF-8; no byte 0x00-0x1f but the line's \\n (no \\r: the CSV ends
    lines with \\n); no 0x7f; no C1 control (C2 80-9F); no code point of category Cc, Cf, Zl or Zp (the
    bidi controls and other format characters); the hostile values shown escaped (\\x1b, \\u009b, \\u202e).
 2. CSV, through Python's csv module: the header's columns on every row; no cell starts with = + - @ tab or
    CR but a plain number and the lone "-" (client/sanitize.h says why); the title and Server columns are
    the hostile values with a quote in front, escaped.
 3. JSON: every line parses, and the Server header, the title (as the extractor gives it: &#x9b; as U+203A,
    the controls as U+FFFD — workers/banner/page.h) and the SMTP greeting are exactly what the peers sent;
    the JSON text itself carries none of the controls raw either (escaped by the JSON writer).

usage: hostile_output_test.py SQUATSTREAMD SQUATSTREAM
Standard library only (Debian's /usr/bin/python3).
"""
import csv
import io
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from nsd import Nsd  # noqa: E402
from squatstreamd import Checks, Server  # noqa: E402

INPUT = "examplebank.com"
NAME = "exmplebank.com"
ADDRESS = "127.0.0.35"

# What the strangers send. The Server header: a DDE formula, then a screen clear, a window title, a C1 CSI, a
# right-to-left override, an isolate and the Arabic letter mark.
SERVER = ("@SUM(1+1)*cmd|' /C calc'!A0 \x1b[2J\x1b]0;owned\x07 \u009b31m red \u202eexe.txt \u2066x\u2069"
          " \u061c end")
# The page's title as written (HTML source, bytes): a formula, &#x9b; (the standard's Windows-1252 U+203A,
# never CSI), &#27; (ESC), raw ESC sequences (a window title, an OSC 8 link), raw C1 CSI and OSC, a bidi
# override. And the title the extractor makes of it: controls U+FFFD.
TITLE_HTML = ("=HYPERLINK(\"http://evil.example/x\",\"click\")&#x9b;2J&#27;[2J \x1b]0;owned\x07 "
              "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\ \u009b31m \u009d0;t\u009c \u202eevil").encode()
TITLE = ("=HYPERLINK(\"http://evil.example/x\",\"click\")\u203a2J\ufffd[2J \ufffd]0;owned\ufffd "
         "\ufffd]8;;http://evil.example/\ufffd\\link\ufffd]8;;\ufffd\\ \ufffd31m \ufffd0;t\ufffd \u202eevil")
# The SMTP greeting's text after "220 ": C1 CSI, OSC and ST, bidi controls, an ESC sequence.
GREETING = "mx.exmplebank.com \u009b2J \u009d0;pwn\u009c \u202elanretni\u202c \u2066x\u2069 \x1b[5m ESMTP"
RCPT_REPLY = "5.1.1 no such user \x1b[31m"


class HostileHttp(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        body = b"<html><head><title>" + TITLE_HTML + b"</title></head><body><p>hello</p></body></html>"
        head = (b"HTTP/1.1 200 OK\r\nServer: " + SERVER.encode() + b"\r\nContent-Type: text/html\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n")
        self.request.sendall(head + body)


class ClosesAtOnce(socketserver.BaseRequestHandler):
    def handle(self):
        pass  # the HTTPS port: the connection closes before any handshake


class HostileSmtp(socketserver.StreamRequestHandler):
    def handle(self):
        self.connection.settimeout(10)
        self.wfile.write(f"220 {GREETING}\r\n".encode())
        for line in self.rfile:
            verb = line.decode("ascii", "replace").strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO", "MAIL"):
                self.wfile.write(b"250 ok\r\n")
            elif verb == "RCPT":
                self.wfile.write(f"550 {RCPT_REPLY}\r\n".encode())
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 no\r\n")


class Peer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(handler):
    server = Peer((ADDRESS, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def com_zone():
    label = NAME[:-4]
    return "\n".join([
        "$ORIGIN com.", "$TTL 300", "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60", "@ IN NS ns.test.",
        f"{label} IN A {ADDRESS}", f"{label} IN MX 10 mx.{NAME}.", f"mx.{label} IN A {ADDRESS}"]) + "\n"


def unsafe(raw):
    """The first thing in `text` (the client's stdout) a terminal could act on, or None: a control character
    other than the lines' \\n (C0, DEL, C1), a format character (Cf: bidi controls, zero-width, tags, ...), a
    line or paragraph separator. Byte by byte for C0/DEL/C1 (C2 80-9F), then code point by code point."""
    for i, b in enumerate(raw):
        if (b < 0x20 and b != 0x0A) or b == 0x7F:
            return f"byte {b:#04x} at {i}: {raw[max(0, i - 30):i + 10]!r}"
        if b == 0xC2 and i + 1 < len(raw) and 0x80 <= raw[i + 1] <= 0x9F:
            return f"C1 U+{raw[i + 1]:04X} at {i}"
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8: {e}"
    for i, ch in enumerate(decoded):
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return f"U+{ord(ch):04X} ({unicodedata.category(ch)}) at code point {i}"
    return None


def escaped(s):
    """`s` as client/sanitize.h's Displayable shows it, for the code points these peers send: controls and
    format characters as \\xHH / \\uHHHH, everything else as it is."""
    out = []
    for ch in s:
        cp = ord(ch)
        if cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif 0x80 <= cp <= 0x9F or unicodedata.category(ch) in ("Cf", "Zl", "Zp"):
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
        else:
            out.append(ch)
    return "".join(out)


def run_client(client, server, fmt):
    r = subprocess.run([client, f"--server={server.address}", f"--format={fmt}", "--kinds=omission",
                        "--enrichers=dns,banner", "--registered", "--mail", "--deadline=60s", INPUT],  # --mail: the RCPT check
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    squatstreamd, client = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("hostile_output_test: SIGTERM"))
    c = Checks()
    http, https, smtp = start(HostileHttp), start(ClosesAtOnce), start(HostileSmtp)
    try:
        flags = ["--stub_enrichers=none", "--rdap_bootstrap_url=", "--dial_allow_cidrs=127.0.0.0/8",
                 "--banner_probes=http,smtp", f"--banner_http_port={http.server_address[1]}",
                 f"--banner_https_port={https.server_address[1]}", f"--banner_smtp_port={smtp.server_address[1]}",
                 f"--banner_ssh_port={https.server_address[1]}", "--dns_timeout=500ms",
                 "--banner_connect_timeout=2s", "--banner_first_byte_timeout=2s", "--banner_request_timeout=5s"]
        with Nsd({"com": com_zone()}) as nsd, Server(squatstreamd, flags + [f"--dns_servers={nsd.server}"]) as s:
            out = {}
            for fmt in ("table", "csv", "json"):
                code, stdout, stderr = run_client(client, s, fmt)
                c.expect(code == 0, f"{fmt}: squatstream exits 0 ({code}; {stderr.strip()[-300:]})")
                out[fmt] = stdout

        # 3. JSON first: it says whether the peers' strings reached the record at all.
        records = []
        for line in out["json"].decode("utf-8", "replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError as e:
                c.expect(False, f"json: a line that does not parse ({e}): {line[:200]!r}")
        c.expect([r.get("domain_ascii") for r in records] == [NAME], f"json: the one registered name "
                 f"({[r.get('domain_ascii') for r in records]})")
        banner = {}
        for r in records:
            for e in r.get("enrichments", []):
                if e.get("enricher") == "ENRICHER_BANNER":
                    banner = e.get("banner", {})
        c.expect(banner.get("http_status") == 200, f"json: the hostile page answered 200 ({banner.get('http_status')})")
        c.expect(banner.get("server") == SERVER, f"json: the Server header exactly as sent ({banner.get('server')!r})")
        c.expect(banner.get("title") == TITLE, f"json: the title as the extractor makes it ({banner.get('title')!r})")
        smtp_probe = banner.get("smtp", {})
        c.expect(smtp_probe.get("banner") == f"220 {GREETING}",
                 f"json: the SMTP greeting exactly as sent ({smtp_probe.get('banner')!r})")
        c.expect(smtp_probe.get("rcpt_code") == 550 and smtp_probe.get("rcpt_reply") == RCPT_REPLY,
                 f"json: the RCPT reply exactly as sent ({smtp_probe.get('rcpt_reply')!r})")
        c.expect(unsafe(out["json"]) is None, f"json: nothing raw a terminal acts on ({unsafe(out['json'])})")

        # 1. Table and CSV, byte by byte.
        for fmt in ("table", "csv"):
            c.expect(unsafe(out[fmt]) is None, f"{fmt}: nothing raw a terminal acts on ({unsafe(out[fmt])})")
        table = out["table"].decode("utf-8", "replace")
        for shown in ("\\x1b[2J", "\\x1b]0;owned\\x07", "\\u009b31m", "\\u202eexe.txt", "\\u2066x\\u2069",
                      "\\u061c"):
            c.expect(shown in table, f"table: the Server header's {shown} shown escaped")
        c.expect(f'"{TITLE[:8]}' in table, "table: the title shown")

        # 2. CSV through Python's csv module.
        rows = list(csv.reader(io.StringIO(out["csv"].decode("utf-8", "replace"), newline="")))
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        c.expect(len(body) == 1 and all(len(r) == len(header) for r in body),
                 f"csv: one row of {len(header)} columns ({[len(r) for r in body]})")
        formulas = [f"{name}={cell[:40]!r}" for row in body for name, cell in zip(header, row)
                    if cell and cell != "-" and not cell.lstrip("+-").replace(".", "", 1).isdigit()
                    and cell[0] in "=+-@\t\r"]
        c.expect(body and not formulas, f"csv: no cell starts with = + - @ tab or CR ({formulas})")
        if len(body) == 1:
            cell = dict(zip(header, body[0]))
            c.expect(cell.get("title") == "'" + escaped(TITLE), f"csv: title neutralised ({cell.get('title')!r})")
            c.expect(cell.get("http_server") == "'" + escaped(SERVER),
                     f"csv: http_server neutralised and escaped ({cell.get('http_server')!r})")
            c.expect(cell.get("mx_banner") == escaped(f"220 {GREETING}"),
                     f"csv: mx_banner escaped ({cell.get('mx_banner')!r})")
            c.expect(cell.get("http_status") == "200" and cell.get("domain_ascii") == NAME,
                     f"csv: the name and its status as they are ({cell.get('domain_ascii')}, {cell.get('http_status')})")
    finally:
        for peer in (http, https, smtp):
            peer.shutdown()
            peer.server_close()
    if c.failures:
        sys.exit(f"hostile_output_test: {len(c.failures)} checks failed")
    print("hostile_output_test: all checks passed")


if __name__ == "__main__":
    main()
