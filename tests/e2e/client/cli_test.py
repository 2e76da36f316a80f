"""squatstream (the client) as a user meets it (issue 34), end to end against the built squatstreamd on loopback
(simulated stages, or its real DNS stage against a resolver address where nothing answers); never the internet,
never the machine's resolver.

Asserted, each with its exit code and its exact message:
  usage      --help/-h (exit 0, grouped, common flags first, no source paths), --version, squatstreamd's too; an
             unknown flag names the closest, an unknown kind lists the kinds, a bad format, no domain,
             --registered with --unregistered, a negative cap, a bad duration: exit 2; dashed spellings taken
  names      `squatstream names` lists candidates with no server running (list and CSV), a refused domain exit 3
  unreachable  no server at the address: exit 4, one line naming it and how to start it, no summary, no header
  bad input  a batch with a TLD alone: exit 3, the argument by position and value, nothing on stdout
  url        a URL argument reduced to its host, with a note
  csv        parsed by Python's csv module: the columns, one row per candidate, both inputs
  unregistered  only NXDOMAIN names printed
  cap        the cap announced, with and without "raise --max_candidates"
  deadline   --deadline passes mid-stream: exit 5, the records so far written, the summary and the error say so
  idle       the server stops answering (SIGSTOP): --idle_timeout cancels, exit 5
  shutdown   the server drains mid-stream: exit 5, "is shutting down"
  sigint     SIGINT mid-stream (after N records were read): every record received written whole, the summary says
             "interrupted", exit 130
  dns        the server's resolver unreachable: exit 6, "DNS failed for N of N names ... is the server's resolver
             reachable?"
  progress   --registered with no registered name: the bar (under a pseudo-terminal) still moves

usage: cli_test.py SQUATSTREAMD SQUATSTREAM
Standard library only (Debian's /usr/bin/python3). Waits for states (lines read, a process's exit), never a fixed
sleep; every wait bounded.
"""
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, HERE)
from nsd import free_port  # noqa: E402
from progress_test import BAR, run_in_terminal  # noqa: E402
from client_process import Streaming as _Streaming  # noqa: E402
from squatstreamd import Checks, Server, stop, wait_for  # noqa: E402

TIMEOUT = 60  # the most any one client run may take here
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}


def Streaming(argv):
    """The client, watched while it runs (client_process.py), without the caller's SQUATSTREAM_* settings."""
    return _Streaming(argv, env=ENV, timeout=TIMEOUT)


def run(argv, timeout=TIMEOUT, env=None):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env or ENV)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def last_lines(text, n=4):
    return " | ".join(text.strip().splitlines()[-n:])


def summary(err):
    m = re.search(r"^squatstream: .*?: ([\d,]+) records?, ([\d,]+)(?: of ([\d,]+)\+?)? candidates? checked in .*$",
                  err, re.M)
    return m


def number(s):
    return int(s.replace(",", ""))


