"""The real geo and registration stages end to end, through grpcurl: squatstreamd with DNS, geo and whois real
(banner stubbed) against peers on 127.0.0.1 only —
  * Debian's nsd serving the DNS fixture zones of tests/workers/dns/fixture_zones.h (read from the header's
    string literals: one source of truth with the C++ tests);
  * MaxMind-format fixture databases written by tests/workers/geo/make_fixture_mmdb.pl (the expected places are
    read from its @places table);
  * tests/workers/registration/registry_peers.py (RDAP and WHOIS), started with --com-registered naming the
    fixture's registered .com names, and an RFC 9224 bootstrap file mapping "com" to its /com/ registry (the
    registrar's answer through the registry's "related" link). The bootstrap URL flag is empty, and WHOIS
    starts at the peers' IANA-like server, so nothing dials out.

Asserted:
 1. EnrichDomain {"domain":"example.com","registered_only":true, enrichers DNS, GEO, WHOIS, kinds OMISSION,
    TRANSPOSITION, REPLACEMENT} (the kinds that keep .com: other suffixes would be REFUSED by nsd, hence
    UNKNOWN, which registered_only keeps) ends OK, and streams exactly the fixture's registered .com names,
    DNS verdict REGISTERED, real (not simulated);
    - geo: every DNS address located (`addresses` = DNS's A then AAAA, with the fixture's country code and
      name, city, continent, coordinates, ASN and AS organisation, found), fields 1-6 = the first address's;
      names without an address: NOT_FOUND;
    - whois: registered, registrar, registrar_iana_id, created, expires, updated, statuses, name_servers,
      abuse_email, abuse_phone (the last two only in the registrar's answer), source "rdap", servers (registry
      then registrar URL), registered_domain — each equal to what the peers served; raw_text empty, not cached;
    - the peers saw each registry and registrar URL exactly once, no WHOIS query, and the requests were spaced
      by the per-server rate limit (the default, 1/s);
 2. the same stream again: the same records, every registration result "cached": true, and no new request at
    the peers;
 3. EnrichDomain {"domain":"example.net", OMISSION, WHOIS} (registered_only off: wildcard names would be
    filtered): every name is only the `net` wildcard's (DNS WILDCARD), and its whois is NOT_FOUND "not asked"
    with no request at the peers.

usage: real_enrichers_test.py GRPCURL SQUATSTREAMD [REGISTRY_PEERS_PY MAKE_FIXTURE_MMDB_PL FIXTURE_ZONES_H]
Standard library only (Debian's /usr/bin/python3); about 10 s, most of it the rate limit.
"""
import ipaddress
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from nsd import Nsd  # noqa: E402
from grpcurl_output import enrich_stream  # noqa: E402
from squatstreamd import Checks, Server, require_tool, stop  # noqa: E402

KINDS = ["PERMUTATION_KIND_OMISSION", "PERMUTATION_KIND_TRANSPOSITION", "PERMUTATION_KIND_REPLACEMENT"]
NOT_FOUND = 5  # google.rpc.Code


# ---------------------------------------------------------------------------------------------------------------
# The fixtures' sources
# ---------------------------------------------------------------------------------------------------------------
def cxx_tokens(text):
    """C++ tokens, enough for fixture_zones.h: string literals (adjacent ones joined, escapes decoded) and
    single punctuation characters; comments dropped; other words as they are."""
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'"}
    tokens, i = [], 0
    while i < len(text):
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        elif c == '"':
            i += 1
            value = []
            while text[i] != '"':
                if text[i] == "\\":
                    if text[i + 1] not in escapes:
                        raise ValueError("fixture_zones.h: unexpected escape \\" + text[i + 1])
                    value.append(escapes[text[i + 1]])
                    i += 2
                else:
                    value.append(text[i])
                    i += 1
            i += 1
            if tokens and isinstance(tokens[-1], tuple):  # "a" "b" is "ab"
                tokens[-1] = ("str", tokens[-1][1] + "".join(value))
            else:
                tokens.append(("str", "".join(value)))
        elif c.isspace():
            i += 1
        elif c.isalnum() or c == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(text[i:j])
            i = j
        else:
            tokens.append(c)
            i += 1
    return tokens


