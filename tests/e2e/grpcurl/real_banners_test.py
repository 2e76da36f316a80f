"""The real banner stage end to end, through grpcurl: squatstreamd with DNS and banner real against peers on
loopback only —
  * tests/workers/banner/banner_peers.py: Debian's nginx (plain page, a redirect chain into HTTPS with an
    openssl-made self-signed certificate, the input domain's page, a near copy of it, a parking page, a redirect to
    169.254.169.254), sshd, aiosmtpd accepting and refusing RCPT, and servers that never answer — one scenario per
    127.0.0.x address, every address on the same four ports (squatstreamd's --banner_*_port);
  * Debian's nsd serving a `com` zone that registers six omissions of examplebank.com at those addresses, with mail
    exchangers at the SMTP peers (and the input domain itself at the original page).
`--dial_allow_cidrs=127.0.0.0/8` opens loopback (refused by default); nothing else is dialled or resolved.

Asserted:
 1. EnrichDomain {"domain":"examplebank.com", OMISSION, registered_only, DNS + BANNER, probe_mail} ends OK with exactly the six
    registered names, and for each its banner as the peers served it: the plain page's status, Server header and
    title; the chain's three hops (301, 302, then 200 over HTTPS) and the certificate (the SHA-256 openssl printed,
    self-signed, not verified); the MX check accepted at one mail server and refused (550) at the other; the SSH
    identification line as sshd sent it; similarity of the near copy >= 80 and "parked" for the parking page; the
    redirect to the metadata address refused (PERMISSION_DENIED, nothing dialled); the silent servers cut in their
    phases (first byte, connect/TLS, greeting, identification) well within the deadline; the SMTP peers never saw
    DATA.
 2. Load: 2,000 registered names (the first .com candidates of examplebank.com, registered in a second nsd), half on
    the plain server and half on the silent one, streamed with registered_only: the stream ends OK with all 2,000,
    every banner lookup ended (OK, each probe with its own status; silent ones DEADLINE_EXCEEDED), within the bound
    the per-phase timeouts and the connection caps give, and the server's RSS stays under its memory budget.

usage: real_banners_test.py GRPCURL SQUATSTREAMD [BANNER_PEERS_PY] [--sanitizer-build]
With --sanitizer-build the RSS check is printed, not asserted (the sanitizer's allocator and shadow memory).
Standard library only (Debian's /usr/bin/python3).
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from nsd import Nsd  # noqa: E402
from grpcurl_output import enrich_stream as grpcurl_stream  # noqa: E402
from squatstreamd import Checks, Server, require_tool, stop  # noqa: E402

INPUT = "examplebank.com"
DEADLINE_EXCEEDED, PERMISSION_DENIED = 4, 7  # google.rpc.Code
SCENARIOS = {  # registered omission -> (peers' scenario, its SMTP peer or None)
    "exmplebank.com": ("plain", "accept"),
    "exaplebank.com": ("chain", "refuse"),
    "examlebank.com": ("copy", None),
    "exampebank.com": ("parked", None),
    "examplbank.com": ("metadata", None),
    "xamplebank.com": ("slow", "silent"),
}
LOAD_NAMES = 2000
BUDGET_MB = 512


def com_zone(records):
    lines = ["$ORIGIN com.", "$TTL 300", "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60", "@ IN NS ns.test."]
    return "\n".join(lines + records) + "\n"


def banner_of(record):
    found = [e for e in record.get("enrichments", []) if e.get("enricher") == "ENRICHER_BANNER"]
    return found[0] if len(found) == 1 else {}


def start_peers(script, names):
    proc = subprocess.Popen(["/usr/bin/python3", script, "--until-signal", "--names", ",".join(names)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if not line:
        sys.exit(f"real_banners_test: banner_peers.py did not start: {proc.stderr.read().decode()[-4000:]}")
    return proc, json.loads(line)


def check_one(c, name, record, scenario, smtp, peers):
    b = banner_of(record)
    status = b.get("status", {})
    res = b.get("banner", {})
    c.expect(status.get("code", 0) == 0 and not b.get("simulated") and res, f"{name}: a real banner, OK ({status})")
    http = res.get("http", [])
    c.expect([p.get("scheme") for p in http] == ["http", "https"], f"{name}: http and https probed on its address")
    if len(http) != 2:
        return
    first, tls = http[0], http[1].get("hops", [{}])[-1].get("tls", {})
    if scenario == "plain":
        hop = first.get("hops", [{}])[0]
        c.expect(first.get("final_status") == 200 and first.get("title") == "Plain Fixture Page"
                 and hop.get("server") == peers["server_header"] and hop.get("address") == "127.0.0.11",
                 f"{name}: 200 from {hop.get('address')}, Server {hop.get('server')!r}, title {first.get('title')!r}")
        leaf = (tls.get("chain") or [{}])[0]
        c.expect(leaf.get("sha256") == peers["cert_sha256"] and leaf.get("self_signed") and not tls.get("verified")
                 and "self-signed" in tls.get("verify_error", "") and name in leaf.get("sans", []),
                 f"{name}: the certificate openssl made ({leaf.get('sha256', '')[:23]}...), self-signed, "
                 f"not verified ({tls.get('verify_error')})")
    if scenario == "chain":
        hops = first.get("hops", [])
        c.expect([h.get("status") for h in hops] == [301, 302, 200] and hops[-1].get("url", "").startswith(
            f"https://{name}:{peers['https_port']}/") and first.get("title") == "Chain Final"
            and hops[-1].get("tls", {}).get("chain", [{}])[0].get("sha256") == peers["cert_sha256"],
            f"{name}: the chain {[h.get('status') for h in hops]} into https, title {first.get('title')!r}")
    if scenario == "copy":
        c.expect(res.get("similarity_known") and res.get("similarity", 0) >= 80 and not res.get("parked"),
                 f"{name}: similar to {INPUT}'s page ({res.get('similarity')}), not parked")
    if scenario == "parked":
        c.expect(res.get("parked") and any(s.startswith("page:") for s in res.get("parked_signals", [])),
                 f"{name}: parked ({res.get('parked_signals')})")
    if scenario == "metadata":
        hops = first.get("hops", [])
        c.expect(len(hops) == 2 and hops[0].get("status") == 302 and hops[1].get("error", {}).get("code") ==
                 PERMISSION_DENIED and first.get("status", {}).get("code") == PERMISSION_DENIED
                 and "169.254.169.254" in first.get("status", {}).get("message", ""),
                 f"{name}: the redirect to 169.254.169.254 refused ({first.get('status')})")
    if scenario == "slow":
        got = [p.get("status", {}) for p in http] + [res.get("smtp", {}).get("status", {}),
                                                      res.get("ssh", {}).get("status", {})]
        phases = ["first byte", "TLS handshake", "greeting", "identification"]
        c.expect(all(s.get("code") == DEADLINE_EXCEEDED and p in s.get("message", "") for s, p in zip(got, phases)),
                 f"{name}: the silent servers cut in their phases ({[s.get('message') for s in got]})")
    ssh = res.get("ssh", {})
    if scenario in ("plain", "chain"):
        c.expect(ssh.get("identification") == peers["ssh_banner"], f"{name}: SSH {ssh.get('identification')!r}")
    mail = res.get("smtp", {})
    if smtp == "accept":
        c.expect(mail.get("banner", "").startswith("220 ") and mail.get("rcpt_code") == 250
                 and mail.get("accepts_any_recipient") and mail.get("mx") == f"mx.{name}",
                 f"{name}: MX check accepted ({mail.get('rcpt_code')} {mail.get('rcpt_reply')!r})")
    if smtp == "refuse":
        c.expect(mail.get("rcpt_code") == 550 and not mail.get("accepts_any_recipient")
                 and "no such user" in mail.get("rcpt_reply", ""),
                 f"{name}: MX check refused ({mail.get('rcpt_code')} {mail.get('rcpt_reply')!r})")
    if smtp is None:
        c.expect("smtp" not in res, f"{name}: no MX, no SMTP probe")


def main():
    sanitizer_build = "--sanitizer-build" in sys.argv
    argv = [a for a in sys.argv if a != "--sanitizer-build"]
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    grpcurl, squatstreamd = argv[1], argv[2]
    peers_script = argv[3] if len(argv) == 4 else os.path.join(TESTS, "workers/banner/banner_peers.py")
    require_tool(grpcurl, "grpcurl")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("real_banners_test: SIGTERM"))
    began = time.monotonic()
    c = Checks(rss_asserted=not sanitizer_build)
    peers = None
    try:
        peers, info = start_peers(peers_script, sorted(SCENARIOS) + [INPUT])
        addr = info["addresses"]
        records = [f"{INPUT[:-4]} IN A {addr['original']}"]
        for name, (scenario, smtp) in SCENARIOS.items():
            label = name[:-4]
            records.append(f"{label} IN A {addr[scenario]}")
            if smtp:
                records += [f"{label} IN MX 10 mx.{name}.", f"mx.{label} IN A {info['smtp'][smtp]}"]
        flags = ["--stub_enrichers=none", "--rdap_bootstrap_url=", "--dial_allow_cidrs=127.0.0.0/8",
                 "--dns_rate_limit=5000", "--dns_timeout=500ms",
                 f"--banner_http_port={info['http_port']}", f"--banner_https_port={info['https_port']}",
                 f"--banner_smtp_port={info['smtp_port']}", f"--banner_ssh_port={info['ssh_port']}",
                 "--banner_connect_timeout=1s", "--banner_first_byte_timeout=1s", "--banner_request_timeout=4s",
                 f"--memory_budget_mb={BUDGET_MB}"]
        # probe_mail: the MX check's MAIL FROM / RCPT TO, which the banner stage sends only when asked.
        request = {"domain": INPUT, "kinds": ["PERMUTATION_KIND_OMISSION"], "registered_only": True,
                   "enrichers": ["ENRICHER_DNS", "ENRICHER_BANNER"], "probe_mail": True}

        # 1. Each registered name's banner as served.
        with Nsd({"com": com_zone(records)}) as nsd, Server(squatstreamd, flags + [f"--dns_servers={nsd.server}"]) as s:
            t0 = time.monotonic()
            got, progress, code, err, twice = grpcurl_stream(grpcurl, s.address, request)
            took = time.monotonic() - t0
            c.expect(code == 0 and not err.strip() and not twice, f"stream 1 ends OK in {took:.1f} s (grpcurl exit "
                     f"{code}{': ' + err.strip() if err.strip() else ''}; twice: {twice})")
            c.expect(set(got) == set(SCENARIOS), f"stream 1: the registered names {sorted(got)}")
            c.expect(took < 10, f"stream 1: silent servers cut by their phase timeouts ({took:.1f} s < 10 s)")
            for name, (scenario, smtp) in sorted(SCENARIOS.items()):
                if name in got:
                    check_one(c, name, got[name], scenario, smtp, info)
            with open(info["smtp_log"]) as f:
                log = f.read()
            c.expect("RCPT" in log and "DATA" not in log, "the SMTP peers saw RCPT and never DATA")
            c.expect(s.metric("squatstream_banner_ssrf_refusals_total", 'protocol="http"') >= 1,
                     "squatstream_banner_ssrf_refusals_total counted the refusal")

        # 2. Load: 2,000 registered names, half of them on servers that never answer.
        with Nsd({"com": com_zone(records)}) as nsd, Server(squatstreamd, flags + [f"--dns_servers={nsd.server}"]) as s:
            listing = {"domain": INPUT, "enrichers": ["ENRICHER_DNS"], "max_candidates": 4000}
            got, _, code, err, _ = grpcurl_stream(grpcurl, s.address, listing)
            names = sorted(n for n in got if n.endswith(".com") and n.count(".") == 1 and n != INPUT)[:LOAD_NAMES]
            c.expect(code == 0 and len(names) == LOAD_NAMES, f"load: {len(names)} .com candidates to register")
        load = [f"{n[:-4]} IN A {addr['plain'] if i % 2 == 0 else addr['slow']}" for i, n in enumerate(names)]
        with Nsd({"com": com_zone(load)}) as nsd, Server(squatstreamd, flags + [
                f"--dns_servers={nsd.server}", "--banner_probes=http,ssh", "--banner_max_per_address=64",
                "--banner_first_byte_timeout=500ms", "--banner_connect_timeout=500ms"]) as s:
            idle = s.rss_bytes()
            peak = [idle]
            done = threading.Event()

            def sample():
                while not done.wait(0.2):
                    peak[0] = max(peak[0], s.rss_bytes())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t0 = time.monotonic()
            got, progress, code, err, twice = grpcurl_stream(
                grpcurl, s.address, {"domain": INPUT, "registered_only": True, "max_candidates": 4000,
                                     "enrichers": ["ENRICHER_DNS", "ENRICHER_BANNER"]}, max_time=240)
            took = time.monotonic() - t0
            done.set()
            sampler.join()
            registered = {n: r for n, r in got.items() if n in set(names)}
            if code != 0:
                print(f"      grpcurl: {err.strip()[-2000:]}\n      squatstreamd's log ends: {s.log()[-6000:]}", flush=True)
            c.expect(code == 0 and not twice, f"load: the stream ends OK in {took:.1f} s (grpcurl exit {code}"
                     f"{': ' + err.strip()[:300] if err.strip() else ''})")
            c.expect(len(registered) == LOAD_NAMES, f"load: all {len(registered)} registered names streamed")
            ended = [n for n, r in registered.items() if banner_of(r).get("status", {}).get("code", 0) == 0
                     and len(banner_of(r).get("banner", {}).get("http", [])) == 2]
            c.expect(len(ended) == LOAD_NAMES, f"load: every banner lookup ended with its probes ({len(ended)})")
            slow = [banner_of(registered[n]).get("banner", {}).get("http", [{}])[0].get("status", {}).get("code")
                    for i, n in enumerate(names) if i % 2 == 1 and n in registered]
            fast = [banner_of(registered[n]).get("banner", {}).get("http_status")
                    for i, n in enumerate(names) if i % 2 == 0 and n in registered]
            c.expect(slow and all(x == DEADLINE_EXCEEDED for x in slow), "load: the silent half DEADLINE_EXCEEDED")
            odd = [(n, banner_of(registered[n]).get("banner", {}).get("http", [{}])[0].get("status"))
                   for i, n in enumerate(names) if i % 2 == 0 and n in registered
                   and banner_of(registered[n]).get("banner", {}).get("http_status") != 200]
            c.expect(fast and not odd, f"load: the plain half 200 ({len(odd)} not: {odd[:3]})")
            # 1,000 silent names x 3 connections (http, https, ssh), each held ~0.5-1 s, 64 at a time to one address.
            c.expect(took < 150, f"load: within the bound the phases and the caps give ({took:.1f} s < 150 s)")
            c.expect_rss(peak[0] < BUDGET_MB << 20, f"load: peak RSS {peak[0] >> 20} MiB under the {BUDGET_MB} MiB "
                         f"budget (idle {idle >> 20} MiB)")
            # Probes the deadline cut give their slots back as their sockets close: within a moment.
            left = s.metric("squatstream_banner_connections_open")
            for _ in range(50):
                if left == 0:
                    break
                time.sleep(0.1)
                left = s.metric("squatstream_banner_connections_open")
            c.expect(left == 0, f"load: no banner connection left open ({left:.0f})")
    finally:
        stop(peers)
    print(f"real_banners_test: {len(c.failures)} failed, {time.monotonic() - began:.1f} s", flush=True)
    sys.exit(1 if c.failures else 0)


if __name__ == "__main__":
    main()
