"""Every name a stranger chooses is resolved through squatstreamd's configured resolver (--dns_servers), never the
system's resolver or /etc/hosts (issue 35): squatstreamd with its real DNS, registration and banner stages, driven by
grpcurl, in a network and mount namespace of the test's own (tests/e2e/tools/resolver_trap.py: `unshare -mn`, only
loopback, up) whose /etc/resolv.conf names a logging resolver — a DNS server that writes down every question and
answers REFUSED — and whose /etc/hosts maps every name below to 127.0.0.254, where nothing listens. Nothing here can
reach the machine's real resolver: the namespace has no route off loopback.

The hosts under hosts.test exist only in the test's nsd (Debian's, on loopback, squatstreamd's --dns_servers):
  * banner: sqatbank.com (an omission of squatbank.com, at 127.0.0.21) redirects to http://web.hosts.test:P/hop2
    (127.0.0.31), which redirects to http://127.0.0.1.:P/final (an IPv4 literal with a trailing dot, which
    squatstreamd used to let libcurl resolve through the system's resolver);
  * RDAP: the bootstrap file names http://rdap.hosts.test:P/com/ for .com; the registry's "related" link names
    rdap-registrar.hosts.test (tests/workers/registration/registry_peers.py --hosts-zone hosts.test);
  * WHOIS: --whois_server=whois-iana.hosts.test:P, whose answer refers to whois-tld.hosts.test:P, whose answer refers
    to whois-registrar.hosts.test:P (full.whois, an omission of fullx.whois).

Asserted: the two streams end OK with the registered names; sqatbank.com's HTTP chain is 302 from 127.0.0.21, 302
from 127.0.0.31, 200 from 127.0.0.1 with the final page's title, each peer having seen its Host header; its
registration data is the .com registry's with the registrar's abuse contact (RDAP, both hosts by name); full.whois's
is the WHOIS registrar's, through the three servers by name — all answered by the peers, found through nsd; and the
logging resolver was asked nothing (its log is printed if not).

usage: resolver_isolation_test.py GRPCURL SQUATSTREAMD REGISTRY_PEERS_PY
Exits 77 (skipped) when no namespace can be made here. Standard library only (Debian's /usr/bin/python3).
"""
import http.server
import importlib.util
import json
import os
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from grpcurl_output import enrich_stream  # noqa: E402
from nsd import Nsd  # noqa: E402
from resolver_trap import ResolverTrap, isolate  # noqa: E402
from squatstreamd import Checks, Server, require_tool, stop  # noqa: E402

ZONE = "hosts.test"
HOST_NAMES = [f"{label}.{ZONE}" for label in
              ("web", "rdap", "rdap-registrar", "whois-iana", "whois-tld", "whois-registrar")]
CANDIDATE, CANDIDATE_ADDRESS, WEB_ADDRESS = "sqatbank.com", "127.0.0.21", "127.0.0.31"
FINAL_TITLE = "Answered at 127.0.0.1."
SOA = "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n@ IN NS ns.test.\n"


