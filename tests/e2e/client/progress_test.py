"""squatstream (the client) saying how far a slow, sparse stream is, end to end: the built squatstreamd with its
stages simulated (a stub DNS stage answering in ~200 ms that finds 1% of the names registered, at most 400
lookups in flight: paypal.com's 5,062 candidates take a few seconds, as a real --registered scan's do), and
the client run under a pseudo-terminal, so that it draws its progress bar as a user sees it.

Asserted:
 1. Without --registered the client prints every candidate (N records, JSON lines); its summary line says
    "N records, N candidates checked in S s (R candidates/s, R records/s)" with rates that match N / S.
 2. With --registered: only the registered names come (a few, well under N), and the summary line still says
    all N candidates were checked, with a candidates/s rate that is not 0 when records/s is small.
 3. The progress bar (stderr, the terminal): every line reads "C of T checked, L left, found K" once the total
    is known (T = N, C + L = T) or "C of G+ checked, found K" before; the total is known before half the
    candidates were checked (the server's generator runs ahead to count them); the bar counts candidates
    checked, not records: some line shows more checked than names found; the last line checked every
    candidate.
 4. The server sends the total: the JSON lines' stream ends with progress whose total is N (seen through the
    bar's last line).

usage: progress_test.py SQUATSTREAMD SQUATSTREAM
Standard library only (Debian's /usr/bin/python3).
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from squatstreamd import Checks, Server  # noqa: E402

DOMAIN = "paypal.com"
BAR = re.compile(r"\] ([\d,]+) of ([\d,]+)(\+?) checked(?:, ([\d,]+) left)?, found ([\d,]+)$")
SUMMARY = re.compile(r"squatstream: " + re.escape(DOMAIN) + r": ([\d,]+) records?, ([\d,]+) candidates checked in "
                     r"([\d.]+) s \(([\d.,]+) candidates/s, ([\d.,]+) records/s\), ([\d,]+) batch(?:es)?"
                     r"(?:, first batch after [\d.]+ ms)?$", re.M)


def number(s):
    return float(s.replace(",", ""))


def run_in_terminal(argv, timeout=90):
    """Runs argv with stderr on a pseudo-terminal (the progress bar is drawn only there) and stdout on a pipe.
    Returns (exit code, stdout bytes, what the terminal got as text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out, term = b"", b""
    streams = {proc.stdout.fileno(): "out", master: "term"}
    while streams:
        ready, _, _ = select.select(list(streams), [], [], timeout)
        if not ready:
            proc.kill()
            sys.exit(f"{argv[0]} printed nothing for {timeout} s")
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed (EIO)
                chunk = b""
            if not chunk:
                del streams[fd]
            elif streams[fd] == "out":
                out += chunk
            else:
                term += chunk
    os.close(master)
    # The terminal turns each "\n" into "\r\n"; the client's own "\r" redraws the bar.
    return proc.wait(timeout=timeout), out, term.decode("utf-8", "replace").replace("\r\n", "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    squatstreamd, client = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("progress_test: SIGTERM"))
    c = Checks()
    flags = ["--stub_dns_latency=200ms", "--stub_dns_registered_rate=0.01", "--max_inflight_lookups=400"]
    with Server(squatstreamd, flags) as s:
        base = [client, f"--server={s.address}", "--format=json", "--enrichers=dns", "--deadline=120s"]

        # 1. Every candidate.
        code, out, term = run_in_terminal(base + [DOMAIN])
        c.expect(code == 0, f"squatstream exits 0 ({code}; {term.strip()[-300:]})")
        n = len(out.splitlines())
        c.expect(n > 4000, f"every candidate of {DOMAIN} printed ({n})")
        m = SUMMARY.search(term)
        c.expect(m is not None, f"the summary line says records and candidates per second: {term.strip()[-300:]!r}")
        if m:
            records, checked, seconds = number(m.group(1)), number(m.group(2)), number(m.group(3))
            c.expect(records == n and checked == n, f"{n} records and {n} candidates: {m.group(0)!r}")
            for rate in (number(m.group(4)), number(m.group(5))):
                c.expect(abs(rate - n / seconds) <= 0.01 * n / seconds + 1,
                         f"the rate {rate} is {n} / {seconds} s")

        # 2. Registered only: a few records of the same candidates.
        code, out, term = run_in_terminal(base + ["--registered", DOMAIN])
        c.expect(code == 0, f"squatstream --registered exits 0 ({code}; {term.strip()[-300:]})")
        registered = len(out.splitlines())
        c.expect(0 < registered < n / 20, f"a few registered names ({registered} of {n})")
        m = SUMMARY.search(term)
        c.expect(m is not None, f"--registered: the summary line: {term.strip()[-300:]!r}")
        if m:
            seconds = number(m.group(3))
            c.expect(number(m.group(1)) == registered and number(m.group(2)) == n,
                     f"--registered: {registered} records, {n} candidates checked: {m.group(0)!r}")
            c.expect(seconds > 1, f"a slow stream, as a real scan is ({seconds} s)")
            c.expect(number(m.group(4)) > 10 * number(m.group(5)),
                     f"candidates/s says how fast it went where records/s is small: {m.group(0)!r}")

        # 3. The bar of the --registered run.
        bars = []
        for piece in term.replace("\033[K", "").split("\r"):
            b = BAR.search(piece.strip())
            if b:
                bars.append(b)
        c.expect(len(bars) >= 2, f"the progress bar was drawn ({len(bars)} times)")
        for b in bars:
            checked, of, unknown, left, records = b.groups()
            if unknown:
                c.expect(left is None, f"no count left before the total is known: {b.group(0)!r}")
            else:
                c.expect(number(of) == n and number(checked) + number(left) == n,
                         f"checked + left = total = {n}: {b.group(0)!r}")
        known = [b for b in bars if not b.group(3)]
        c.expect(bool(known) and number(known[0].group(1)) < n / 2,
                 "the total is known before half the candidates were checked: "
                 f"{known[0].group(0) if known else 'never'!r}")
        c.expect(any(number(b.group(1)) > number(b.group(5)) for b in bars),
                 "the bar counts candidates checked, not the names found")
        if bars:
            last = bars[-1]
            c.expect(not last.group(3) and number(last.group(1)) == n and number(last.group(4)) == 0,
                     f"the last line: every candidate checked, none left: {last.group(0)!r}")
    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("progress_test: all checks passed")


if __name__ == "__main__":
    main()
