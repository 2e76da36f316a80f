"""A scan longer than a minute completes (issue 34: the client's old 1-minute default deadline cut every such scan,
printing a CSV with its header only). squatstreamd's real DNS stage asks a loopback nsd (tests/e2e/tools/nsd.py)
holding a zone per TLD of the candidates, paced at a fixed rate low enough that the scan takes more than 60 s;
the client runs with its defaults (no --deadline).

Asserted: exit 0; the run took more than 60 s; one CSV row per candidate (parsed by Python's csv module), the
registered ones (as the zones hold them) with their addresses; the summary says every candidate was checked, and
no "stopped early".

usage: long_scan_test.py SQUATSTREAMD SQUATSTREAM
Standard library only (Debian's /usr/bin/python3).
"""
import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from nsd import Nsd, registered_zones  # noqa: E402
from squatstreamd import Checks, Server  # noqa: E402

DOMAIN = "example.com"
CANDIDATES = 120
RATE = 3  # DNS queries per second, for the whole server: 120 names (about two queries each) take ~80 s


def registered(name):
    return zlib.crc32(name.encode()) % 5 == 0


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    squatstreamd, client = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("long_scan_test: SIGTERM"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}
    c = Checks()
    # The candidates, as the engine makes them (the client's `names`, no server).
    names = subprocess.run([client, "names", "--format=list", f"--max_candidates={CANDIDATES}", DOMAIN], stdout=subprocess.PIPE, check=True, env=env,
                           timeout=60).stdout.decode().split()
    c.expect(len(names) == CANDIDATES, f"{CANDIDATES} candidates ({len(names)})")
    with Nsd(registered_zones(names, registered)) as nsd:
        flags = ["--stub_enrichers=none", f"--dns_servers={nsd.server}", "--dns_pacing=fixed",
                 f"--dns_rate_limit={RATE}"]
        with Server(squatstreamd, flags) as s:
            started = time.monotonic()
            r = subprocess.run([client, f"--server={s.address}", "--format=csv", "--enrichers=dns",
                                f"--max_candidates={CANDIDATES}", DOMAIN],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=400)
            took = time.monotonic() - started
    err = r.stderr.decode("utf-8", "replace")
    c.expect(r.returncode == 0, f"exit 0 ({r.returncode}; {err.strip()[-400:]})")
    c.expect(took > 60, f"the scan took more than a minute ({took:.0f} s)")
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode("utf-8"))))
    c.expect(sorted(row["domain_ascii"] for row in rows) == sorted(names), f"one row per candidate ({len(rows)})")
    for row in rows:
        want = "registered" if registered(row["domain_ascii"]) else "unregistered"
        if row["verdict"] != want or (want == "registered") != bool(row["addresses"]):
            c.expect(False, f"{row['domain_ascii']}: {want} as the zone says, with its addresses: {row}")
            break
    else:
        c.expect(bool(rows), "every verdict as the zones say, registered names with their addresses")
    m = re.search(r"^squatstream: " + DOMAIN + r": ([\d,]+) records, ([\d,]+) candidates checked in ", err, re.M)
    c.expect(m is not None and int(m.group(1)) == CANDIDATES and int(m.group(2)) == CANDIDATES
             and "stopped early" not in err, f"the summary: every candidate checked: {err.strip()[-300:]!r}")
    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("long_scan_test: all checks passed")


if __name__ == "__main__":
    main()
