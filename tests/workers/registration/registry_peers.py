#!/usr/bin/python3
"""Real RDAP and WHOIS peers on 127.0.0.1 for the registration stage's tests (Python 3 standard library only).

  registry_peers.py [--verbose] [--until-signal] [--com-registered NAME,NAME...] [--hosts-zone ZONE]
  registry_peers.py --self-test
  registry_peers.py --write-corpus RDAP_DIR WHOIS_DIR

Binds an HTTP server and three WHOIS servers on 127.0.0.1, port 0 each, prints one JSON line to stdout

  {"http_port": N, "whois_iana_port": N, "whois_tld_port": N, "whois_registrar_port": N}

and serves until its stdin reaches EOF (close the write end of its stdin pipe), or SIGTERM / SIGINT, then exits
at once (requests still being answered are dropped). With --until-signal stdin is not watched (for a parent
that cannot give it a pipe: a stdin of /dev/null is at EOF at once); it then also exits when its parent does. Quiet unless --verbose (requests to stderr).

With --hosts-zone ZONE the peers name themselves in their answers by host names under ZONE instead of 127.0.0.1
(still listening on 127.0.0.1 only: a test's name server maps the names there): rdap.ZONE in the RDAP links and
the bootstrap, rdap-registrar.ZONE in the registries' "related" links, whois-tld.ZONE in IANA's "refer:" and
"whois:", whois-registrar.ZONE in the "Registrar WHOIS Server:" lines (each with its port).

HTTP/1.1 (every answer has a Content-Length), RDAP per RFC 9083, application/rdap+json, names case-insensitive:
  GET /registry/domain/<name>    the registry: full, redirect (302 to /registry2/...), missing (404), busy (429
                                 with Retry-After: 1 the first time after a start or a reset, then 200), slow
                                 (30 s before the answer, holding no one else), malformed (truncated JSON), huge
                                 (10 MiB, Content-Length, written in 64 KiB pieces), huge-chunked (10 MiB with
                                 Transfer-Encoding: chunked and no Content-Length), bulk* (at once); others 404
  GET /registrar/domain/<name>   the registrar (full.example only: with the abuse contact); others 404
  GET /com/domain/<name>         a .com registry, for the names given by --com-registered (none by default; the
                                 end-to-end test passes the DNS fixture's registered .com names): a domain object
                                 whose values depend on the name (com_facts(name) says which) and a "related" link
                                 to /com-registrar/domain/<name>; others 404
  GET /com-registrar/domain/<name>  its registrar, for the same names: adds the abuse contact; others 404
  GET /registry2/domain/<name>   the redirect's target (redirect.example only); others 404
  GET /dns.json                  an RFC 9224 bootstrap file: "example" -> http://127.0.0.1:<http_port>/registry/
  GET /stats                     {"hits": {path: n}, "times": {path: [time.monotonic() at arrival]},
                                  "max_concurrent": most RDAP requests being handled at once, "in_flight": now,
                                  "whois_hits": {"iana"|"tld"|"registrar": {query: n}},
                                  "whois_max_concurrent": {"iana"|"tld"|"registrar": n}}
  POST /reset                    clears all of that and re-arms busy.example's 429
Paths are counted lowercased, without the query string; /stats, /reset and /dns.json are not counted.
time.monotonic() is CLOCK_MONOTONIC on Linux, the clock of C++'s std::chrono::steady_clock.

WHOIS (RFC 3912: a query line, the answer, the server closes):
  iana       any query: IANA's format for the last label, "refer:" and "whois:" 127.0.0.1:<whois_tld_port>
  tld        full.whois (Verisign's format, CRLF, "Registrar WHOIS Server: 127.0.0.1:<whois_registrar_port>"),
             nomatch.whois, ru-style.whois (TCI's format), dotted-date.whois (Nominet's format), hang.whois (reads
             the query, never answers, closes after 60 s or when the client does), flood.whois (endless lines
             until the client closes); anything else: No match
  registrar  full.whois (a registrar's format; its "Registrar WHOIS Server:" names itself, as real ones do);
             anything else: No match
"""
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

try:
    from http.server import ThreadingHTTPServer
except ImportError:  # Python 3.6

    class ThreadingHTTPServer(socketserver.ThreadingMixIn, HTTPServer):
        daemon_threads = True


RDAP_TYPE = "application/rdap+json"
HUGE_SIZE = 10 * 1024 * 1024
SLOW_SECONDS = 30
HANG_SECONDS = 60

PORTS = {}  # filled in main(): http, iana, tld, registrar
VERBOSE = False
HOSTS_ZONE = None  # --hosts-zone: the peers' names are under it (else they say 127.0.0.1)


def log(*args):
    if VERBOSE:
        print("registry_peers:", *args, file=sys.stderr, flush=True)


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def host(label):
    """How the peers call the server `label` (rdap, rdap-registrar, whois-tld, whois-registrar) in their answers."""
    return "127.0.0.1" if HOSTS_ZONE is None else "%s.%s" % (label, HOSTS_ZONE)


def base_url():
    return "http://%s:%d" % (host("rdap"), PORTS["http"])


def registrar_base_url():
    """The registries' "related" links: the same HTTP server, by another name under --hosts-zone."""
    return "http://%s:%d" % (host("rdap-registrar"), PORTS["http"])


# ---------------------------------------------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------------------------------------------
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock"):
            self.hits = {}
            self.times = {}
            self.max_concurrent = 0
            self.busy_seen = 0
            self.whois_hits = {"iana": {}, "tld": {}, "registrar": {}}
            self.whois_max = {"iana": 0, "tld": 0, "registrar": 0}
            # in_flight counters are not reset: requests in progress still end.
            if not hasattr(self, "in_flight"):
                self.in_flight = 0
                self.whois_in_flight = {"iana": 0, "tld": 0, "registrar": 0}

    def http_begin(self, path):
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.times.setdefault(path, []).append(time.monotonic())
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)

    def http_end(self):
        with self.lock:
            self.in_flight -= 1

    def busy_first(self):
        with self.lock:
            self.busy_seen += 1
            return self.busy_seen == 1

    def whois_begin(self, server, query):
        with self.lock:
            hits = self.whois_hits[server]
            hits[query] = hits.get(query, 0) + 1
            self.whois_in_flight[server] += 1
            self.whois_max[server] = max(self.whois_max[server], self.whois_in_flight[server])

    def whois_end(self, server):
        with self.lock:
            self.whois_in_flight[server] -= 1

    def snapshot(self):
        with self.lock:
            return {
                "hits": dict(self.hits),
                "times": {k: list(v) for k, v in self.times.items()},
                "max_concurrent": self.max_concurrent,
                "in_flight": self.in_flight,
                "whois_hits": {k: dict(v) for k, v in self.whois_hits.items()},
                "whois_max_concurrent": dict(self.whois_max),
            }