def usage_tests(c, squatstreamd, client):
    code, out, err = run([client, "--help"])
    c.expect(code == 0, f"--help exits 0 ({code})")
    common, output, advanced = out.find("Common flags:"), out.find("Selection and output:"), out.find(
        "Connection and advanced:")
    c.expect(0 < common < output < advanced, "--help: common flags, then output, then connection and advanced")
    c.expect(re.search(r"Common flags:\n  --format .*\n(.*\n)*  --registered .*\n(.*\n)*  --kinds (.*\n)*  --enrichers "
                       r"(.*\n)*  --max_candidates (.*\n)*  --server ", out) is not None,
             "--help: format, registered, kinds, enrichers, max_candidates, server first")
    c.expect(".cc" not in out and "Exit codes:" in out and "130  interrupted" in out,
             "--help names no source file and lists the exit codes")
    code, out2, _ = run([client, "-h"])
    c.expect(code == 0 and out2 == out, "-h is --help")
    code, out, _ = run([client, "--version"])
    c.expect(code == 0 and re.fullmatch(r"squatstream \d+\.\d+\.\d+ \(commit [0-9a-f]+(\+dirty)?\)\n", out) is not None,
             f"--version: {out!r}")
    code, out, _ = run([squatstreamd, "--help"])
    c.expect(code == 0 and out.find("Common flags:\n  --grpc_address") >= 0 and "The dns stage" in out
             and ".cc" not in out, f"squatstreamd --help: exit 0 ({code}), grouped, stages by name, no source path")
    code, out, _ = run([squatstreamd, "--version"])
    c.expect(code == 0 and re.fullmatch(r"squatstreamd \d+\.\d+\.\d+ \(commit [0-9a-f]+(\+dirty)?\)\n", out)
             is not None, f"squatstreamd --version: {out!r}")
    code, _, err = run([squatstreamd, "--grpc-adress=127.0.0.1:0"])
    c.expect(code == 2 and err == "squatstreamd: unknown flag --grpc_adress (did you mean --grpc_address?) — see "
             "squatstreamd --help\n", f"squatstreamd: a misspelt flag (exit {code}): {err!r}")

    cases = [
        (["--max_candiates=5", "example.com"],
         "squatstream: unknown flag --max_candiates (did you mean --max_candidates?) — see squatstream --help\n"),
        (["--kinds=addition,typo", "example.com"],
         re.compile(r"squatstream: unknown kind \"typo\"; the kinds are: addition, ascii-lookalike, .*tld-swap, .*"
                    r"vowel-swap — see squatstream --help\n")),
        (["--enrichers=dns,rdap", "example.com"],
         "squatstream: unknown enricher \"rdap\"; the enrichers are: banner, dns, geo, whois — see squatstream "
         "--help\n"),
        (["--format=xml", "example.com"], re.compile(r"squatstream: .*xml.* — see squatstream --help\n")),
        ([], "squatstream: give at least one domain, e.g.: squatstream example.com — see squatstream --help\n"),
        (["names"], "squatstream: give at least one domain, e.g.: squatstream names example.com — see squatstream "
         "--help\n"),
        (["--registered", "--unregistered", "example.com"],
         "squatstream: --registered and --unregistered exclude each other: give one — see squatstream --help\n"),
        (["--max-candidates=-1", "example.com"],
         "squatstream: --max_candidates must not be negative — see squatstream --help\n"),
        (["--deadline=soon", "example.com"], re.compile(r"squatstream: bad value for --deadline: .* — see squatstream "
                                                        r"--help\n")),
    ]
    for args, want in cases:
        code, out, err = run([client, "--server=127.0.0.1:1"] + args)
        ok = want.fullmatch(err) is not None if isinstance(want, re.Pattern) else err == want
        c.expect(code == 2 and ok and out == "", f"usage error {args}: exit 2 ({code}), {err!r}")


def names_tests(c, client):
    # No server anywhere: the address points at nothing.
    env = dict(ENV, SQUATSTREAM_SERVER="127.0.0.1:1")
    code, out, err = run([client, "names", "--format=list", "--kinds=TLD_Swap", "--max-candidates=5", "example.com"],
                         env=env)
    lines = out.splitlines()
    c.expect(code == 0 and len(lines) == 5 and all(l.startswith("example.") and l != "example.com" for l in lines)
             and err == "", f"names: 5 tld-swap names with no server (exit {code}): {lines} {err!r}")
    code, out, err = run([client, "names", "--format=csv", "--kinds=addition,omission", "example.com", "paypal.com"],
                         env=env)
    rows = list(csv.DictReader(io.StringIO(out)))
    c.expect(code == 0 and len(rows) > 20 and {r["input"] for r in rows} == {"example.com", "paypal.com"}
             and {r["kind"] for r in rows} <= {"addition", "omission"},
             f"names --format=csv: {len(rows)} rows of both inputs, the kinds asked (exit {code})")
    code, out, err = run([client, "names", "example.com", "com"], env=env)
    c.expect(code == 3 and re.fullmatch(r"squatstream: INVALID_ARGUMENT: argument 2 \(\"com\"\): .* — correct it and "
                                        r"run again\n", err) is not None,
             f"names: a TLD alone refused, exit 3 ({code}): {err!r}")