def fixture_zones(header):
    """{zone: zone text} of FixtureZones() in fixture_zones.h: the `{"name", "text"...}` pairs of its map."""
    tokens = cxx_tokens(open(header, encoding="utf-8").read())
    start = tokens.index("FixtureZones")
    zones = {}
    for i in range(start, len(tokens) - 4):
        t = tokens[i:i + 5]
        if t[0] == "{" and isinstance(t[1], tuple) and t[2] == "," and isinstance(t[3], tuple) and t[4] == "}":
            zones[t[1][1]] = t[3][1]
    if set(zones) != {"com", "exampel.com", "net"}:
        sys.exit(f"real_enrichers_test: unexpected zones in {header}: {sorted(zones)}")
    return zones


def zone_records(zones):
    """[(owner name, type, data)] of every zone, owner names absolute without the final dot."""
    out = []
    for text in zones.values():
        origin = None
        for line in text.splitlines():
            words = line.split()
            if not words:
                continue
            if words[0] == "$ORIGIN":
                origin = words[1].rstrip(".")
                continue
            if words[0].startswith("$"):
                continue
            owner = origin if words[0] == "@" else f"{words[0]}.{origin}"
            rtype = words[2]  # owner IN TYPE data
            out.append((owner, rtype, " ".join(words[3:])))
    return out


def registered_com_names(zones):
    """The .com look-alikes the fixture registers: a child of com with a record in the com zone, or a zone of
    its own under com (the wildcard of net registers nothing)."""
    names = set()
    for owner, rtype, _ in zone_records(zones):
        if owner.endswith(".com") and owner.count(".") == 1 and not owner.startswith("*"):
            names.add(owner)
    return names


def geo_places(perl_script):
    """[(network, {field: value})] from the @places table of make_fixture_mmdb.pl (variant 1)."""
    text = open(perl_script, encoding="utf-8").read()
    m = re.search(r"^my @places = \((.*?)^\);", text, re.S | re.M)
    if not m:
        sys.exit(f"real_enrichers_test: no @places table in {perl_script}")
    continents = dict(re.findall(r"(\w\w) => '([^']*)'", re.search(r"%continent_name = \(([^)]*)\)", text).group(1)))
    places = []
    for row in re.findall(r"\[(.*?)\]", m.group(1), re.S):
        values = [s if n == "" else float(n) if "." in n else int(n)
                  for s, n in re.findall(r"'((?:[^'\\]|\\.)*)'|(-?\d+(?:\.\d+)?)", row)]
        network, cc, country, _state, city, continent, lat, lon, _tz, asn, org = values
        assert continent in continents
        places.append((ipaddress.ip_network(network), {
            "country_code": cc, "country_name": country, "city": city, "continent_code": continent,
            "latitude": float(lat), "longitude": float(lon), "asn": asn, "as_organization": org}))
    if len(places) != 4:
        sys.exit(f"real_enrichers_test: expected 4 places in {perl_script}, read {len(places)}")
    return places


def place_of(places, ip):
    address = ipaddress.ip_address(ip)
    for network, place in places:
        if address.version == network.version and address in network:
            return place
    return None


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------------
# Running things
# ---------------------------------------------------------------------------------------------------------------
def enrich(c, grpcurl, address, request):
    """(records by domain_ascii, last progress, grpcurl's exit code, its stderr) of one EnrichDomain stream."""
    try:
        records, progress, code, stderr, twice = enrich_stream(grpcurl, address, request, max_time=60)
    except ValueError as e:
        c.expect(False, f"grpcurl's output is JSON messages ({e})")
        return {}, {}, 1, ""
    c.expect(not twice, f"each name streamed once ({twice or 'none twice'})")
    return records, progress, code, stderr