STATS = Stats()


# ---------------------------------------------------------------------------------------------------------------
# RDAP fixtures (RFC 9083, shaped like the ICANN gTLD RDAP profile's answers)
# ---------------------------------------------------------------------------------------------------------------
CONFORMANCE = ["rdap_level_0", "redacted", "icann_rdap_response_profile_1",
               "icann_rdap_technical_implementation_guide_1"]


def notices(value):
    return [
        {"title": "Terms of Use",
         "description": ["Service subject to Terms of Use."],
         "links": [{"value": value, "rel": "terms-of-service", "href": "https://registry.example/rdap-terms",
                    "type": "text/html"}]},
        {"title": "Status Codes",
         "description": ["For more information on domain status codes, please visit https://icann.org/epp"],
         "links": [{"value": value, "rel": "glossary", "href": "https://icann.org/epp", "type": "text/html"}]},
        {"title": "RDDS Inaccuracy Complaint Form",
         "description": ["URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf"],
         "links": [{"value": value, "rel": "help", "href": "https://icann.org/wicf", "type": "text/html"}]},
    ]


def vcard(*props):
    return ["vcard", [["version", {}, "text", "4.0"]] + list(props)]


def registrar_entity(fn, iana_id, nested=None):
    e = {
        "objectClassName": "entity",
        "handle": iana_id,
        "roles": ["registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": iana_id}],
        "vcardArray": vcard(["fn", {}, "text", fn]),
    }
    if nested:
        e["entities"] = nested
    return e


def events(registration, expiration, last_changed):
    out = [{"eventAction": "registration", "eventDate": registration}]
    if expiration:
        out.append({"eventAction": "expiration", "eventDate": expiration})
    if last_changed:
        out.append({"eventAction": "last changed", "eventDate": last_changed})
    out.append({"eventAction": "last update of RDAP database", "eventDate": now_iso()})
    return out


def nameservers(name):
    return [{"objectClassName": "nameserver", "ldhName": "NS%d.%s" % (i, name.upper())} for i in (1, 2)]


def domain(name, handle, path, registrar, reg, exp, changed, status=("active",), extra_links=(), remarks=None):
    value = base_url() + path
    d = {
        "objectClassName": "domain",
        "handle": handle,
        "ldhName": name.upper(),
        "unicodeName": name.lower(),
        "links": [{"value": value, "rel": "self", "href": value, "type": RDAP_TYPE}] + list(extra_links),
        "status": list(status),
        "entities": [registrar],
        "events": events(reg, exp, changed),
        "secureDNS": {"delegationSigned": False},
        "nameservers": nameservers(name),
    }
    if remarks is not None:
        d["remarks"] = remarks
    d["rdapConformance"] = CONFORMANCE
    d["notices"] = notices(value)
    return d


FULL_STATUS = ("client transfer prohibited", "server delete prohibited", "active")


def full_registry(path):
    related = registrar_base_url() + "/registrar/domain/full.example"
    return domain("full.example", "2336799_DOMAIN_EXAMPLE-REG", path,
                  registrar_entity("Example Registrar, Inc.", "9999"),
                  "2019-03-04T10:00:00Z", "2027-03-04T10:00:00Z", "2025-01-02T03:04:05Z", FULL_STATUS,
                  [{"value": base_url() + path, "rel": "related", "href": related, "type": RDAP_TYPE}])


def full_registrar(path):
    abuse = {
        "objectClassName": "entity",
        "roles": ["abuse"],
        "vcardArray": vcard(["fn", {}, "text", "Abuse Contact"],
                            ["email", {}, "text", "abuse@registrar.example"],
                            ["tel", {"type": "voice"}, "uri", "tel:+1.5555550100"]),
    }
    registrant = {
        "objectClassName": "entity",
        "roles": ["registrant"],
        "vcardArray": vcard(["fn", {}, "text", ""], ["org", {}, "text", "Example Holder"],
                            ["adr", {"cc": "US"}, "text", ["", "", "", "", "CA", "", ""]]),
    }
    d = domain("full.example", "2336799_DOMAIN_EXAMPLE-REG", path,
               registrar_entity("Example Registrar, Inc.", "9999", nested=[abuse]),
               "2019-03-04T10:00:00Z", "2027-03-04T10:00:00Z", "2025-01-02T03:04:05Z", FULL_STATUS)
    d["entities"].append(registrant)
    d["redacted"] = [{"name": {"type": "Registrant Name"}, "prePath": "$.entities[?(@.roles[0]=='registrant')]"
                      ".vcardArray[1][?(@[0]=='fn')][3]", "method": "emptyValue",
                      "reason": {"description": "Server policy"}}]
    return d


def redirected(path):
    return domain("redirect.example", "REDIRECT1_DOMAIN_EXAMPLE-REG", path,
                  registrar_entity("Redirected Registrar", "9998"),
                  "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2024-01-01T00:00:00Z")


def busy(path):
    return domain("busy.example", "BUSY1_DOMAIN_EXAMPLE-REG", path,
                  registrar_entity("Patient Registrar", "9997"),
                  "2022-02-02T02:02:02Z", "2027-02-02T02:02:02Z", "2025-02-02T02:02:02Z")