def unreachable_test(c, client):
    port = free_port()
    address = f"127.0.0.1:{port}"
    code, out, err = run([client, f"--server={address}", "--format=csv", "example.com"])
    c.expect(code == 4, f"no server: exit 4 ({code})")
    c.expect(re.fullmatch(r"squatstream: UNAVAILABLE: cannot reach squatstreamd at " + re.escape(address) +
                          r" \(.+\) — is it running\? start it with: squatstreamd --grpc_address=" +
                          re.escape(address) + "\n", err) is not None, f"no server: one line saying so: {err!r}")
    c.expect(out == "", f"no server: no CSV header ({out!r})")


def stub_server_tests(c, squatstreamd, client):
    with Server(squatstreamd, ["--stub_dns_registered_rate=0.5", "--metrics-address=127.0.0.1:0"]) as s:
        base = [client, f"--server={s.address}"]
        # Bad input in a batch: the argument by position and value.
        code, out, err = run(base + ["--format=csv", "example.com", "com", "paypal.com"])
        c.expect(code == 3 and out == "" and re.fullmatch(
            r"squatstream: INVALID_ARGUMENT: argument 2 \(\"com\"\): .+ — correct it and run again \(see squatstream "
            r"--help\)\n", err) is not None, f"a TLD alone as argument 2: exit 3 ({code}), {err!r}")
        code, out, err = run(base + ["192.0.2.1"])
        c.expect(code == 3 and "argument 1 (\"192.0.2.1\")" in err and "IP address" in err,
                 f"an IP address: the server's message kept, exit 3 ({code}): {err!r}")

        # A URL: its host, with a note.
        code, out, err = run(base + ["--format=list", "--kinds=tld-swap", "--max_candidates=3",
                                     "https://www.example.com/login"])
        c.expect(code == 0 and len(out.splitlines()) == 3 and err.startswith(
            "squatstream: note: https://www.example.com/login is a URL; checking its host www.example.com\n"),
            f"a URL reduced to its host (exit {code}): {err!r}")

        # CSV for analysis.
        code, out, err = run(base + ["--format=csv", "--kinds=tld-swap", "--max_candidates=20", "--enrichers=dns",
                                     "example.com", "paypal.com"])
        reader = csv.DictReader(io.StringIO(out))
        rows = list(reader)
        header = reader.fieldnames or []
        c.expect(code == 0, f"csv: exit 0 ({code}; {last_lines(err)})")
        for column in ("kind", "kinds", "input", "domain_unicode", "domain_ascii", "simulated", "verdict", "addresses",
                       "name_servers", "mail_exchangers"):
            c.expect(column in header, f"csv: a {column} column")
        c.expect(len(rows) == 40 and {r["input"] for r in rows} == {"example.com", "paypal.com"},
                 f"csv: 20 rows per input ({len(rows)})")
        c.expect(all(r["kind"] == "tld-swap" for r in rows), "csv: every kind tld-swap")
        verdicts = {r["verdict"] for r in rows}
        c.expect(len(verdicts) >= 2 and all(v and "*" not in v for v in verdicts),
                 f"csv: the verdict its own column, no simulated mark in it: {verdicts}")
        c.expect(all(r["simulated"] for r in rows), "csv: simulated said in its own column")
        registered = [r for r in rows if r["verdict"].lower() == "registered"]
        c.expect(bool(registered) and all(r["addresses"] for r in registered), "csv: registered rows have addresses")
        m = summary(err)
        c.expect(m is not None and number(m.group(1)) == 40, f"csv: the summary counts 40 records: {last_lines(err)}")

        # --unregistered: NXDOMAIN names only.
        code, out, err = run(base + ["--format=json", "--unregistered", "--kinds=tld-swap", "--max_candidates=40",
                                     "--enrichers=dns", "example.com"])
        verdicts = [next(e["dns"]["verdict"] for e in json.loads(l)["enrichments"] if "dns" in e)
                    for l in out.splitlines()]
        c.expect(code == 0 and 0 < len(verdicts) < 40 and set(verdicts) == {"DNS_VERDICT_UNREGISTERED"},
                 f"--unregistered: only unregistered names ({len(verdicts)} of 40, exit {code})")

        # The cap.
        code, out, err = run(base + ["--format=list", "--max_candidates=20", "--enrichers=dns", "example.com"])
        c.expect(code == 0 and re.search(r"^squatstream: 20 of [\d,]+ candidates checked: the cap \(20 per domain\) "
                                         r"cut the rest; raise --max_candidates \(this server allows up to 100,000\)$",
                                         err, re.M) is not None, f"the cap announced (exit {code}): {last_lines(err)}")
        code, out, err = run(base + ["--format=list", "--kinds=tld-swap", "--max_candidates=3", "example.com"])
        c.expect(code == 0 and "the cap" in err, "a cut at 3 tld-swap names announced too")
        code, out, err = run(base + ["--format=list", "--kinds=omission", "example.com"])
        c.expect(code == 0 and "cap" not in err, f"no cap line when nothing was cut: {last_lines(err)}")

    with Server(squatstreamd, ["--max_candidates=20", "--default_max_candidates=20"]) as s:
        code, out, err = run([client, f"--server={s.address}", "--format=list", "--max_candidates=20", "example.com"])
        c.expect(code == 0 and re.search(r"^squatstream: 20 of more than 20 candidates checked: the cap \(20 per domain, "
                                         r"the most this server allows\) cut the rest$", err, re.M) is not None,
                 f"at the server's limit: no advice to raise it: {last_lines(err)}")


