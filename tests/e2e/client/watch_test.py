"""`squatstream watch` (issue 28) as a user meets it, end to end against the built squatstreamd on loopback: its store
in SQLite in a temporary folder, simulated stages, a low --watch_min_interval. Each step asserts the exit code and
what is printed:

  usage      `watch` alone (exit 2, the verbs), `watch --help` (exit 0), a flag the verb does not take (exit 2)
  unreachable  no server at the address: exit 4, one line naming it
  add        exit 0; again: ALREADY_EXISTS, exit 3; --every under the server's minimum: exit 3, the minimum named
  list       the watch in the table, in JSON (one Watch per line) and in CSV (parsed)
  scan       exit 0, says when it is due
  follow     `events --follow --format=json` until the BASELINE event arrives (waited for with a deadline), then
             SIGINT: exit 130, stderr gives the id to resume from
  since      `events --since=<that id>` prints nothing (exit 0); the table and CSV print the baseline
  triage     an observed candidate marked malicious (exit 0); an unknown candidate: NOT_FOUND, exit 3
  show       the watch's state and its registered candidates
  rm         exit 0; the list no longer has it; events of the removed watch: NOT_FOUND, exit 3

usage: watch_test.py SQUATSTREAMD SQUATSTREAM
Standard library only (Debian's /usr/bin/python3). Waits for states (a line read, a process's exit), never a fixed
sleep; every wait bounded.
"""
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from nsd import free_port  # noqa: E402
from client_process import Streaming as _Streaming  # noqa: E402
from squatstreamd import Checks, Server, wait_for  # noqa: E402

TIMEOUT = 60  # the most any one client run may take here
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}
DOMAIN = "example.com"


def Streaming(argv):
    """The client, watched while it runs (client_process.py), without the caller's SQUATSTREAM_* settings."""
    return _Streaming(argv, env=ENV, timeout=TIMEOUT)