def peers_stats(http_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/stats", timeout=10) as r:
        return json.loads(r.read())


def enrichment(record, enricher):
    found = [e for e in record.get("enrichments", []) if e.get("enricher") == enricher]
    return found[0] if len(found) == 1 else {}


def start_peers(script, names):
    proc = subprocess.Popen(["/usr/bin/python3", script, "--until-signal", "--com-registered", ",".join(sorted(names))],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The JSON line comes within a second; a peer that dies or hangs is not waited for past 20 s.
    deadline = time.monotonic() + 20
    os.set_blocking(proc.stdout.fileno(), False)
    line = b""
    while not line.endswith(b"\n"):
        piece = proc.stdout.read()
        if piece:
            line += piece
        elif proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            sys.exit(f"real_enrichers_test: registry_peers.py did not start: {line!r} {proc.stderr.read()!r}")
        else:
            time.sleep(0.02)
    return proc, json.loads(line)


# ---------------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------------
def check_geo(c, name, record, places, zone_addresses):
    geo, dns = enrichment(record, "ENRICHER_GEO"), enrichment(record, "ENRICHER_DNS").get("dns", {})
    addresses = dns.get("addresses", [])
    if name in zone_addresses:
        c.expect(addresses == zone_addresses[name],
                 f"{name}: DNS addresses {addresses} are the zone's A then AAAA {zone_addresses[name]}")
    if not addresses:
        c.expect(geo.get("status", {}).get("code") == NOT_FOUND and "geo" not in geo,
                 f"{name}: no address, geo NOT_FOUND ({geo.get('status')})")
        return
    c.expect(geo.get("status") == {} and not geo.get("simulated") and "geo" in geo,
             f"{name}: geo OK, real ({geo.get('status')}, simulated={geo.get('simulated', False)})")
    result = geo.get("geo", {})
    located = result.get("addresses", [])
    c.expect([a.get("ip") for a in located] == addresses,
             f"{name}: geo addresses {[a.get('ip') for a in located]} = DNS's {addresses}")
    for a in located:
        place = place_of(places, a.get("ip", ""))
        if place is None:
            c.expect(False, f"{name}: {a.get('ip')} is in no fixture network")
            continue
        want = dict(place, ip=a["ip"], found=True)
        got = {k: a.get(k, 0 if k in ("latitude", "longitude", "asn") else False if k == "found" else "")
               for k in want}
        close = all(abs(got[k] - want[k]) < 1e-9 if k in ("latitude", "longitude") else got[k] == want[k]
                    for k in want)
        c.expect(close, f"{name}: {a['ip']} located " + (json.dumps(got, ensure_ascii=False) if close else
                                                       f"{json.dumps(got, ensure_ascii=False)}, want "
                                                       f"{json.dumps(want, ensure_ascii=False)}"))
    if located:
        first = located[0]
        legacy = {k: result.get(k, 0 if k in ("asn", "latitude", "longitude") else "")
                  for k in ("ip", "country_code", "city", "asn", "latitude", "longitude")}
        c.expect(legacy == {k: first.get(k, 0 if k in ("asn", "latitude", "longitude") else "") for k in legacy},
                 f"{name}: geo fields 1-6 repeat the first address's ({legacy})")


def expected_whois(name, facts, http_port):
    base = f"http://127.0.0.1:{http_port}"
    return {
        "registered": True,
        "registrar": facts["registrar"],
        "registrar_iana_id": facts["registrar_iana_id"],
        "created": facts["created"],
        "expires": facts["expires"],
        "updated": facts["updated"],
        "statuses": facts["statuses"],
        "name_servers": facts["name_servers"],
        "abuse_email": facts["abuse_email"],
        "abuse_phone": facts["abuse_phone"],
        "source": "rdap",
        "servers": [f"{base}/com/domain/{name}", f"{base}/com-registrar/domain/{name}"],
        "registered_domain": name,
        "raw_text": "",
    }


def check_whois(c, name, record, want, cached):
    whois = enrichment(record, "ENRICHER_WHOIS")
    c.expect(whois.get("status") == {} and not whois.get("simulated") and "whois" in whois,
             f"{name}: whois OK, real ({whois.get('status')}, simulated={whois.get('simulated', False)})")
    got = whois.get("whois", {})
    for field, value in want.items():
        default = [] if isinstance(value, list) else False if isinstance(value, bool) else ""
        c.expect(got.get(field, default) == value, f"{name}: whois.{field} = {json.dumps(got.get(field, default))}"
                 + ("" if got.get(field, default) == value else f", want {json.dumps(value)}"))
    c.expect(got.get("cached", False) == cached, f"{name}: whois.cached = {got.get('cached', False)}")
    unexpected = set(got) - set(want) - {"cached"}
    c.expect(not unexpected, f"{name}: no other whois field ({sorted(unexpected)})")


def rdap_hits(stats):
    return {path: n for path, n in stats["hits"].items() if path.startswith(("/com/", "/com-registrar/"))}


def main():
    if len(sys.argv) not in (3, 6):
        sys.exit(__doc__)
    grpcurl, squatstreamd = sys.argv[1], sys.argv[2]
    peers_script, mmdb_script, zones_header = (sys.argv[3:6] if len(sys.argv) == 6 else (
        os.path.join(TESTS, "workers/registration/registry_peers.py"),
        os.path.join(TESTS, "workers/geo/make_fixture_mmdb.pl"),
        os.path.join(TESTS, "workers/dns/fixture_zones.h")))
    require_tool(grpcurl, "grpcurl")
    # ctest's timeout sends SIGTERM: leave through the finally blocks, stopping every process started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("real_enrichers_test: SIGTERM"))
    began = time.monotonic()

    zones = fixture_zones(zones_header)
    names = registered_com_names(zones)
    records_by_type = zone_records(zones)
    zone_addresses = {}
    for rtype in ("A", "AAAA"):
        for owner, t, data in records_by_type:
            if t == rtype and owner in names:
                zone_addresses.setdefault(owner, []).append(data)
    places = geo_places(mmdb_script)
    facts_of = load_module(peers_script, "registry_peers").com_facts
    print(f"info  registered fixture names {sorted(names)}; addresses {zone_addresses}", flush=True)

    c = Checks()
    tmp = tempfile.mkdtemp(prefix="squatstream-real-enrichers-")
    peers = None
    try:
        built = subprocess.run(["/usr/bin/perl", mmdb_script, tmp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
        if built.returncode != 0:
            sys.exit(f"real_enrichers_test: make_fixture_mmdb.pl failed: {built.stdout.decode()}")
        peers, ports = start_peers(peers_script, names)
        http_port = ports["http_port"]
        bootstrap = os.path.join(tmp, "dns.json")
        with open(bootstrap, "w") as f:
            json.dump({"description": "real_enrichers_test", "publication": "2026-01-01T00:00:00Z", "version": "1.0",
                       "services": [[["com"], [f"http://127.0.0.1:{http_port}/com/"]]]}, f)
        with Nsd(zones) as nsd, Server(squatstreamd, [
                "--stub_enrichers=banner", f"--dns_servers={nsd.server}", "--dns_rate_limit=2000",
                "--dns_timeout=500ms",
                f"--geo_city_db={tmp}/city.mmdb", f"--geo_asn_db={tmp}/asn.mmdb",
                f"--rdap_bootstrap_file={bootstrap}", "--rdap_bootstrap_url=",
                "--dial_allow_cidrs=127.0.0.0/8",  # the peers are on loopback, which is refused by default
                f"--whois_server=127.0.0.1:{ports['whois_iana_port']}",
                "--registration_deadline=15s", "--registration_timeout=5s"]) as server:
            request = {"domain": "example.com", "kinds": KINDS, "registered_only": True,
                       "enrichers": ["ENRICHER_DNS", "ENRICHER_GEO", "ENRICHER_WHOIS"]}

            # 1. Everything asked of the peers.
            t0 = time.monotonic()
            records, progress, code, err = enrich(c, grpcurl, server.address, request)
            first_took = time.monotonic() - t0
            c.expect(code == 0 and not err.strip(), f"stream 1 ends OK in {first_took:.1f} s (grpcurl exit {code}"
                     + (f": {err.strip()}" if err.strip() else "") + ")")
            c.expect(set(records) == names, f"stream 1: the registered names {sorted(records)}")
            c.expect(int(progress.get("generated", 0)) > 40 and progress.get("enriched") == progress.get("generated")
                     and int(progress.get("sent", -1)) == len(records), f"stream 1: progress {progress}")
            for name in sorted(names & set(records)):
                record = records[name]
                dns = enrichment(record, "ENRICHER_DNS")
                c.expect([e.get("enricher") for e in record["enrichments"]]
                         == ["ENRICHER_DNS", "ENRICHER_GEO", "ENRICHER_WHOIS"]
                         and dns.get("dns", {}).get("verdict") == "DNS_VERDICT_REGISTERED" and not dns.get("simulated"),
                         f"{name}: DNS, GEO, WHOIS; DNS real, REGISTERED")
                check_geo(c, name, record, places, zone_addresses)
                check_whois(c, name, record, expected_whois(name, facts_of(name), http_port), cached=False)
            stats = peers_stats(http_port)
            hits = rdap_hits(stats)
            want_hits = {f"/{p}/domain/{n}": 1 for n in names for p in ("com", "com-registrar")}
            c.expect(hits == want_hits and set(stats["hits"]) == set(want_hits),
                     f"stream 1: each registry and registrar URL asked once ({len(hits)} requests)")
            c.expect(all(not v for v in stats["whois_hits"].values()), f"stream 1: no WHOIS query "
                     f"({stats['whois_hits']})")
            times = sorted(t for path in want_hits for t in stats["times"].get(path, []))
            gaps = [b - a for a, b in zip(times, times[1:])]
            # At most 1/s (the default): n requests span n - 1 seconds (arrival times read by the peers: a little
            # scheduling jitter allowed), none close on another's heels.
            span = times[-1] - times[0] if times else 0
            c.expect(len(times) == len(want_hits) and span > len(times) - 1.3 and min(gaps) > 0.5,
                     "stream 1: requests to 127.0.0.1:%d at most 1/s (%d over %.2f s, smallest gap %.3f s)"
                     % (http_port, len(times), span, min(gaps) if gaps else 0))

            # 2. Again: from the cache.
            first = records
            t0 = time.monotonic()
            records, progress, code, err = enrich(c, grpcurl, server.address, request)
            c.expect(code == 0 and not err.strip(), f"stream 2 ends OK in {time.monotonic() - t0:.1f} s "
                     f"(grpcurl exit {code}" + (f": {err.strip()}" if err.strip() else "") + ")")
            c.expect(set(records) == names, f"stream 2: the registered names {sorted(records)}")
            for name in sorted(names & set(records)):
                check_whois(c, name, records[name], expected_whois(name, facts_of(name), http_port), cached=True)
                c.expect(enrichment(records[name], "ENRICHER_GEO").get("geo")
                         == enrichment(first.get(name, {}), "ENRICHER_GEO").get("geo"), f"{name}: the same geo")
            after = peers_stats(http_port)
            c.expect(after["hits"] == stats["hits"] and after["whois_hits"] == stats["whois_hits"],
                     f"stream 2: no new request at the peers ({rdap_hits(after)})")
            c.expect(server.metric("squatstream_registration_cache_lookups_total") > 0,
                     "squatstream_registration_cache_lookups_total counted")

            # 3. Wildcard names: not asked.
            records, progress, code, err = enrich(c, grpcurl, server.address, {
                "domain": "example.net", "kinds": ["PERMUTATION_KIND_OMISSION"], "enrichers": ["ENRICHER_WHOIS"]})
            c.expect(code == 0 and not err.strip(), f"stream 3 (example.net) ends OK (grpcurl exit {code}"
                     + (f": {err.strip()}" if err.strip() else "") + ")")
            c.expect(len(records) >= 6 and len(records) == int(progress.get("generated", -1)),
                     f"stream 3: every omission of example.net streamed ({len(records)}, progress {progress})")
            for name, record in sorted(records.items()):
                dns = enrichment(record, "ENRICHER_DNS").get("dns", {})
                whois = enrichment(record, "ENRICHER_WHOIS")
                status = whois.get("status", {})
                ok = (dns.get("verdict") == "DNS_VERDICT_WILDCARD" and dns.get("wildcard_zone") == "net"
                      and status.get("code") == NOT_FOUND and status.get("message", "").startswith("not asked")
                      and "wildcard" in status.get("message", "") and "whois" not in whois)
                c.expect(ok, f"{name}: {dns.get('verdict')} ({dns.get('wildcard_zone')}), whois {status}")
            last = peers_stats(http_port)
            c.expect(last["hits"] == stats["hits"] and last["whois_hits"] == stats["whois_hits"],
                     "stream 3: no request at the peers")
    finally:
        stop(peers)
        shutil.rmtree(tmp, ignore_errors=True)
    took = time.monotonic() - began
    print(f"real_enrichers_test: {len(c.failures)} failed, {took:.1f} s", flush=True)
    sys.exit(1 if c.failures else 0)


if __name__ == "__main__":
    main()
