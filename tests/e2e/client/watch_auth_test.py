"""The `watch` verbs against a squatstreamd with --auth=api_key (issue 29): they take the client's connection
flags (client/channel.h) like the scan does. A key made with `squatstreamd keys create --scopes=watch:read` in a
SQLite store in a temporary folder; then:

  key file   `watch list --api_key_file=FILE`: exit 0; the flag before the verb and `watch` (`squatstream
             --api_key_file FILE watch list`) too
  env        $SQUATSTREAM_API_KEY, no flag: exit 0
  no key     UNAUTHENTICATED, exit 1, one line saying how to pass a key (--api_key_file, SQUATSTREAM_API_KEY)
  scope      `watch add` with the watch:read key: PERMISSION_DENIED naming the scope, exit 3
  bad file   --api_key_file naming no file: exit 2, the flag named; --tls=maybe: exit 2
  secret     the key is in no output of any of these runs

usage: watch_auth_test.py SQUATSTREAMD SQUATSTREAM
Standard library only (Debian's /usr/bin/python3). Waits for states (the server's start line, each process's
exit), never a fixed sleep; every wait bounded.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from squatstreamd import Checks, Server  # noqa: E402

TIMEOUT = 60  # the most any one client run may take here
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}
KEY_RE = re.compile(r"sqs_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")


def run(argv, env=None):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TIMEOUT, env=env or ENV)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def one_line(text):
    return " | ".join(text.strip().splitlines()[-3:])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    squatstreamd, client = sys.argv[1:3]
    c = Checks()
    outputs = []
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:{tmp}/squatstream.db"
        r = subprocess.run([squatstreamd, "keys", "create", f"--store={store}", "--name=watcher",
                            "--scopes=watch:read"], capture_output=True, text=True, timeout=60)
        found = KEY_RE.findall(r.stdout)
        if r.returncode != 0 or len(found) != 1:
            sys.exit(f"keys create failed ({r.returncode}): {r.stderr}")
        key = found[0]
        key_file = os.path.join(tmp, "key")
        with open(key_file, "w") as f:
            f.write(key + "\n")
        with Server(squatstreamd, ["--auth=api_key", f"--store={store}"]) as s:
            w = [client, "watch"]
            server = f"--server={s.address}"

            code, out, err = run(w + ["list", server, f"--api_key_file={key_file}"])
            outputs.append(out + err)
            c.expect(code == 0, f"`watch list --api_key_file=FILE`: exit 0 ({code}: {one_line(err)})")
            code, out, err = run([client, "--api_key_file", key_file, "watch", "list", server])
            outputs.append(out + err)
            c.expect(code == 0, f"`squatstream --api_key_file FILE watch list`: exit 0 ({code}: {one_line(err)})")
            code, out, err = run(w + ["list", server], env=dict(ENV, SQUATSTREAM_API_KEY=key))
            outputs.append(out + err)
            c.expect(code == 0, f"$SQUATSTREAM_API_KEY without the flag: exit 0 ({code}: {one_line(err)})")

            code, out, err = run(w + ["list", server])
            outputs.append(out + err)
            c.expect(code == 1 and out == "" and err.startswith("squatstream: UNAUTHENTICATED: ")
                     and "--api_key_file=FILE" in err and "SQUATSTREAM_API_KEY" in err
                     and len(err.strip().splitlines()) == 1,
                     f"no key: UNAUTHENTICATED, exit 1, one line saying how to pass one ({code}: {one_line(err)})")
            code, out, err = run(w + ["add", "example.com", server, f"--api_key_file={key_file}"])
            outputs.append(out + err)
            c.expect(code == 3 and "PERMISSION_DENIED" in err and "watch:write" in err,
                     f"a watch:read key adding a watch: PERMISSION_DENIED naming the scope, exit 3 "
                     f"({code}: {one_line(err)})")

            missing = os.path.join(tmp, "no-such-key")
            code, out, err = run(w + ["list", server, f"--api_key_file={missing}"])
            outputs.append(out + err)
            c.expect(code == 2 and f"--api_key_file={missing}: cannot be read" in err,
                     f"an unreadable key file: exit 2 naming the flag ({code}: {one_line(err)})")
            code, out, err = run(w + ["list", server, "--tls=maybe"])
            c.expect(code == 2 and "bad value for --tls" in err, f"--tls=maybe: exit 2 ({code}: {one_line(err)})")
    c.expect(all(key not in o for o in outputs), "the key is in no output")
    if c.failures:
        sys.exit(f"{len(c.failures)} check(s) failed")
    print("all watch auth checks passed")


if __name__ == "__main__":
    main()