def run(argv, timeout=TIMEOUT):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=ENV)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def one_line(text):
    return " | ".join(text.strip().splitlines()[-3:])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    squatstreamd, client = sys.argv[1:3]
    c = Checks()
    w = [client, "watch"]

    # Usage: no server needed.
    code, out, err = run(w)
    c.expect(code == 2 and out == "" and "Verbs:" in err and "give a verb (add, list, scan, rm, events, triage, show)"
             in err, f"`watch` alone: exit 2 and the verbs on stderr ({code}: {one_line(err)})")
    code, out, err = run(w + ["--help"])
    c.expect(code == 0 and "Usage: squatstream watch VERB" in out and "--webhook_secret=SECRET" in out
             and "Exit codes:" in out, f"`watch --help`: exit 0, the verbs and flags on stdout ({code})")
    code, out, err = run(w + ["list", "--every=1h"])
    c.expect(code == 2 and err.startswith("squatstream: --every does not apply to `watch list`; its flags are: "),
             f"a flag the verb does not take: exit 2 ({code}: {one_line(err)})")
    code, out, err = run(w + ["add", DOMAIN, "--every=6x"])
    c.expect(code == 2 and "bad duration \"6x\" for --every" in err, f"a bad duration: exit 2 ({code}: {one_line(err)})")
    port = free_port()
    code, out, err = run(w + ["list", f"--server=127.0.0.1:{port}"])
    c.expect(code == 4 and out == "" and err.startswith(f"squatstream: UNAVAILABLE: cannot reach squatstreamd at "
                                                        f"127.0.0.1:{port}") and len(err.strip().splitlines()) == 1,
             f"no server: exit 4, one line ({code}: {one_line(err)})")

    tmp = tempfile.mkdtemp(prefix="squatstream-watch-cli-")
    try:
        flags = [f"--store=sqlite:{os.path.join(tmp, 'db')}", "--watch_min_interval=1m", "--watch_confirmations=1"]
        with Server(squatstreamd, flags) as server:
            s = [f"--server={server.address}"]

            # add, add again, add under the minimum.
            code, out, err = run(w + ["add", DOMAIN, "--every=1h", "--kinds=omission,tld-swap"] + s)
            c.expect(code == 0 and out.startswith(f"watching {DOMAIN} every 1h; first scan due"),
                     f"add: exit 0 ({code}: {one_line(out + err)})")
            code, out, err = run(w + ["add", DOMAIN] + s)
            c.expect(code == 3 and out == "" and err.startswith("squatstream: ALREADY_EXISTS: ")
                     and f"squatstream watch show {DOMAIN}" in err, f"add again: ALREADY_EXISTS, exit 3 ({code}: "
                                                                  f"{one_line(err)})")
            code, out, err = run(w + ["add", "example.org", "--every=30s"] + s)
            c.expect(code == 3 and err.startswith("squatstream: INVALID_ARGUMENT: ") and re.search(r"\b1m\b", err)
                     is not None, f"--every under the minimum: exit 3, the minimum named ({code}: {one_line(err)})")

            # list: table, JSON, CSV.
            code, out, err = run(w + ["list"] + s)
            rows = out.splitlines()
            c.expect(code == 0 and len(rows) == 2 and rows[0].startswith("DOMAIN") and "WEBHOOK" in rows[0]
                     and rows[1].startswith(DOMAIN) and " 1h " in rows[1],
                     f"list: the table has the watch ({code}: {one_line(out + err)})")
            code, out, err = run(w + ["list", "--format=json"] + s)
            watches = [json.loads(line) for line in out.splitlines()]
            c.expect(code == 0 and [x.get("domain") for x in watches] == [DOMAIN]
                     and int(watches[0].get("settings", {}).get("interval_seconds", 0)) == 3600,
                     f"list --format=json: one Watch per line ({code}: {one_line(out + err)})")
            code, out, err = run(w + ["list", "--format=csv"] + s)
            table = list(csv.DictReader(io.StringIO(out)))
            c.expect(code == 0 and len(table) == 1 and table[0]["domain"] == DOMAIN and table[0]["every_seconds"] ==
                     "3600" and table[0]["webhook"] == "false", f"list --format=csv parses ({code}: {one_line(out)})")

            # scan: due now.
            code, out, err = run(w + ["scan", DOMAIN] + s)
            c.expect(code == 0 and out.startswith(f"{DOMAIN}: scan due"), f"scan: exit 0, when it is due ({code}: "
                                                                          f"{one_line(out + err)})")

            # events --follow until the baseline arrives, then Ctrl-C.
            follow = Streaming(w + ["events", DOMAIN, "--follow", "--format=json"] + s)

            def baseline():
                for line in list(follow.lines):
                    event = json.loads(line)
                    if event.get("type") == "EVENT_TYPE_BASELINE":
                        return event
                return None

            event = wait_for(lambda: baseline() or follow.proc.poll() is not None, TIMEOUT, "the BASELINE event")
            c.expect(isinstance(event, dict), f"events --follow: the BASELINE event arrives as a JSON line "
                                              f"({''.join(follow.lines)[:300]!r})")
            baseline_id = int(event["id"]) if isinstance(event, dict) else 0
            if follow.proc.poll() is None:
                follow.proc.send_signal(signal.SIGINT)
            code, out, err = follow.finish()
            last_id = max((int(json.loads(line)["id"]) for line in out.splitlines()), default=0)
            c.expect(code == 130 and f"--since={last_id} --follow" in err and last_id >= baseline_id > 0,
                     f"events --follow: SIGINT exits 130 and names the id to resume from ({code}: {one_line(err)})")
            registered = int(event.get("baseline", {}).get("registered", 0)) if isinstance(event, dict) else 0

            # --since: nothing new; the table and the CSV.
            code, out, err = run(w + ["events", DOMAIN, f"--since={last_id}"] + s)
            c.expect(code == 0 and out == "", f"events --since={last_id}: nothing new, exit 0 ({code}: {out[:200]!r})")
            code, out, err = run(w + ["events", DOMAIN] + s)
            rows = out.splitlines()
            c.expect(code == 0 and rows and rows[0].startswith("ID") and "CHANGED" in rows[0]
                     and any(re.match(rf"{baseline_id}\s+\S+Z\s+{re.escape(DOMAIN)}\s+baseline\s+-\s+-\s+[\d,]+ "
                                      r"candidates, [\d,]+ registered, [\d,]+ unknown$", r) for r in rows[1:])
                     and f"resume with: squatstream watch events {DOMAIN} --since=" in err,
                     f"events: the table with the baseline ({code}: {one_line(out)})")
            code, out, err = run(w + ["events", "--format=csv"] + s)
            table = list(csv.DictReader(io.StringIO(out)))
            c.expect(code == 0 and any(r["type"] == "baseline" and r["id"] == str(baseline_id) and r["watch"] == DOMAIN
                                       and r["baseline_candidates"] != "" for r in table),
                     f"events --format=csv (every watch): the baseline row ({code}: {one_line(out)})")

            # show, then triage a candidate it observed.
            code, out, err = run(w + ["show", DOMAIN] + s)
            c.expect(code == 0 and re.search(rf"^watch\s+{re.escape(DOMAIN)}$", out, re.M) is not None
                     and re.search(r"^baseline\s+yes$", out, re.M) is not None,
                     f"show: the watch's state ({code}: {one_line(out + err)})")
            candidates = out[out.find("\nCANDIDATE "):] if "\nCANDIDATE " in out else ""
            shown = re.findall(r"^(\S+)\s+\S+\s+(?:registered|wildcard)\b", candidates, re.M)
            c.expect(len(shown) == registered, f"show: the {registered} registered candidates listed ({len(shown)})")
            code, names, _ = run([client, "names", "--format=list", "--kinds=omission", DOMAIN])
            candidate = shown[0] if shown else names.split()[0]
            code, out, err = run(w + ["triage", DOMAIN, candidate, "malicious", "--note=phishing kit"] + s)
            c.expect(code == 0 and out.startswith(f"{DOMAIN}: {candidate} is malicious (its events keep coming); note: "
                                                  f"phishing kit"), f"triage: exit 0 ({code}: {one_line(out + err)})")
            code, out, err = run(w + ["triage", DOMAIN, "not-a-candidate-of-it.net", "owned"] + s)
            c.expect(code == 3 and err.startswith("squatstream: NOT_FOUND: "),
                     f"triage of an unknown candidate: NOT_FOUND, exit 3 ({code}: {one_line(err)})")

            # rm; then it is gone.
            code, out, err = run(w + ["rm", DOMAIN] + s)
            c.expect(code == 0 and out.startswith(f"{DOMAIN}: no longer watched"), f"rm: exit 0 ({code}: "
                                                                                   f"{one_line(out + err)})")
            code, out, err = run(w + ["list"] + s)
            c.expect(code == 0 and out == "" and "no watches" in err, f"list after rm: none ({code}: {one_line(out)})")
            code, out, err = run(w + ["events", DOMAIN] + s)
            c.expect(code == 3 and out == "" and err.startswith("squatstream: NOT_FOUND: ")
                     and "squatstream watch list" in err,
                     f"events of an unknown watch: NOT_FOUND, exit 3 ({code}: {one_line(err)})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("all watch CLI checks passed")


if __name__ == "__main__":
    main()