def bulk(name, path):
    return domain(name, "%s_DOMAIN_EXAMPLE-REG" % name.split(".")[0].upper(), path,
                  registrar_entity("Bulk Registrar", "9996"),
                  "2021-06-07T08:09:10Z", "2026-06-07T08:09:10Z", "2025-06-07T08:09:10Z")


def generic(name, path):
    return domain(name, "GENERIC_DOMAIN_EXAMPLE-REG", path, registrar_entity("Generic Registrar", "9995"),
                  "2023-03-03T03:03:03Z", "2026-03-03T03:03:03Z", "2025-03-03T03:03:03Z")


COM_REGISTERED = set()  # --com-registered
COM_REGISTRARS = (("Lookalike Names, LLC", "4242", "abuse@lookalike-names.example", "+1.5555550142"),
                  ("Example Com Registrar SA", "4343", "abuse@example-com-registrar.example", "+33.155550143"),
                  ("Squat Registry Services Ltd", "4444", "abuse@squat-registry.example", "+44.2055550144"))


def com_facts(name):
    """What the .com peers serve for `name` (one of --com-registered), as a registration stage should report
    it: the values differ from name to name (a checksum of the name picks them), so that a mix-up shows."""
    name = name.lower()
    n = zlib.crc32(name.encode())
    registrar, iana_id, abuse_email, abuse_phone = COM_REGISTRARS[(n >> 5) % len(COM_REGISTRARS)]
    year, month, day = 2005 + n % 15, 1 + (n >> 4) % 12, 1 + (n >> 8) % 28
    stamp = "T%02d:%02d:%02dZ" % ((n >> 12) % 24, (n >> 16) % 60, (n >> 20) % 60)
    statuses = ["client delete prohibited", "client transfer prohibited", "client update prohibited"]
    if n % 2:
        statuses.append("server hold")
    return {
        "handle": "%d_DOMAIN_COM-VRSN" % (n % 10000000),
        "registrar": registrar,
        "registrar_iana_id": iana_id,
        "created": "%04d-%02d-%02d%s" % (year, month, day, stamp),
        "expires": "%04d-%02d-%02d%s" % (2027 + n % 3, month, day, stamp),
        "updated": "2025-%02d-%02dT10:11:12Z" % (1 + (n >> 24) % 12, 1 + (n >> 28) % 16),
        "statuses": statuses,
        "name_servers": ["ns1.%s" % name, "ns2.%s" % name],  # served upper case, as Verisign does
        "abuse_email": abuse_email,
        "abuse_phone": abuse_phone,  # served as the tel: URI of RFC 3966
    }


def com_registry(name, path):
    f = com_facts(name)
    related = registrar_base_url() + "/com-registrar/domain/" + name
    return domain(name, f["handle"], path, registrar_entity(f["registrar"], f["registrar_iana_id"]),
                  f["created"], f["expires"], f["updated"], f["statuses"],
                  [{"value": base_url() + path, "rel": "related", "href": related, "type": RDAP_TYPE}])


def com_registrar(name, path):
    f = com_facts(name)
    abuse = {
        "objectClassName": "entity",
        "roles": ["abuse"],
        "vcardArray": vcard(["fn", {}, "text", "Abuse Department"], ["email", {}, "text", f["abuse_email"]],
                            ["tel", {"type": "voice"}, "uri", "tel:" + f["abuse_phone"]]),
    }
    return domain(name, f["handle"], path, registrar_entity(f["registrar"], f["registrar_iana_id"], nested=[abuse]),
                  f["created"], f["expires"], f["updated"], f["statuses"])


def huge_body(path, size=HUGE_SIZE):
    """A valid domain object of exactly `size` bytes: a remark whose description pads it out."""
    d = generic("huge.example", path)
    d["remarks"] = [{"title": "Padding", "description": [""]}]
    small = json.dumps(d).encode()
    pad = size - len(small)
    if pad < 0:
        raise ValueError("size too small")
    d["remarks"][0]["description"][0] = "x" * pad
    body = json.dumps(d).encode()
    assert len(body) == size
    return body


