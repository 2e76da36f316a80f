"""API keys end to end, as a user meets them: two squatstreamd replicas with --auth=api_key sharing one SQLite
store, keys made with `squatstreamd keys create`, every RPC called with grpcurl (as users call it) by keys of
each scope.

  access_rpc_test.py GRPCURL SQUATSTREAMD SQUATSTREAM

Asserts: a missing, malformed, unknown, expired or revoked key is UNAUTHENTICATED saying which (an unknown key
and a known id with a wrong secret read the same); every RPC answers PERMISSION_DENIED naming the scope it needs
to a key without it, and gets past access with one; health and reflection need no key; a key revoked through
AccessService on one replica is refused by the other within 5 s; quotas: candidates per hour and watches answer
RESOURCE_EXHAUSTED with google.rpc.RetryInfo / QuotaFailure that grpcurl shows, and the CLI says when to retry;
the failures and refusals are counted by reason and quota; no key's secret appears in either server's log, in
the metrics or in any error message. Bounded: every wait has a deadline. Standard library only.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from squatstreamd import Checks, Server, require_tool, wait_for  # noqa: E402

KEY_RE = re.compile(r"sqs_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")
SCAN = "squatstream.v1.EnrichmentService/EnrichDomain"
CLASSIFY = "squatstream.v1.EnrichmentService/ClassifyDomain"
W = "squatstream.v1.WatchService/"
A = "squatstream.v1.AccessService/"
# Every RPC, the scope it needs and a request that gets past access (its own answer may be NOT_FOUND).
CALLS = [
    (SCAN, "scan", {"domain": "example.com", "max_candidates": 3}),
    (CLASSIFY, "classify", {"target": "example.com", "candidate": "examp1e.com"}),
    (W + "ListWatches", "watch:read", {}),
    (W + "GetWatch", "watch:read", {"domain": "nothing-here.example"}),
    (W + "ListObservations", "watch:read", {"watch": "nothing-here.example"}),
    (W + "StreamEvents", "watch:read", {}),
    (W + "CreateWatch", "watch:write", {"domain": "example.org", "settings": {"interval_seconds": 86400}}),
    (W + "UpdateWatch", "watch:write", {"domain": "nothing-here.example", "settings": {"max_candidates": 5},
                                        "update_mask": ["max_candidates"]}),
    (W + "ScanWatchNow", "watch:write", {"domain": "nothing-here.example"}),
    (W + "Annotate", "watch:write", {"watch": "nothing-here.example", "candidate": "examp1e.com",
                                     "triage": "TRIAGE_OWNED"}),
    (W + "DeleteWatch", "watch:write", {"domain": "nothing-here.example"}),
    (A + "ListApiKeys", "admin", {}),
]


class Grpcurl:
    def __init__(self, binary):
        self.binary = binary
        self.outputs = []  # every answer, for the no-secret check

    def call(self, server, method, request, key=None, extra=()):
        cmd = [self.binary, "-plaintext", "-max-time", "20", *extra]
        if key is not None:
            cmd += ["-H", f"authorization: Bearer {key}"]
        cmd += ["-d", json.dumps(request), server.address, method]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.outputs.append((method, r.stdout + r.stderr))
        return r

    @staticmethod
    def code(r):
        m = re.search(r"Code: (\w+)", r.stderr)
        return m.group(1) if m else ("OK" if r.returncode == 0 else "?")

    @staticmethod
    def message(r):
        m = re.search(r"Message: (.*)", r.stderr)
        return m.group(1) if m else ""


def keys_create(squatstreamd, store, name, scopes, *extra):
    r = subprocess.run([squatstreamd, "keys", "create", f"--store={store}", f"--name={name}", f"--scopes={scopes}",
                        *extra], capture_output=True, text=True, timeout=60)
    found = KEY_RE.findall(r.stdout)
    if r.returncode != 0 or len(found) != 1:
        sys.exit(f"keys create {name} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return found[0]


def key_id(key):
    return key.split("_")[1]


def main():
    grpcurl_bin, squatstreamd, cli = sys.argv[1:4]
    require_tool(grpcurl_bin, "grpcurl")
    checks = Checks()
    g = Grpcurl(grpcurl_bin)
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:{tmp}/squatstream.db"
        keys = {scope: keys_create(squatstreamd, store, f"{scope}-key", scope)
                for scope in ("scan", "classify", "watch:read", "watch:write", "admin")}
        quota_key = keys_create(squatstreamd, store, "small", "scan,watch:write,watch:read",
                                "--quota_candidates_per_hour=10", "--quota_watches=1")
        expiring = keys_create(squatstreamd, store, "brief", "scan", "--expires_in=2s")
        secrets = list(keys.values()) + [quota_key, expiring]
        flags = ["--auth=api_key", f"--store={store}", "--watch_min_interval=1m"]
        with Server(squatstreamd, flags) as a, Server(squatstreamd, flags) as b:
            # No key, a malformed one, an unknown one, a known id with a wrong secret.
            r = g.call(a, SCAN, CALLS[0][2])
            checks.expect(g.code(r) == "Unauthenticated" and "authorization: Bearer" in g.message(r),
                          f"no key: Unauthenticated naming the metadata ({g.code(r)}: {g.message(r)})")
            r = g.call(a, SCAN, CALLS[0][2], key="not-a-key-at-all")
            checks.expect(g.code(r) == "Unauthenticated" and "not-a-key-at-all" not in r.stderr
                          and "sqs_" in g.message(r),
                          f"malformed key: Unauthenticated saying the form, not echoing it ({g.message(r)})")
            unknown = "sqs_zzzzzzzz_" + "A" * 43
            wrong_secret = f"sqs_{key_id(keys['scan'])}_" + "B" * 43
            r1, r2 = g.call(a, SCAN, CALLS[0][2], key=unknown), g.call(a, SCAN, CALLS[0][2], key=wrong_secret)
            checks.expect(g.code(r1) == g.code(r2) == "Unauthenticated" and g.message(r1) == g.message(r2),
                          f"an unknown key and a known id with a wrong secret read alike ({g.message(r1)!r})")
            # Health and reflection need no key.
            r = subprocess.run([grpcurl_bin, "-plaintext", a.address, "list"], capture_output=True, text=True,
                               timeout=30)
            checks.expect(r.returncode == 0 and "squatstream.v1.AccessService" in r.stdout,
                          "reflection answers without a key")
            r = g.call(a, "grpc.health.v1.Health/Check", {})
            checks.expect(g.code(r) == "OK" and "SERVING" in r.stdout, "health answers without a key")
            # Every RPC against every scope.
            for method, needed, request in CALLS:
                for scope, key in keys.items():
                    r = g.call(a, method, request, key=key)
                    code = g.code(r)
                    short = method.split("/")[1]
                    if scope == needed:
                        checks.expect(code not in ("Unauthenticated", "PermissionDenied"),
                                      f"{short} with a '{scope}' key gets past access ({code})")
                    else:
                        checks.expect(code == "PermissionDenied" and f"'{needed}'" in g.message(r)
                                      and short in g.message(r),
                                      f"{short} with a '{scope}' key: PermissionDenied naming '{needed}' ({code})")
            # Expiry: the key works, then (its 2 s passed) is refused saying it expired.
            wait_for(lambda: g.code(g.call(a, SCAN, CALLS[0][2], key=expiring)) == "Unauthenticated", 20,
                     "the 2-s key to expire")
            r = g.call(a, SCAN, CALLS[0][2], key=expiring)
            checks.expect("expired" in g.message(r), f"an expired key says so ({g.message(r)})")
            # Revocation through AccessService on replica a, seen by replica b within 5 s.
            victim = keys_create(squatstreamd, store, "victim", "scan")
            secrets.append(victim)
            wait_for(lambda: g.code(g.call(b, SCAN, CALLS[0][2], key=victim)) == "OK", 10,
                     "replica b to accept a key created after it started")
            r = g.call(a, A + "RevokeApiKey", {"id": f"sqs_{key_id(victim)}"}, key=keys["admin"])
            checks.expect(g.code(r) == "OK" and '"revoked"' in r.stdout, f"RevokeApiKey answers the key ({g.code(r)})")
            revoked_at = time.monotonic()
            wait_for(lambda: g.code(g.call(b, SCAN, CALLS[0][2], key=victim)) == "Unauthenticated", 10,
                     "replica b to refuse the revoked key")
            seen = time.monotonic() - revoked_at
            checks.expect(seen <= 5, f"replica b refuses the revoked key {seen:.1f} s after it was revoked (<= 5 s)")
            r = g.call(b, SCAN, CALLS[0][2], key=victim)
            checks.expect("revoked" in g.message(r), f"a revoked key says so ({g.message(r)})")
            # Quotas: 10 candidates per hour, 1 watch.
            r = g.call(a, SCAN, {"domain": "example.com", "max_candidates": 8}, key=quota_key)
            checks.expect(g.code(r) == "OK", f"a scan of 8 within the hourly quota of 10 ({g.code(r)})")
            r = g.call(a, SCAN, {"domain": "example.com", "max_candidates": 8}, key=quota_key)
            checks.expect(g.code(r) == "ResourceExhausted" and "quota" in g.message(r),
                          f"the next scan of 8: ResourceExhausted naming the quota ({g.message(r)})")
            checks.expect("google.rpc.RetryInfo" in r.stderr and "retry_delay" in r.stderr,
                          "grpcurl shows the RetryInfo")
            checks.expect("google.rpc.QuotaFailure" in r.stderr and "candidates per hour" in r.stderr,
                          "grpcurl shows the QuotaFailure naming the quota")
            r = g.call(a, SCAN, {"domain": "example.com", "max_candidates": 50}, key=quota_key)
            checks.expect(g.code(r) == "ResourceExhausted" and "lower max_candidates" in g.message(r),
                          f"a cap above the hourly quota is refused for good ({g.message(r)})")
            with open(f"{tmp}/quota.key", "w") as f:
                f.write(quota_key + "\n")
            c = subprocess.run([cli, f"--server={a.address}", f"--api_key_file={tmp}/quota.key", "--max_candidates=8",
                                "example.com"], capture_output=True, text=True, timeout=60)
            checks.expect(c.returncode != 0 and "retry at" in c.stderr and "quota" in c.stderr,
                          f"the CLI says when to retry ({c.returncode}: {c.stderr.strip()[-160:]})")
            create = lambda d: g.call(a, W + "CreateWatch", {"domain": d, "settings": {"interval_seconds": 86400}},
                                      key=quota_key)
            r1, r2 = create("example.net"), create("example.info")
            checks.expect(g.code(r1) == "OK" and g.code(r2) == "ResourceExhausted" and "may keep 1 watch " in g.message(r2),
                          f"a second watch over the quota of 1: ResourceExhausted ({g.code(r1)}, {g.message(r2)})")
            # The CLI with a key from the environment.
            c = subprocess.run([cli, f"--server={a.address}", "--max_candidates=3", "--format=list", "example.com"],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, SQUATSTREAM_API_KEY=keys["scan"]))
            checks.expect(c.returncode == 0 and len(c.stdout.split()) == 3,
                          f"the CLI streams with SQUATSTREAM_API_KEY ({c.returncode}: {c.stderr.strip()[-120:]})")
            # Counted by reason and quota.
            for reason in ("missing", "malformed", "unknown", "expired", "revoked", "scope"):
                n = a.metric("squatstream_auth_failures_total", f'reason="{reason}"') + \
                    b.metric("squatstream_auth_failures_total", f'reason="{reason}"')
                checks.expect(n >= 1, f"squatstream_auth_failures_total{{reason=\"{reason}\"}} counted ({n:.0f})")
            for quota in ("candidates_per_hour", "watches"):
                n = a.metric("squatstream_quota_refusals_total", f'quota="{quota}"')
                checks.expect(n >= 1, f"squatstream_quota_refusals_total{{quota=\"{quota}\"}} counted ({n:.0f})")
            # No secret anywhere but the creation's own output.
            texts = [("replica a's log", a.log()), ("replica b's log", b.log())]
            for server, name in ((a, "a"), (b, "b")):
                with urllib_open(f"http://127.0.0.1:{server.metrics_port}/metrics") as f:
                    texts.append((f"replica {name}'s metrics", f.read().decode()))
            texts += [(f"the answer of {m}", out) for m, out in g.outputs]
            leaks = [what for what, text in texts for k in secrets if k.split("_", 2)[2] in text]
            checks.expect(not leaks, f"no key's secret in logs, metrics or answers ({sorted(set(leaks))[:3]})")
    print(f"access_rpc_test: {len(checks.failures)} failed")
    sys.exit(1 if checks.failures else 0)


def urllib_open(url):
    import urllib.request
    return urllib.request.urlopen(url, timeout=10)


if __name__ == "__main__":
    main()