class Web:
    """An HTTP server on `address`, port 0, answering by path from `routes` ({path: (status, headers, body)}),
    remembering every request's (path, Host header)."""

    def __init__(self, address, routes):
        self.routes, self.seen, self.lock = routes, [], threading.Lock()
        web = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with web.lock:
                    web.seen.append((self.path, self.headers.get("Host")))
                status, headers, body = web.routes.get(self.path, (404, [], b"not here"))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        class Quiet(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def server_bind(self):  # no getfqdn(): no reverse lookup
                socketserver.TCPServer.server_bind(self)
                self.server_name, self.server_port = self.server_address[:2]

        self.server = Quiet((address, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def requests(self):
        with self.lock:
            return list(self.seen)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_registry(script):
    proc = subprocess.Popen(["/usr/bin/python3", script, "--until-signal", "--com-registered", CANDIDATE,
                             "--hosts-zone", ZONE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if not line:
        sys.exit(f"resolver_isolation_test: registry_peers.py did not start: {proc.stderr.read().decode()[-4000:]}")
    return proc, json.loads(line)


def enrichment(record, name):
    found = [e for e in record.get("enrichments", []) if e.get("enricher") == name]
    return found[0] if len(found) == 1 else {}


def free_closed_port():
    """A loopback port nothing listens on (the https probe is refused there at once)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    grpcurl, squatstreamd, registry_script = sys.argv[1:4]
    require_tool(grpcurl, "grpcurl")
    isolate()  # from here on: in the namespace
    for proxy in [k for k in os.environ if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")]:
        del os.environ[proxy]  # grpcurl (gRPC-Go) would resolve and dial a proxy named there
    spec = importlib.util.spec_from_file_location("registry_peers", registry_script)
    registry_peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(registry_peers)
    facts = registry_peers.com_facts(CANDIDATE)
    began = time.monotonic()
    c = Checks()
    webs, registry, tmp = [], None, tempfile.mkdtemp(prefix="squatstream-resolver-isolation-")
    with ResolverTrap(hosts=HOST_NAMES + [CANDIDATE, "full.whois"]) as trap:
        try:
            final = Web("127.0.0.1", {"/final": (200, [], f"<html><title>{FINAL_TITLE}</title></html>".encode())})
            web = Web(WEB_ADDRESS, {"/hop2": (302, [("Location", f"http://127.0.0.1.:{final.port}/final")], b"")})
            first = Web(CANDIDATE_ADDRESS, {"/": (302, [("Location", f"http://web.{ZONE}:{web.port}/hop2")], b"")})
            webs = [final, web, first]
            registry, ports = start_registry(registry_script)
            bootstrap = os.path.join(tmp, "dns.json")
            with open(bootstrap, "w") as f:
                json.dump({"publication": "2026-01-30T00:00:00Z",
                           "services": [[["com"], [f"http://rdap.{ZONE}:{ports['http_port']}/com/"]]]}, f)
            zones = {
                "com": f"$ORIGIN com.\n$TTL 300\n{SOA}{CANDIDATE[:-4]} IN A {CANDIDATE_ADDRESS}\n",
                "whois": f"$ORIGIN whois.\n$TTL 300\n{SOA}full IN A 127.0.0.41\n",
                ZONE: f"$ORIGIN {ZONE}.\n$TTL 300\n{SOA}web IN A {WEB_ADDRESS}\n" + "".join(
                    f"{h.split('.')[0]} IN A 127.0.0.1\n" for h in HOST_NAMES if not h.startswith("web.")),
            }
            flags = ["--stub_enrichers=geo", "--dial_allow_cidrs=127.0.0.0/8", "--dns_rate_limit=2000",
                     f"--rdap_bootstrap_file={bootstrap}", "--rdap_bootstrap_url=",
                     f"--whois_server=whois-iana.{ZONE}:{ports['whois_iana_port']}", "--registration_rate_limit=50",
                     f"--banner_http_port={first.port}", f"--banner_https_port={free_closed_port()}",
                     "--banner_probes=http"]
            with Nsd(zones) as nsd, Server(squatstreamd, flags + [f"--dns_servers={nsd.server}"]) as s:
                # 1. The banner chain and RDAP, for sqatbank.com.
                got, _, code, err, _ = enrich_stream(grpcurl, s.address, {
                    "domain": "squatbank.com", "kinds": ["PERMUTATION_KIND_OMISSION"], "registered_only": True,
                    "enrichers": ["ENRICHER_DNS", "ENRICHER_WHOIS", "ENRICHER_BANNER"]}, max_time=60)
                c.expect(code == 0 and set(got) == {CANDIDATE},
                         f"stream 1 ends OK with {sorted(got)} (grpcurl exit {code}{': ' + err.strip() if code else ''})")
                record = got.get(CANDIDATE, {})
                banner = enrichment(record, "ENRICHER_BANNER").get("banner", {})
                probe = ([p for p in banner.get("http", []) if p.get("scheme") == "http"] or [{}])[0]
                hops = probe.get("hops", [])
                c.expect([(h.get("status"), h.get("address")) for h in hops] ==
                         [(302, CANDIDATE_ADDRESS), (302, WEB_ADDRESS), (200, "127.0.0.1")]
                         and probe.get("title") == FINAL_TITLE,
                         f"{CANDIDATE}: the chain through web.{ZONE} (nsd's {WEB_ADDRESS}) to 127.0.0.1. "
                         f"{[(h.get('status'), h.get('address'), h.get('url')) for h in hops]}, title "
                         f"{probe.get('title')!r} ({probe.get('status')})")
                c.expect(web.requests() == [("/hop2", f"web.{ZONE}:{web.port}")]
                         and final.requests() == [("/final", f"127.0.0.1.:{final.port}")],
                         f"the peers saw their Host headers: {web.requests()} {final.requests()}")
                whois = enrichment(record, "ENRICHER_WHOIS").get("whois", {})
                rdap = f"http://rdap.{ZONE}:{ports['http_port']}/com/domain/{CANDIDATE}"
                related = f"http://rdap-registrar.{ZONE}:{ports['http_port']}/com-registrar/domain/{CANDIDATE}"
                c.expect(whois.get("source") == "rdap" and whois.get("registrar") == facts["registrar"]
                         and whois.get("abuse_email") == facts["abuse_email"]
                         and whois.get("servers") == [rdap, related],
                         f"{CANDIDATE}: RDAP from rdap.{ZONE} and rdap-registrar.{ZONE}: {whois.get('registrar')!r}, "
                         f"{whois.get('abuse_email')!r}, {whois.get('servers')} "
                         f"({enrichment(record, 'ENRICHER_WHOIS').get('status')})")

                # 2. WHOIS: IANA's stand-in, then both referrals, by name.
                got, _, code, err, _ = enrich_stream(grpcurl, s.address, {
                    "domain": "fullx.whois", "kinds": ["PERMUTATION_KIND_OMISSION"], "registered_only": True,
                    "enrichers": ["ENRICHER_DNS", "ENRICHER_WHOIS"]}, max_time=60)
                c.expect(code == 0 and set(got) == {"full.whois"},
                         f"stream 2 ends OK with {sorted(got)} (grpcurl exit {code}{': ' + err.strip() if code else ''})")
                whois = enrichment(got.get("full.whois", {}), "ENRICHER_WHOIS").get("whois", {})
                servers = [f"whois://whois-iana.{ZONE}:{ports['whois_iana_port']}",
                           f"whois://whois-tld.{ZONE}:{ports['whois_tld_port']}",
                           f"whois://whois-registrar.{ZONE}:{ports['whois_registrar_port']}"]
                c.expect(whois.get("source") == "whois" and whois.get("registrar") == "Whois Registrar LLC"
                         and whois.get("abuse_email") == "abuse@whois-registrar.example"
                         and whois.get("servers") == servers,
                         f"full.whois: WHOIS through whois-iana, whois-tld and whois-registrar.{ZONE}: "
                         f"{whois.get('registrar')!r}, {whois.get('abuse_email')!r}, {whois.get('servers')}")
                no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with no_proxy.open(f"http://127.0.0.1:{ports['http_port']}/stats", timeout=10) as r:
                    stats = json.loads(r.read())
                c.expect(stats["whois_hits"]["registrar"].get("full.whois") == 1
                         and stats["hits"].get(f"/com-registrar/domain/{CANDIDATE}") == 1,
                         "the registry peers were asked (registrar RDAP and WHOIS once each)")
            asked = trap.questions()
            c.expect(not asked, f"the system's resolver (the logging resolver) was asked nothing: {sorted(set(asked))}")
        finally:
            stop(registry)
            for w in webs:
                w.close()
    print(f"resolver_isolation_test: {len(c.failures)} failed, {time.monotonic() - began:.1f} s", flush=True)
    sys.exit(1 if c.failures else 0)


if __name__ == "__main__":
    main()