def slow_server_tests(c, squatstreamd, client):
    # ~100 candidates/s: paypal.com's thousands take far longer than any of these runs.
    flags = ["--stub_dns_latency=200ms", "--max_inflight_lookups=20", "--shutdown_grace=1s"]
    with Server(squatstreamd, flags) as s:
        base = [client, f"--server={s.address}", "--format=json", "--enrichers=dns"]

        # --deadline.
        code, out, err = run(base + ["--deadline=2s", "paypal.com"])
        n = len(out.splitlines())
        c.expect(code == 5, f"--deadline: exit 5 ({code}; {last_lines(err)})")
        m = summary(err)
        c.expect(n > 0 and m is not None and number(m.group(1)) == n and m.group(3) is not None,
                 f"--deadline: the {n} records so far written and counted, 'N of M checked': {last_lines(err)}")
        c.expect(re.search(r"; stopped early: the deadline \(--deadline=2s\) passed$", err, re.M) is not None,
                 "--deadline: the summary says why it stopped")
        c.expect(err.rstrip("\n").splitlines()[-1] ==
                 "squatstream: DEADLINE_EXCEEDED: the deadline (--deadline=2s) passed before the scan ended — the "
                 "records above are partial; raise --deadline (0: none)", f"--deadline: the error line: {err!r}")

        # SIGINT after 40 records were read.
        st = Streaming(base + ["paypal.com"])
        read = st.wait_lines(40)
        st.proc.send_signal(signal.SIGINT)
        code, out, err = st.finish()
        lines = out.splitlines()
        c.expect(code == 130, f"SIGINT: exit 130 ({code}; {last_lines(err)})")
        c.expect(read >= 40 and len(lines) >= read, f"SIGINT: nothing read before it lost ({read} then {len(lines)})")
        whole = True
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                whole = False
        c.expect(whole and out.endswith("\n"), "SIGINT: every record written whole")
        m = summary(err)
        c.expect(m is not None and number(m.group(1)) == len(lines),
                 f"SIGINT: the summary counts the {len(lines)} records written: {last_lines(err)}")
        c.expect(re.search(r"; stopped early: interrupted$", err, re.M) is not None and "CANCELLED" not in err,
                 f"SIGINT: the summary says interrupted, no error line: {last_lines(err)}")

        # The server stops answering: the idle timeout.
        st = Streaming(base + ["--idle_timeout=2s", "paypal.com"])
        st.wait_lines(10)
        os.kill(s.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            code, out, err = st.finish(timeout=30)
            took = time.monotonic() - started
        finally:
            os.kill(s.proc.pid, signal.SIGCONT)
        c.expect(code == 5 and took < 20, f"idle: exit 5 within a few seconds ({code}, {took:.1f} s)")
        c.expect(re.search(r"; stopped early: no message for 2s \(--idle_timeout\)$", err, re.M) is not None,
                 f"idle: the summary says why: {last_lines(err)}")
        c.expect(err.rstrip("\n").splitlines()[-1] ==
                 f"squatstream: CANCELLED: no message from squatstreamd at {s.address} for 2s (--idle_timeout) — the "
                 "records above are partial; check the server's log, or raise --idle_timeout", f"idle: {err!r}")

        # The server shuts down mid-stream.
        st = Streaming(base + ["paypal.com"])
        st.wait_lines(10)
        s.stopped = True
        s.proc.send_signal(signal.SIGTERM)
        code, out, err = st.finish()
        c.expect(code == 5 and len(out.splitlines()) >= 10, f"shutdown: exit 5 ({code}; {last_lines(err)})")
        c.expect(re.search(r"; stopped early: the server shut down$", err, re.M) is not None and re.search(
            r"^squatstream: UNAVAILABLE: squatstreamd at .* is shutting down \(.*\) — the records above are partial; "
            r"run again once it is back$", err, re.M) is not None, f"shutdown: said so: {last_lines(err)}")
        stop(s.proc)


def dns_failure_test(c, squatstreamd, client):
    # The real DNS stage, its resolver a loopback port where nothing answers.
    dead = f"127.0.0.1:{free_port()}"
    flags = ["--stub_enrichers=none", f"--dns_servers={dead}", "--dns_timeout=200ms", "--dns_tries=1"]
    with Server(squatstreamd, flags) as s:
        code, out, err = run([client, f"--server={s.address}", "--format=csv", "--enrichers=dns", "--kinds=tld-swap",
                              "--max_candidates=10", "example.com"])
        c.expect(code == 6, f"resolver unreachable: exit 6 ({code}; {last_lines(err)})")
        c.expect(re.search(r"^squatstream: DNS failed for 10 of 10 names \(first: .+\) — is the server's resolver "
                           r"reachable\?$", err, re.M) is not None, f"resolver unreachable: said so: {last_lines(err)}")
        rows = list(csv.DictReader(io.StringIO(out)))
        c.expect(len(rows) == 10, f"resolver unreachable: every record still written ({len(rows)})")


def registered_progress_test(c, squatstreamd, client):
    # No name registered: a --registered stream sends no record at all; the bar moves on the server's progress.
    flags = ["--stub_dns_latency=200ms", "--stub_dns_registered_rate=0", "--max_inflight_lookups=50"]
    with Server(squatstreamd, flags) as s:
        code, out, term = run_in_terminal([client, f"--server={s.address}", "--registered", "--enrichers=dns",
                                           "--max_candidates=1000", "--format=json", "paypal.com"], timeout=TIMEOUT)
        bars = [b for piece in term.replace("\033[K", "").split("\r") if (b := BAR.search(piece.strip()))]
        checked = sorted({number(b.group(1)) for b in bars})
        c.expect(code == 0 and out == b"", f"--registered, nothing registered: exit 0, no record ({code})")
        c.expect(len(checked) >= 3 and checked[-1] == 1000,
                 f"--registered: the bar moved ({len(checked)} distinct counts, last {checked[-1:]})")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    squatstreamd, client = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("cli_test: SIGTERM"))
    c = Checks()
    # CLI_TEST_ONLY=slow_server,dns_failure runs those parts only (while working on one).
    only = [t for t in os.environ.get("CLI_TEST_ONLY", "").split(",") if t]
    tests = [("usage", lambda: usage_tests(c, squatstreamd, client)), ("names", lambda: names_tests(c, client)),
             ("unreachable", lambda: unreachable_test(c, client)),
             ("stub_server", lambda: stub_server_tests(c, squatstreamd, client)),
             ("slow_server", lambda: slow_server_tests(c, squatstreamd, client)),
             ("dns_failure", lambda: dns_failure_test(c, squatstreamd, client)),
             ("registered_progress", lambda: registered_progress_test(c, squatstreamd, client))]
    for name, test in tests:
        if not only or name in only:
            test()
    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("cli_test: all checks passed")


if __name__ == "__main__":
    main()
