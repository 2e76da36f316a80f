#!/usr/bin/python3
"""`squatstreamd keys create|list|revoke` as an administrator meets it, against a temporary SQLite store and a
throw-away PostgreSQL cluster (tests/peers/postgres.py; skipped with a line when PostgreSQL is not installed):
the key printed once with a line saying it will not be shown again, never in list output (table or json), never
in the database files in clear (the SQLite file and its WAL are read as bytes), its hash not listed; revoke
confirms, a second revoke keeps the first time; usage errors exit 2 naming the fault (bad scope, unknown verb or
flag, missing name, bad duration or quota), store errors exit 1 with the store's message; SQUATSTREAM_STORE is
read as the server reads it.

usage: keys_cli_test.py SQUATSTREAMD [POSTGRES_PY]
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

KEY_RE = re.compile(r"sqs_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def run(binary, args, env_store=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}
    if env_store is not None:
        env["SQUATSTREAM_STORE"] = env_store
    p = subprocess.run([binary, "keys"] + args, env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def exercise(binary, store, files=None):
    """create/list/revoke against `store`; `files`: the database files to read for the secret (SQLite)."""
    label = store.split(":")[0]
    rc, out, err = run(binary, ["create", "--store=" + store, "--name=ci pipeline", "--scopes=scan,watch:read",
                                "--expires_in=90d", "--quota_candidates_per_hour=100000",
                                "--quota_concurrent_streams=4", "--quota_watches=10"])
    check(rc == 0, f"{label}: create exits 0 (got {rc}: {err})")
    keys = KEY_RE.findall(out)
    check(len(keys) == 1, f"{label}: the key is printed once (found {len(keys)})")
    if not keys:
        return
    key_id, secret = keys[0]
    key = f"sqs_{key_id}_{secret}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    check("will not be shown again" in out, f"{label}: create says the key will not be shown again")
    check(out.count(secret) == 1, f"{label}: the secret appears once in create's output")
    check(f"id:       {key_id}" in out and "scan,watch:read" in out, f"{label}: create shows the id and scopes")
    check(secret not in err, f"{label}: no secret on stderr")

    rc2, out2, _ = run(binary, ["create", "--store=" + store, "--name=admin", "--scopes=admin"])
    check(rc2 == 0, f"{label}: a second key")
    second_id = KEY_RE.findall(out2)[0][0] if KEY_RE.findall(out2) else ""

    rc, table, err = run(binary, ["list", "--store=" + store])
    check(rc == 0, f"{label}: list exits 0 ({err})")
    check(key_id in table and "ci pipeline" in table and second_id in table, f"{label}: list shows both keys")
    check("candidates_per_hour=100000" in table and "watches=10" in table, f"{label}: list shows the quotas")
    check(secret not in table and digest not in table, f"{label}: list shows neither the secret nor the hash")
    rc, js, err = run(binary, ["list", "--store=" + store, "--format=json"])
    check(rc == 0, f"{label}: list --format=json exits 0 ({err})")
    try:
        rows = json.loads(js)
    except ValueError as e:
        rows = []
        check(False, f"{label}: list --format=json is JSON ({e})")
    check([r["id"] for r in rows] == [key_id, second_id], f"{label}: json lists the keys by creation")
    if rows:
        r = rows[0]
        check(r["name"] == "ci pipeline" and r["scopes"] == "scan,watch:read" and r["revoked"] is None
              and r["expires"] is not None and r["quota_concurrent_streams"] == 4, f"{label}: json fields: {r}")
        check("hash" not in r, f"{label}: json has no hash")
    check(secret not in js and digest not in js, f"{label}: json shows neither the secret nor the hash")

    if files:
        blob = b"".join(open(f, "rb").read() for f in files if os.path.exists(f))
        check(secret.encode() not in blob and key.encode() not in blob, f"{label}: the secret is not in the file")
        check(digest.encode() in blob, f"{label}: the hash is what the file holds")

    rc, out, err = run(binary, ["revoke", key_id, "--store=" + store])
    check(rc == 0 and "revoked at" in out and key_id in out, f"{label}: revoke confirms ({rc}: {out} {err})")
    rc, out, err = run(binary, ["revoke", "sqs_" + key_id, "--store=" + store])
    check(rc == 0 and "revoked already" in out, f"{label}: a second revoke says so ({out})")
    rc, out, err = run(binary, ["revoke", key, "--store=" + store])  # the whole key pasted: its id, not echoed
    check(rc == 0 and secret not in out + err, f"{label}: revoke with the whole key pasted never echoes it")
    rc, table, _ = run(binary, ["list", "--store=" + store, "--format=json"])
    revoked = [r for r in json.loads(table) if r["id"] == key_id]
    check(revoked and revoked[0]["revoked"] is not None, f"{label}: list shows the revocation")
    rc, out, err = run(binary, ["revoke", "zzzzzzzz", "--store=" + store])
    check(rc == 1 and "zzzzzzzz" in err, f"{label}: revoking an unknown id exits 1 naming it ({rc}: {err})")


def usage_errors(binary, store):
    cases = [
        (["create", "--store=" + store, "--name=x", "--scopes=scan,bogus"], "unknown scope 'bogus'"),
        (["create", "--store=" + store, "--name=x"], "--scopes: required"),
        (["create", "--store=" + store, "--scopes=scan"], "--name: required"),
        (["create", "--store=" + store, "--name=x", "--scopes=scan", "--expires_in=soon"], "--expires_in=soon"),
        (["create", "--store=" + store, "--name=x", "--scopes=scan", "--quota_watches=-1"], "--quota_watches: -1 is not a quota"),
        (["create", "--store=" + store, "--name=x", "--scopes=scan", "--format=json"], "unknown flag --format"),
        (["list", "--store=" + store, "--formt=json"], "did you mean --format?"),
        (["list", "--store=" + store, "--format=yaml"], "--format=yaml"),
        (["list", "--grpc_address=127.0.0.1:1"], "unknown flag --grpc_address"),
        (["frob"], "unknown verb \"frob\""),
        ([], "give a verb"),
        (["revoke", "--store=" + store], "give the id"),
        (["revoke", "NOT-AN-ID", "--store=" + store], "8 lowercase letters or digits"),
    ]
    for args, expected in cases:
        rc, out, err = run(binary, args)
        check(rc == 2, f"usage {args}: exit 2 (got {rc}: {err})")
        check(expected in err, f"usage {args}: stderr names the fault ({expected!r} not in {err!r})")
    rc, out, _ = run(binary, ["create", "--help"])
    check(rc == 0 and "--scopes" in out, "keys create --help exits 0 and lists --scopes")


def main():
    binary = os.path.abspath(sys.argv[1])
    postgres_py = sys.argv[2] if len(sys.argv) > 2 else ""
    tmp = tempfile.mkdtemp(prefix="squatstream-keys-cli-")
    try:
        db = os.path.join(tmp, "store.db")
        store = "sqlite:" + db
        exercise(binary, store, files=[db, db + "-wal"])
        usage_errors(binary, store)
        # The store as the server reads it: SQUATSTREAM_STORE, and --store_file.
        rc, out, err = run(binary, ["list"], env_store=store)
        check(rc == 0 and "ci pipeline" in out, f"SQUATSTREAM_STORE is read ({rc}: {err})")
        store_file = os.path.join(tmp, "store-spec")
        with open(store_file, "w") as f:
            f.write(store + "\n")
        rc, out, err = run(binary, ["list", "--store_file=" + store_file], env_store="none")
        check(rc == 0 and "ci pipeline" in out, f"--store_file is read and wins ({rc}: {err})")
        rc, out, err = run(binary, ["list"], env_store="none")
        check(rc == 1 and "\"none\"" in err, f"no store: exit 1 saying so ({rc}: {err})")
        rc, out, err = run(binary, ["list", "--store=sqlite:/proc/squatstream-no/store.db"])
        check(rc == 1 and "/proc/squatstream-no" in err, f"an unusable store: exit 1 with its message ({err})")

        if postgres_py and glob.glob("/usr/lib/postgresql/*/bin/initdb"):
            peer = subprocess.Popen(["/usr/bin/python3", postgres_py], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            try:
                dsn = peer.stdout.readline().strip()
                check(dsn.startswith("postgresql://"), f"the PostgreSQL peer started ({dsn!r})")
                if dsn.startswith("postgresql://"):
                    exercise(binary, dsn)
            finally:
                peer.stdin.close()
                peer.wait(timeout=60)
        else:
            print("PostgreSQL not installed: its part skipped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
