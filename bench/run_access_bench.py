"""What authentication and the quotas cost a whole stream, end to end: squatstreamd's own CPU per stream
(utime + stime from /proc) for the same default scan with --auth=none, with --auth=api_key (in-process limits),
and with --auth=api_key and --redis_address (the quotas on a redis-server), the three servers taking turns in
one run so that the machine's load falls on each alike. Simulated stages (--stub_enrichers=all): the stream's
CPU is the service's own, the least a real stream costs, so the share printed is the largest.

  run_access_bench.py SQUATSTREAMD SQUATSTREAM [--rounds=5] [--streams=10] [--domain=example.com]

Loopback only; the redis-server is started here on a free loopback port (tests/peers/redis.py). Prints a
Markdown table: CPU ms per stream (median of the rounds) and the difference to --auth=none.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e", "tools"))
from squatstreamd import Server  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def start_redis(tmp):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "tests", "peers", "redis.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()
    if not address:
        sys.exit("redis.py printed no address")
    return proc, address


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("squatstreamd")
    ap.add_argument("squatstream")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--streams", type=int, default=10)
    ap.add_argument("--domain", default="example.com")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:{tmp}/keys.db"
        out = subprocess.run([args.squatstreamd, "keys", "create", f"--store={store}", "--name=bench", "--scopes=scan"],
                             capture_output=True, text=True, check=True).stdout
        key = next(w for w in out.split() if w.startswith("sqs_") and w.count("_") >= 2 and len(w) > 40)
        redis, redis_address = start_redis(tmp)
        variants = {
            "--auth=none": [],
            "--auth=api_key": ["--auth=api_key", f"--store={store}"],
            "--auth=api_key, quotas on Redis": ["--auth=api_key", f"--store={store}",
                                                f"--redis_address={redis_address}"],
        }
        servers = {name: Server(args.squatstreamd, flags) for name, flags in variants.items()}
        try:
            for s in servers.values():
                s.__enter__()
            per_stream = {name: [] for name in variants}
            env = dict(os.environ, SQUATSTREAM_API_KEY=key)
            for _ in range(args.rounds):
                for name, server in servers.items():
                    before = cpu_seconds(server.proc.pid)
                    for _ in range(args.streams):
                        subprocess.run([args.squatstream, f"--server={server.address}", "--format=list",
                                        args.domain], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       check=True, timeout=120)
                    per_stream[name].append((cpu_seconds(server.proc.pid) - before) / args.streams)
        finally:
            for s in servers.values():
                s.__exit__(None, None, None)
            redis.stdin.close()  # redis.py stops its server when its stdin closes
            redis.wait(timeout=30)
    base = statistics.median(per_stream["--auth=none"])
    print(f"| server | CPU ms per stream (median of {args.rounds} rounds of {args.streams}) | vs --auth=none |")
    print("|---|---|---|")
    for name, values in per_stream.items():
        m = statistics.median(values)
        print(f"| {name} | {m * 1000:.1f} (rounds: {', '.join(f'{v * 1000:.1f}' for v in values)}) | "
              f"{(m - base) / base * 100:+.1f}% |")


if __name__ == "__main__":
    main()