def error_body(code, title, description):
    return {"errorCode": code, "title": title, "description": [description], "rdapConformance": ["rdap_level_0"],
            "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]}


def bootstrap():
    return {"description": "RDAP bootstrap file for Domain Name System registrations (test peers)",
            "publication": now_iso(), "version": "1.0",
            "services": [[["example"], [base_url() + "/registry/"]]]}


_HUGE = {}
_HUGE_LOCK = threading.Lock()


def huge_cached(path):
    with _HUGE_LOCK:
        if path not in _HUGE:
            _HUGE[path] = huge_body(path)
        return _HUGE[path]


# ---------------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------------
class PeerHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        # HTTPServer.server_bind asks socket.getfqdn(host), a reverse lookup that can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class RdapHandler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the client's
    # delayed ACK hold each answer ~40 ms, capping the peer far below the rates the tests need.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection's thread ends after this

    def log_message(self, fmt, *args):
        log("http", self.address_string(), fmt % args)

    # --- answers ---
    def send_body(self, status, body, content_type=RDAP_TYPE, headers=()):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            step = 64 * 1024
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
            self.wfile.flush()

    def send_chunked(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", RDAP_TYPE)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        step = 64 * 1024
        for i in range(0, len(body), step):
            piece = body[i:i + step]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def not_found(self, name):
        self.send_body(404, error_body(404, "Not Found", "The object %s was not found." % name))

    # --- routing ---
    def path_only(self):
        return self.path.split("?", 1)[0].split("#", 1)[0].lower()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path_only() == "/reset":
            STATS.reset()
            self.send_body(200, {"reset": True}, "application/json")
        else:
            self.send_body(404, error_body(404, "Not Found", "No such resource."))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path_only()
        if path == "/stats":
            return self.send_body(200, STATS.snapshot(), "application/json")
        if path == "/dns.json":
            return self.send_body(200, bootstrap(), "application/json")
        STATS.http_begin(path)
        try:
            self.route(path)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        finally:
            STATS.http_end()

    def route(self, path):
        parts = path.split("/")  # "", prefix, "domain", name
        if len(parts) != 4 or parts[2] != "domain" or not parts[3]:
            return self.send_body(404, error_body(404, "Not Found", "No such resource."))
        prefix, name = parts[1], parts[3].rstrip(".")
        if prefix == "registrar":
            if name == "full.example":
                return self.send_body(200, full_registrar(path))
            return self.not_found(name)
        if prefix == "registry2":
            if name == "redirect.example":
                return self.send_body(200, redirected(path))
            return self.not_found(name)
        if prefix in ("com", "com-registrar"):
            if name not in COM_REGISTERED:
                return self.not_found(name)
            return self.send_body(200, (com_registry if prefix == "com" else com_registrar)(name, path))
        if prefix != "registry":
            return self.not_found(name)
        if name == "full.example":
            return self.send_body(200, full_registry(path))
        if name == "redirect.example":
            return self.send_body(302, b"", headers=[("Location", "/registry2/domain/redirect.example")])
        if name == "missing.example":
            return self.not_found(name)
        if name == "busy.example":
            if STATS.busy_first():
                return self.send_body(429, error_body(429, "Too Many Requests", "Rate limit exceeded; retry later."),
                                      headers=[("Retry-After", "1")])
            return self.send_body(200, busy(path))
        if name == "slow.example":
            time.sleep(SLOW_SECONDS)
            return self.send_body(200, generic(name, path))
        if name == "malformed.example":
            body = json.dumps(generic(name, path)).encode()
            return self.send_body(200, body[:len(body) // 2])
        if name == "huge.example":
            return self.send_body(200, huge_cached(path))
        if name == "huge-chunked.example":
            return self.send_chunked(200, huge_cached(path))
        if name.startswith("bulk"):
            return self.send_body(200, bulk(name, path))
        return self.not_found(name)


# ---------------------------------------------------------------------------------------------------------------
# WHOIS fixtures
# ---------------------------------------------------------------------------------------------------------------
VERISIGN_FOOTER = """\
For more information on Whois status codes, please visit https://icann.org/epp

NOTICE: The expiration date displayed in this record is the date the
registrar's sponsorship of the domain name registration in the registry is
currently set to expire. This date does not necessarily reflect the expiration
date of the domain name registrant's agreement with the sponsoring
registrar.  Users may consult the sponsoring registrar's Whois database to
view the registrar's reported date of expiration for this registration.

TERMS OF USE: You are not authorized to access or query our Whois
database through the use of electronic processes that are high-volume and
automated except as reasonably necessary to register domain names or
modify existing registrations; the Data in the Registry's Whois database
is provided for information purposes only, and the Registry does not
guarantee its accuracy. By submitting a Whois query, you agree to abide
by the following terms of use: You agree that you may use this Data only
for lawful purposes and that under no circumstances will you use this Data
to: (1) allow, enable, or otherwise support the transmission of mass
unsolicited, commercial advertising or solicitations via e-mail, telephone,
or facsimile; or (2) enable high volume, automated, electronic processes
that apply to the Registry (or its computer systems).

The Registry Operator reserves the right to modify these terms at any time.
"""


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def iana_text(query):
    tld = query.rstrip(".").rsplit(".", 1)[-1].upper() or "WHOIS"
    server = "%s:%d" % (host("whois-tld"), PORTS["tld"])
    return """\
% IANA WHOIS server
% for more information on IANA, visit http://www.iana.org
% This query returned 1 object

refer:        {server}

domain:       {tld}

organisation: Example Test Registry Services
address:      12061 Bluemont Way
address:      Reston VA 20190
address:      United States of America (the)

contact:      administrative
name:         Registry Customer Service
organisation: Example Test Registry Services
address:      12061 Bluemont Way
address:      Reston VA 20190
address:      United States of America (the)
phone:        +1 703 925-6999
fax-no:       +1 703 948 3978
e-mail:       info@registry.example

contact:      technical
name:         Registry Customer Service
organisation: Example Test Registry Services
address:      12061 Bluemont Way
address:      Reston VA 20190
address:      United States of America (the)
phone:        +1 703 925-6999
fax-no:       +1 703 948 3978
e-mail:       info@registry.example

nserver:      A.NIC.{tld} 192.0.2.30 2001:db8:0:0:0:0:2:30
nserver:      B.NIC.{tld} 192.0.2.31 2001:db8:0:0:0:0:2:31
ds-rdata:     19718 13 2 8acbb0cd28f41250a80a491389424d341522d946b0da0c0291f2d3d771d7805a

whois:        {server}

status:       ACTIVE
remarks:      Registration information: http://registry.example

created:      1985-01-01
changed:      2023-12-07
source:       IANA

""".format(server=server, tld=tld)


def tld_full_text():
    return crlf("""\
   Domain Name: FULL.WHOIS
   Registry Domain ID: 2138514_DOMAIN_WHOIS-VRSN
   Registrar WHOIS Server: {registrar}
   Registrar URL: http://www.whois-registrar.example
   Updated Date: 2025-02-03T04:05:06Z
   Creation Date: 2018-05-06T07:08:09Z
   Registry Expiry Date: 2028-05-06T07:08:09Z
   Registrar: Whois Registrar LLC
   Registrar IANA ID: 1234
   Registrar Abuse Contact Email: abuse@whois-registrar.example
   Registrar Abuse Contact Phone: +1.5555550199
   Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
   Name Server: NS1.FULL.WHOIS
   Name Server: NS2.FULL.WHOIS
   DNSSEC: unsigned
   URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/
>>> Last update of whois database: {now} <<<

""".format(registrar="%s:%d" % (host("whois-registrar"), PORTS["registrar"]), now=now_iso()) + VERISIGN_FOOTER)


def no_match_text(query):
    return crlf('No match for "%s".\n>>> Last update of whois database: %s <<<\n\n' % (query.upper(), now_iso())
                + VERISIGN_FOOTER)


def ru_style_text():
    return """\
% TCI Whois Service. Terms of use:
% https://tcinet.ru/documents/whois_ru_rf.pdf (in Russian)
% https://tcinet.ru/documents/whois_su.pdf (in Russian)

domain:        RU-STYLE.WHOIS
nserver:       ns1.ru-style.whois.
nserver:       ns2.ru-style.whois.
state:         REGISTERED, DELEGATED, VERIFIED
org:           Example Holder LLC
taxpayer-id:   7700000000
registrar:     RU-STYLE-REG
admin-contact: https://www.registrar.example/whois
created:       2010-11-12T13:14:15Z
paid-till:     2026-11-12T21:00:00Z
free-date:     2026-12-14
source:        TCI

Last updated on {now}

""".replace("{now}", now_iso())


def dotted_date_text():
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S %d-%b-%Y")
    return """
    Domain name:
        dotted-date.whois

    Data validation:
        Nominet was able to match the registrant's name and address against a 3rd party data source on 10-Dec-2012

    Registrar:
        Example UK Registrar Ltd [Tag = EXAMPLE]
        URL: https://www.example-uk-registrar.example

    Relevant dates:
        Registered on: 14-Aug-2003
        Expiry date:  14-Aug-2027
        Last updated:  13-Jul-2025

    Registration status:
        Registered until expiry date.

    Name servers:
        ns1.dotted-date.whois
        ns2.dotted-date.whois

    WHOIS lookup made at %s

-- 
This WHOIS information is provided for free by Nominet UK the central registry
for .uk domain names. This information and the .uk WHOIS are:

    Copyright Nominet UK 1996 - 2026.

You may not access the .uk WHOIS or use any data from it except as permitted
by the terms of use available in full at https://www.nominet.uk/whoisterms,
which includes restrictions on: (A) use of the data for advertising, or its
repackaging, recompilation, redistribution or reuse (B) obscuring, removing
or hiding any part of the information from the .uk WHOIS without our consent
(C) the use of automated means to collect data from the .uk WHOIS.

""" % stamp


def registrar_full_text():
    return crlf("""\
Domain Name: FULL.WHOIS
Registry Domain ID: 2138514_DOMAIN_WHOIS-VRSN
Registrar WHOIS Server: {registrar}
Registrar URL: http://www.whois-registrar.example
Updated Date: 2025-02-03T04:05:06Z
Creation Date: 2018-05-06T07:08:09Z
Registrar Registration Expiration Date: 2028-05-06T07:08:09Z
Registrar: Whois Registrar LLC
Registrar IANA ID: 1234
Registrar Abuse Contact Email: abuse@whois-registrar.example
Registrar Abuse Contact Phone: +1.5555550199
Reseller:
Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
Registry Registrant ID: REDACTED FOR PRIVACY
Registrant Name: REDACTED FOR PRIVACY
Registrant Organization: Example Holder
Registrant Street: REDACTED FOR PRIVACY
Registrant City: REDACTED FOR PRIVACY
Registrant State/Province: CA
Registrant Postal Code: REDACTED FOR PRIVACY
Registrant Country: US
Registrant Phone: REDACTED FOR PRIVACY
Registrant Email: Select Contact Domain Holder link at https://www.whois-registrar.example/whois
Registry Tech ID: REDACTED FOR PRIVACY
Tech Name: REDACTED FOR PRIVACY
Tech Email: Select Contact Domain Holder link at https://www.whois-registrar.example/whois
Name Server: NS1.FULL.WHOIS
Name Server: NS2.FULL.WHOIS
DNSSEC: unsigned
URL of the ICANN WHOIS Data Problem Reporting System: http://wdprs.internic.net/
>>> Last update of WHOIS database: {now} <<<

For more information on Whois status codes, please visit https://icann.org/epp

TERMS OF USE: The data contained in this registrar's Whois database is provided
for information purposes only. By submitting a query you agree to use it only
for lawful purposes.
""".format(registrar="%s:%d" % (host("whois-registrar"), PORTS["registrar"]), now=now_iso()))


FLOOD_HEAD = crlf("   Domain Name: FLOOD.WHOIS\n   Registrar: Flood Registrar\n")


def flood_block(start, lines=512):
    return "".join("   Name Server: NS%d.FLOOD.WHOIS\r\n" % n for n in range(start, start + lines)).encode()


# ---------------------------------------------------------------------------------------------------------------
# WHOIS servers
# ---------------------------------------------------------------------------------------------------------------
class WhoisServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, role):
        self.role = role
        socketserver.ThreadingTCPServer.__init__(self, ("127.0.0.1", 0), WhoisHandler)


def parse_query(raw):
    text = raw.decode("utf-8", "replace").strip()
    words = text.split()
    name = words[-1] if words else ""
    return name.lstrip("=").rstrip(".").lower()


class WhoisHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        role = self.server.role
        sock.settimeout(10)
        raw = b""
        try:
            while b"\n" not in raw and len(raw) < 4096:
                piece = sock.recv(4096)
                if not piece:
                    break
                raw += piece
        except (socket.timeout, OSError):
            return
        query = parse_query(raw)
        log("whois", role, repr(raw))
        STATS.whois_begin(role, query)
        try:
            self.answer(sock, role, query)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            pass
        finally:
            STATS.whois_end(role)

    def answer(self, sock, role, query):
        if role == "iana":
            text = iana_text(query)
        elif role == "registrar":
            text = registrar_full_text() if query == "full.whois" else no_match_text(query)
        elif query == "full.whois":
            text = tld_full_text()
        elif query == "ru-style.whois":
            text = ru_style_text()
        elif query == "dotted-date.whois":
            text = dotted_date_text()
        elif query == "hang.whois":
            return self.hang(sock)
        elif query == "flood.whois":
            return self.flood(sock)
        else:
            text = no_match_text(query)
        sock.settimeout(30)
        sock.sendall(text.encode())

    @staticmethod
    def hang(sock):
        # No answer, no close: until the client closes or HANG_SECONDS pass (reading whatever it sends).
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
            try:
                if not sock.recv(4096):
                    return
            except socket.timeout:
                continue

    @staticmethod
    def flood(sock):
        # Endless lines, one block at a time: memory stays bounded; a client that stops reading blocks the
        # sends (their timeout ends the thread), one that closes ends them with an error.
        sock.settimeout(30)
        sock.sendall(FLOOD_HEAD.encode())
        n = 1
        while True:
            sock.sendall(flood_block(n))
            n += 512


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------
def start_servers():
    http = PeerHTTPServer(("127.0.0.1", 0), RdapHandler)
    PORTS["http"] = http.server_address[1]
    whois = {role: WhoisServer(role) for role in ("iana", "tld", "registrar")}
    for role, server in whois.items():
        PORTS[role] = server.server_address[1]
    for server in [http] + list(whois.values()):
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return http, whois


def serve(until_signal):
    def stop(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    start_servers()
    line = json.dumps({"http_port": PORTS["http"], "whois_iana_port": PORTS["iana"],
                       "whois_tld_port": PORTS["tld"], "whois_registrar_port": PORTS["registrar"]})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if until_signal:
        # Also ends when the parent does (a test that crashed never sends its SIGTERM): it is re-parented.
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(0.5)
        log("parent gone: exiting")
        os._exit(0)
    while True:
        try:
            if not os.read(0, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    log("stdin closed: exiting")
    os._exit(0)


def write_corpus(rdap_dir, whois_dir):
    """The fixtures' bodies as fuzz seeds (port-dependent text with the ports below)."""
    PORTS.update({"http": 8080, "iana": 4343, "tld": 4344, "registrar": 4345})
    os.makedirs(rdap_dir, exist_ok=True)
    os.makedirs(whois_dir, exist_ok=True)
    p = "/registry/domain/"

    def dump(obj):
        return json.dumps(obj, indent=1).encode()

    rdap = {
        "full_registry": dump(full_registry(p + "full.example")),
        "full_registrar": dump(full_registrar("/registrar/domain/full.example")),
        "redirect_target": dump(redirected("/registry2/domain/redirect.example")),
        "missing_404": dump(error_body(404, "Not Found", "The object missing.example was not found.")),
        "busy_429": dump(error_body(429, "Too Many Requests", "Rate limit exceeded; retry later.")),
        "busy_200": dump(busy(p + "busy.example")),
        "slow": dump(generic("slow.example", p + "slow.example")),
        "malformed_truncated": json.dumps(generic("malformed.example", p + "malformed.example")).encode(),
        "huge_small": huge_body(p + "huge.example", 16 * 1024),
        "bulk0001": dump(bulk("bulk0001.example", p + "bulk0001.example")),
        "bootstrap": dump(bootstrap()),
    }
    m = rdap["malformed_truncated"]
    rdap["malformed_truncated"] = m[:len(m) // 2]
    for name, body in rdap.items():
        with open(os.path.join(rdap_dir, name), "wb") as f:
            f.write(body)
    whois = {
        "iana_refer": iana_text("full.whois"),
        "tld_full": tld_full_text(),
        "tld_nomatch": no_match_text("nomatch.whois"),
        "tld_ru_style": ru_style_text(),
        "tld_dotted_date": dotted_date_text(),
        "registrar_full": registrar_full_text(),
        "flood_start": FLOOD_HEAD + flood_block(1, 40).decode(),
        "hang_empty": "",
    }
    for name, text in whois.items():
        with open(os.path.join(whois_dir, name), "wb") as f:
            f.write(text.encode())


def main():
    global VERBOSE, HOSTS_ZONE
    args = sys.argv[1:]
    VERBOSE = "--verbose" in args
    if "--hosts-zone" in args:
        i = args.index("--hosts-zone")
        if i + 1 >= len(args) or not args[i + 1].strip("."):
            sys.exit("--hosts-zone needs a zone name")
        HOSTS_ZONE = args[i + 1].strip(".").lower()
    if "--self-test" in args:
        sys.exit(self_test())
    if "--write-corpus" in args:
        i = args.index("--write-corpus")
        return write_corpus(args[i + 1], args[i + 2])
    if "--com-registered" in args:
        i = args.index("--com-registered")
        if i + 1 >= len(args):
            sys.exit("--com-registered needs a comma-separated list of names")
        COM_REGISTERED.update(n.strip().rstrip(".").lower() for n in args[i + 1].split(",") if n.strip())
    serve("--until-signal" in args)


# ---------------------------------------------------------------------------------------------------------------
# Self-test: starts the peers as a child, as a test does, and exercises every fixture
# ---------------------------------------------------------------------------------------------------------------
def self_test():
    import subprocess
    import urllib.error
    import urllib.request

    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    cmd = [sys.executable, os.path.abspath(__file__)]
    started = time.monotonic()
    child = subprocess.Popen(cmd + ["--com-registered", "exampel.com,WXAMPLE.com."], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    line = child.stdout.readline().decode()
    check(time.monotonic() - started < 5, "started in %.2f s" % (time.monotonic() - started))
    ports = json.loads(line)
    check(list(ports) == ["http_port", "whois_iana_port", "whois_tld_port", "whois_registrar_port"]
          and all(isinstance(v, int) and v > 0 for v in ports.values()), "the JSON line: " + line.strip())
    base = "http://127.0.0.1:%d" % ports["http_port"]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    plain = urllib.request.build_opener(NoRedirect)
    follow = urllib.request.build_opener()

    def get(path, opener=plain, timeout=10, method="GET"):
        req = urllib.request.Request(base + path, headers={"Accept": RDAP_TYPE}, method=method)
        try:
            r = opener.open(req, timeout=timeout)
            return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def entity(obj, role):
        for e in obj.get("entities", []):
            if role in e.get("roles", []):
                return e
        return None

    def fn(e):
        return [p[3] for p in e["vcardArray"][1] if p[0] == "fn"][0]

    def event(obj, action):
        return [e["eventDate"] for e in obj["events"] if e["eventAction"] == action][0]

    try:
        # Registry, then the registrar through the related link.
        st, h, body = get("/registry/domain/FULL.Example")
        d = json.loads(body)
        check(st == 200 and h["Content-Type"] == RDAP_TYPE and int(h["Content-Length"]) == len(body),
              "full.example: 200, rdap+json, Content-Length")
        check(d["objectClassName"] == "domain" and d["ldhName"] == "FULL.EXAMPLE"
              and d["status"] == list(FULL_STATUS), "full.example: ldhName, status")
        check(event(d, "registration") == "2019-03-04T10:00:00Z" and event(d, "expiration") == "2027-03-04T10:00:00Z"
              and event(d, "last changed") == "2025-01-02T03:04:05Z", "full.example: events")
        r = entity(d, "registrar")
        check(fn(r) == "Example Registrar, Inc." and r["publicIds"][0]["identifier"] == "9999"
              and "entities" not in r and entity(d, "abuse") is None, "full.example: registrar, no abuse entity")
        check([n["ldhName"] for n in d["nameservers"]] == ["NS1.FULL.EXAMPLE", "NS2.FULL.EXAMPLE"],
              "full.example: nameservers")
        related = [l["href"] for l in d["links"] if l["rel"] == "related"]
        check(related == [base + "/registrar/domain/full.example"], "full.example: related link " + str(related))
        st, h, body = get(related[0][len(base):])
        d = json.loads(body)
        abuse = entity(entity(d, "registrar"), "abuse")
        props = {p[0]: p for p in abuse["vcardArray"][1]}
        check(st == 200 and props["email"][3] == "abuse@registrar.example"
              and props["tel"][1] == {"type": "voice"} and props["tel"][3] == "tel:+1.5555550100"
              and event(d, "expiration") == "2027-03-04T10:00:00Z", "registrar: abuse email, tel, expiration")
        # Redirect.
        st, h, body = get("/registry/domain/redirect.example")
        check(st == 302 and h["Location"] == "/registry2/domain/redirect.example", "redirect.example: 302")
        st, h, body = get("/registry/domain/redirect.example", follow)
        d = json.loads(body)
        check(st == 200 and fn(entity(d, "registrar")) == "Redirected Registrar"
              and event(d, "registration") == "2020-01-01T00:00:00Z", "redirect.example: followed")
        # 404s.
        st, h, body = get("/registry/domain/missing.example")
        e = json.loads(body)
        check(st == 404 and e["errorCode"] == 404 and e["title"] == "Not Found", "missing.example: 404 error body")
        st, h, body = get("/registry/domain/unknown.example")
        check(st == 404, "unknown name: 404")
        # 429 then 200; a reset re-arms it.
        for attempt in (1, 2):
            st, h, body = get("/registry/domain/busy.example")
            check(st == 429 and h["Retry-After"] == "1" and json.loads(body)["errorCode"] == 429,
                  "busy.example: 429 with Retry-After: 1 (round %d)" % attempt)
            st, h, body = get("/registry/domain/busy.example")
            check(st == 200 and fn(entity(json.loads(body), "registrar")) == "Patient Registrar",
                  "busy.example: then 200 (round %d)" % attempt)
            get("/reset", method="POST")
        # Malformed.
        st, h, body = get("/registry/domain/malformed.example")
        try:
            json.loads(body)
            bad = False
        except ValueError:
            bad = True
        check(st == 200 and bad, "malformed.example: 200 with truncated JSON")
        # Huge: Content-Length and chunked.
        for name, chunked in (("huge.example", False), ("huge-chunked.example", True)):
            st, h, body = get("/registry/domain/" + name, timeout=30)
            check(st == 200 and len(body) == HUGE_SIZE and json.loads(body)["ldhName"] == "HUGE.EXAMPLE"
                  and (h.get("Transfer-Encoding") == "chunked") == chunked
                  and (h.get("Content-Length") is None) == chunked, name + ": 10 MiB valid JSON")
        # Bulk.
        st, h, body = get("/registry/domain/BULK0042.example")
        d = json.loads(body)
        check(st == 200 and d["ldhName"] == "BULK0042.EXAMPLE" and fn(entity(d, "registrar")) == "Bulk Registrar"
              and event(d, "registration") == "2021-06-07T08:09:10Z", "bulk0042.example: 200 at once")
        # .com: the names given, with the registrar through the related link; others 404.
        for name in ("exampel.com", "wxample.com"):
            f = com_facts(name)
            st, h, body = get("/com/domain/" + name.upper())
            d = json.loads(body)
            r = entity(d, "registrar")
            check(st == 200 and d["ldhName"] == name.upper() and fn(r) == f["registrar"]
                  and r["publicIds"][0]["identifier"] == f["registrar_iana_id"] and entity(r, "abuse") is None
                  and d["status"] == f["statuses"] and event(d, "registration") == f["created"]
                  and event(d, "expiration") == f["expires"] and event(d, "last changed") == f["updated"]
                  and [n["ldhName"].lower() for n in d["nameservers"]] == f["name_servers"],
                  name + ": the .com registry's answer")
            related = [l["href"] for l in d["links"] if l["rel"] == "related"]
            check(related == [base + "/com-registrar/domain/" + name], name + ": related link " + str(related))
            st, h, body = get(related[0][len(base):])
            props = {p[0]: p for p in entity(entity(json.loads(body), "registrar"), "abuse")["vcardArray"][1]}
            check(st == 200 and props["email"][3] == f["abuse_email"] and props["tel"][3] == "tel:" + f["abuse_phone"],
                  name + ": the .com registrar's abuse contact")
        check(com_facts("exampel.com") != com_facts("wxample.com"), ".com: the values differ by name")
        for path in ("/com/domain/exanple.com", "/com-registrar/domain/exanple.com", "/com/domain/full.example"):
            check(get(path)[0] == 404, path + ": 404 (not in --com-registered)")
        # Bootstrap.
        st, h, body = get("/dns.json")
        check(st == 200 and json.loads(body)["services"] == [[["example"], [base + "/registry/"]]],
              "/dns.json bootstrap")
        # Slow holds, others still answer.
        get("/reset", method="POST")
        slow = {}

        def slow_get():
            t0 = time.monotonic()
            try:
                slow["status"] = get("/registry/domain/slow.example", timeout=2)[0]
            except Exception as ex:  # socket.timeout / URLError
                slow["error"] = type(ex).__name__
            slow["took"] = time.monotonic() - t0

        t = threading.Thread(target=slow_get)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        st, h, body = get("/registry/domain/full.example")
        quick = time.monotonic() - t0
        check(st == 200 and quick < 0.5, "while slow.example holds, full.example answers in %.3f s" % quick)
        t.join()
        check("error" in slow and slow["took"] >= 1.9, "slow.example: no answer within 2 s (%s)" % slow)
        st, h, body = get("/stats")
        s = json.loads(body)
        check(s["hits"].get("/registry/domain/slow.example") == 1 and s["hits"].get("/registry/domain/full.example") == 1
              and s["max_concurrent"] == 2 and len(s["times"]["/registry/domain/full.example"]) == 1,
              "stats: hits, times, max_concurrent 2: " + json.dumps({k: s[k] for k in ("hits", "max_concurrent")}))
        get("/reset", method="POST")
        s = json.loads(get("/stats")[2])
        check(s["hits"] == {} and s["max_concurrent"] == 0, "reset clears stats")

        # WHOIS.
        def whois(port_key, query, limit=1 << 20, timeout=5):
            sock = socket.create_connection(("127.0.0.1", ports[port_key]), timeout=timeout)
            sock.sendall(query.encode() + b"\r\n")
            out = b""
            while len(out) < limit:
                piece = sock.recv(65536)
                if not piece:
                    break
                out += piece
            sock.close()
            return out.decode()

        text = whois("whois_iana_port", "full.whois")
        tld = "127.0.0.1:%d" % ports["whois_tld_port"]
        check("refer:        " + tld + "\n" in text and "whois:        " + tld + "\n" in text
              and "domain:       WHOIS\n" in text, "iana: refer/whois to the TLD server")
        text = whois("whois_tld_port", "full.whois")
        reg = "127.0.0.1:%d" % ports["whois_registrar_port"]
        for needle in ("Domain Name: FULL.WHOIS", "Registrar WHOIS Server: " + reg, "Updated Date: 2025-02-03T04:05:06Z",
                       "Creation Date: 2018-05-06T07:08:09Z", "Registry Expiry Date: 2028-05-06T07:08:09Z",
                       "Registrar: Whois Registrar LLC", "Registrar IANA ID: 1234",
                       "Registrar Abuse Contact Email: abuse@whois-registrar.example",
                       "Registrar Abuse Contact Phone: +1.5555550199",
                       "Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited",
                       "Name Server: NS1.FULL.WHOIS", "Name Server: NS2.FULL.WHOIS", "DNSSEC: unsigned",
                       ">>> Last update of whois database: ", "TERMS OF USE"):
            check(needle in text, "tld full.whois: " + needle)
        check("\r\n" in text and "\n" not in text.replace("\r\n", ""), "tld full.whois: CRLF lines")
        text = whois("whois_registrar_port", "full.whois")
        for needle in ("Registrar Registration Expiration Date: 2028-05-06T07:08:09Z", "Registrar: Whois Registrar LLC",
                       "Registrant Organization: Example Holder",
                       "Registrar Abuse Contact Email: abuse@whois-registrar.example"):
            check(needle in text, "registrar full.whois: " + needle)
        text = whois("whois_tld_port", "NOMATCH.whois")
        check(text.startswith('No match for "NOMATCH.WHOIS".') and "TERMS OF USE" in text, "tld nomatch.whois")
        text = whois("whois_tld_port", "ru-style.whois")
        check("domain:        RU-STYLE.WHOIS\n" in text and "state:         REGISTERED, DELEGATED, VERIFIED\n" in text
              and "registrar:     RU-STYLE-REG\n" in text and "created:       2010-11-12T13:14:15Z\n" in text
              and "paid-till:     2026-11-12T21:00:00Z\n" in text and "nserver:" in text and "source:" in text,
              "tld ru-style.whois")
        text = whois("whois_tld_port", "dotted-date.whois")
        check("Registered on: 14-Aug-2003\n" in text and "Expiry date:  14-Aug-2027\n" in text
              and "    Registrar:\n        Example UK Registrar Ltd [Tag = EXAMPLE]\n" in text, "tld dotted-date.whois")
        # Hang: no answer, no close.
        sock = socket.create_connection(("127.0.0.1", ports["whois_tld_port"]), timeout=1.5)
        sock.sendall(b"hang.whois\r\n")
        try:
            got = sock.recv(1)
            hung = False
        except socket.timeout:
            hung, got = True, None
        check(hung, "tld hang.whois: nothing within 1.5 s, still open (%r)" % (got,))
        # Flood: read 4 MiB, close; the server carries on.
        sock2 = socket.create_connection(("127.0.0.1", ports["whois_tld_port"]), timeout=5)
        sock2.sendall(b"flood.whois\r\n")
        got = 0
        while got < 4 << 20:
            piece = sock2.recv(65536)
            if not piece:
                break
            got += len(piece)
        sock2.close()
        check(got >= 4 << 20, "tld flood.whois: 4 MiB and still going")
        s = json.loads(get("/stats")[2])
        check(s["whois_hits"]["tld"].get("hang.whois") == 1 and s["whois_hits"]["iana"].get("full.whois") == 1,
              "stats: whois_hits " + json.dumps(s["whois_hits"]))
        sock.close()
        text = whois("whois_tld_port", "full.whois")
        check("Domain Name: FULL.WHOIS" in text, "tld answers after hang and flood")
        # Exit on stdin EOF, promptly, even with a slow request in progress.
        def held():
            try:
                get("/registry/domain/slow.example", timeout=40)
            except Exception:  # the peers exit under it
                pass

        threading.Thread(target=held, daemon=True).start()
        time.sleep(0.2)
        t0 = time.monotonic()
        child.stdin.close()
        try:
            rc = child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "exits on stdin EOF (rc %s) in %.2f s" % (rc, time.monotonic() - t0))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    # SIGTERM.
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    child.stdout.readline()
    t0 = time.monotonic()
    child.terminate()
    try:
        rc = child.wait(timeout=3)
    except subprocess.TimeoutExpired:
        child.kill()
        rc = None
    check(rc == 0, "exits on SIGTERM (rc %s) in %.2f s" % (rc, time.monotonic() - t0))
    child.stdin.close()

    print("FAILED: %d check(s)" % len(failures) if failures else "OK", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    main()
