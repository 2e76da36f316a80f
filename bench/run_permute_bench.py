#!/usr/bin/env python3
"""Runs the permutation-engine benchmark beside the two peers users compare it with, in one run: twistrs (the
Rust engine behind Have I Been Squatted; bench/peers/twistrs, twistrs 1.x from crates.io, pinned by its
Cargo.lock) and dnstwist (upstream's PyPI release from .tools/dnstwist, and Debian 12's package). Keeps the
JSON and writes the tables into docs/BENCHMARKS.md between its PERMUTE markers: names/s for each engine and
the ratios, and the overlap of the name sets per domain and per twistrs kind.

Each engine is timed in-process, without its start-up: squatstream's Generator drained through Next();
twistrs' `Domain::visit_all` (its fastest API) walked into a hash set of distinct names, the deduplication
squatstream's figure includes (the bare walk, duplicates and all, is in the JSON too); dnstwist's
Fuzzer.generate() (what `--format list` runs: permute, IDNA-encode, validate, deduplicate). Nothing here
touches the network: none of the three resolves a name in these modes.

Needs: the dev build (`cmake --build --preset dev --target permute_bench`), scripts/install-deps.sh (upstream
dnstwist), and cargo (rustup's; Debian 12's cargo is too old for the lock file) with the peer's crates fetched
(`cargo fetch --locked --manifest-path bench/peers/twistrs/Cargo.toml`, done by install-deps.sh when cargo is
present); the peer is built here with --offline.

usage: bench/run_permute_bench.py [path/to/permute_bench]   (default build/dev/bench/permute_bench)
Interpreter: any Python 3.9+ (standard library only; dnstwist runs in its own interpreters).
"""
import collections
import json
import os
import re
import subprocess
import sys
import time

import benchmarks_doc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/dev/bench/permute_bench")
OUT = os.path.join(ROOT, "docs/bench")
# (name asked, name benchmarked): github.io is itself a public suffix, so a name under it is benchmarked.
DOMAINS = [("example.com", "example.com"), ("google.com", "google.com"), ("paypal.com", "paypal.com"),
           ("github.io", "octocat.github.io"), ("xn--80ak6aa92e.com", "xn--80ak6aa92e.com"),
           ("internationalbusinessmachines.com", "internationalbusinessmachines.com")]
SHORT = {"example.com", "google.com", "paypal.com", "octocat.github.io", "xn--80ak6aa92e.com"}

DNSTWIST_TIMER = r"""
import collections, json, sys, time
sys.argv = ['dnstwist']
import dnstwist
domain = SYS_DOMAIN
f = dnstwist.Fuzzer(domain)
t0 = time.perf_counter()
f.generate()
seconds = time.perf_counter() - t0
names = [p for p in f.domains if p['fuzzer'] != '*original']
kinds = collections.Counter(p['fuzzer'] for p in names)
print(json.dumps({'seconds': seconds, 'names': len(names), 'kinds': kinds}))
"""


DNSTWISTS = {  # label: the interpreter that imports it
    "upstream": os.path.join(ROOT, ".tools/dnstwist/bin/python"),
    "Debian": "/usr/bin/python3",
}
TWISTRS_DIR = os.path.join(ROOT, "bench/peers/twistrs")
TWISTRS = os.path.join(TWISTRS_DIR, "target/release/twistrs-peer")


def dnstwist(which, domain):
    code = DNSTWIST_TIMER.replace("SYS_DOMAIN", repr(domain))
    out = subprocess.run([DNSTWISTS[which], "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def dnstwist_names(which, domain):
    code = ("import sys; sys.argv = ['dnstwist']\nimport dnstwist\n"
            f"f = dnstwist.Fuzzer({domain!r}); f.generate()\n"
            "print('\\n'.join(p['domain'] for p in f.domains if p['fuzzer'] != '*original'))")
    out = subprocess.run([DNSTWISTS[which], "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def twistrs(domain):
    """twistrs' best of 3 for `domain`, or None where twistrs refuses the domain."""
    r = subprocess.run([TWISTRS, "--rounds=3", domain], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None


def twistrs_names(domain):
    """{name: set of twistrs kinds} for `domain` ({} where twistrs refuses it)."""
    r = subprocess.run([TWISTRS, "--list", domain], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines() if r.returncode == 0 else []:
        name, kinds = line.split("\t")
        out[name] = set(kinds.split(","))
    return out


def our_names(domain):
    """([(ascii, unicode, kinds)] for every candidate, {either form: kinds})."""
    text = subprocess.run([BIN, f"--list={domain}"], check=True, capture_output=True, text=True).stdout
    candidates = []
    for line in text.splitlines():
        ascii_name, unicode_name, kinds = line.split("\t")
        candidates.append((ascii_name, unicode_name, set(kinds.split(","))))
    by_name = {n: k for a, u, k in candidates for n in (a, u)}
    return candidates, by_name


ROUNDS = 3  # the rates in the first table are each engine's best of this many interleaved rounds


def run_ours(extra_args, out_path):
    subprocess.run([BIN, "--benchmark_format=json", f"--benchmark_out={out_path}", "--benchmark_out_format=json",
                    "--benchmark_min_time=0.2"] + extra_args, check=True, stdout=subprocess.DEVNULL)
    return {b["name"]: b for b in json.load(open(out_path))["benchmarks"]}


def rate(names, seconds):
    return names / seconds if seconds > 0 else 0.0


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "--offline", "--quiet", "--manifest-path",
                    os.path.join(TWISTRS_DIR, "Cargo.toml")], check=True)
    os.makedirs(OUT, exist_ok=True)
    raw = os.path.join(OUT, "permute.json")
    # This VM's speed drifts by up to 2x within minutes, so the engines take turns: a round runs
    # squatstream's whole-set and first-candidate benchmarks, then each peer on every domain; each engine
    # keeps its best rate (and squatstream its fastest first candidate) over the rounds.
    best, theirs, tw = {}, {w: {} for w in DNSTWISTS}, {}
    rounds_path = os.path.join(OUT, "permute_rounds.json")
    for r in range(ROUNDS):
        for name, b in run_ours(["--benchmark_filter=/all$|First"], rounds_path).items():
            key = "names_per_second" if name.startswith("BM_Generate/") else None
            if name not in best or (b[key] > best[name][key] if key else b["real_time"] < best[name]["real_time"]):
                best[name] = b
        for asked, _ in DOMAINS:
            for which in DNSTWISTS:
                t = dnstwist(which, asked)
                if asked not in theirs[which] or t["seconds"] < theirs[which][asked]["seconds"]:
                    theirs[which][asked] = t
            t = twistrs(asked)
            if t is not None and (asked not in tw or t["seconds_distinct"] < tw[asked]["seconds_distinct"]):
                tw[asked] = t
            print(f"round {r + 1}: {asked}: dnstwist {theirs['upstream'][asked]['names']} names, twistrs "
                  f"{tw[asked]['distinct'] if asked in tw else 'refuses'}", flush=True)
    os.remove(rounds_path)
    ours = run_ours([], raw)  # every kind alone too, for the per-kind table (one run)
    ours.update(best)
    json.dump({"twistrs": tw, "dnstwist": theirs}, open(os.path.join(OUT, "permute_peers.json"), "w"), indent=1)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    date = time.strftime("%Y-%m-%d")
    lines = [f"Machine: {cpu}, {os.cpu_count()} cores; {date}; one run of `bench/run_permute_bench.py`: "
             f"`{os.path.relpath(BIN, ROOT)}` (dev preset, RelWithDebInfo), twistrs {twistrs_version()} "
             f"(bench/peers/twistrs, release), dnstwist {dnstwist_version('upstream')} (PyPI) and "
             f"{dnstwist_version('Debian')} (Debian), each engine's best of {ROUNDS} interleaved rounds "
             "(twistrs: best of 3 more inside each). Every engine on its default kinds; names are distinct "
             "names, the input excluded.", "",
             "| domain | squatstream names | squatstream names/s | first candidate | twistrs names | twistrs "
             "names/s | dnstwist names | dnstwist names/s | Debian dnstwist names/s | vs twistrs | vs dnstwist |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for asked, bench in DOMAINS:
        g = ours[f"BM_Generate/{bench}/all"]
        first = ours[f"BM_FirstCandidate/{bench}"]
        up, deb = theirs["upstream"][asked], theirs["Debian"][asked]
        rate_up, rate_deb = rate(up["names"], up["seconds"]), rate(deb["names"], deb["seconds"])
        if asked in tw:
            t = tw[asked]
            rate_tw = rate(t["distinct"], t["seconds_distinct"])
            tw_cells = f"{t['distinct']} | {rate_tw / 1e6:.2f}M"
            vs_tw = f"{g['names_per_second'] / rate_tw:.1f}×"
        else:
            tw_cells, vs_tw = "refuses | –", "–"
        lines.append(f"| {bench} | {g['names']:.0f} | {g['names_per_second'] / 1e6:.2f}M | {first['real_time']:.0f} µs "
                     f"| {tw_cells} | {up['names']} | {rate_up / 1e3:.1f}k | {rate_deb / 1e3:.1f}k | {vs_tw} | "
                     f"{g['names_per_second'] / rate_up:.0f}× |")
    lines += ["", "twistrs without deduplication (its bare `visit_all` walk, every emitted name counted, duplicates "
              "included): " + ", ".join(f"{a} {tw[a]['emitted']} names at {rate(tw[a]['emitted'], tw[a]['seconds']) / 1e6:.2f}M/s"
                                         for a, _ in DOMAINS if a in tw) + "."]

    # Overlap of the name sets.
    lines += ["", "Overlap of the name sets (a peer's name counts as made by squatstream when it equals a "
              "candidate's ASCII or Unicode form):", "",
              "| domain | twistrs names | squatstream makes | squatstream names | twistrs makes | dnstwist names "
              "| squatstream makes |", "|---|---|---|---|---|---|---|"]
    per_kind = collections.defaultdict(lambda: [0, 0, collections.Counter()])
    for asked, bench in DOMAINS:
        candidates, mine = our_names(bench)
        tnames = twistrs_names(asked)
        dnames = dnstwist_names("upstream", asked) if asked == bench else set()
        t_in = sum(1 for n in tnames if n in mine)
        ours_in_t = sum(1 for a, u, _ in candidates if a in tnames or u in tnames)
        d_in = sum(1 for n in dnames if n in mine)
        n_ours = len(candidates)
        tw_cells = (f"{len(tnames)} | {t_in} ({100 * t_in / len(tnames):.0f}%) | {n_ours} | {ours_in_t} "
                    f"({100 * ours_in_t / n_ours:.1f}%)") if tnames else f"refuses | – | {n_ours} | –"
        d_cells = f"{len(dnames)} | {d_in} ({100 * d_in / len(dnames):.0f}%)" if dnames else f"({asked} asked) | –"
        lines.append(f"| {bench} | {tw_cells} | {d_cells} |")
        for name, kinds in tnames.items():
            for k in kinds:
                per_kind[k][0] += 1
                if name in mine:
                    per_kind[k][1] += 1
                    per_kind[k][2].update(mine[name])
    summary = lines
    lines = ["Per twistrs kind, over the domains twistrs accepts: its names, how many squatstream also makes, "
             "and the squatstream kinds that make most of those:", "",
              "| twistrs kind | names | squatstream makes | by (squatstream kinds) |", "|---|---|---|---|"]
    for k, (n, both, by) in sorted(per_kind.items(), key=lambda kv: -kv[1][0]):
        top = ", ".join(f"{kind} {c}" for kind, c in by.most_common(3))
        lines.append(f"| {k} | {n} | {both} ({100 * both / n:.0f}%) | {top or '–'} |")

    lines += ["", "Names per kind (squatstream, counted by every kind that produces a name / upstream dnstwist, "
              "counted by the kind it kept) and squatstream's names/s for that kind alone (one run):", ""]
    kinds = sorted({b["name"].split("/")[2] for b in ours.values() if b["name"].startswith("BM_Generate/")} - {"all"})
    header = "| kind | " + " | ".join(b for _, b in DOMAINS) + " | names/s (example.com) |"
    lines += [header, "|---|" + "---|" * (len(DOMAINS) + 1)]
    for k in kinds:
        cells = []
        for asked, bench in DOMAINS:
            mine = ours[f"BM_Generate/{bench}/{k}"]["names"]
            dt = theirs["upstream"][asked]["kinds"].get(k)
            cells.append(f"{mine:.0f} / {dt}" if dt is not None else f"{mine:.0f} / –")
        r = ours[f"BM_Generate/example.com/{k}"]["names_per_second"]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {r / 1e6:.2f}M |")
    table, detail = "\n".join(summary), "\n".join(lines)
    benchmarks_doc.write_section("PERMUTE", table + "\n\nPer kind: docs/bench/permute-kinds.md.",
                                 "Permutation engine vs twistrs and dnstwist")
    benchmarks_doc.write_section("PERMUTE_KINDS", detail, "Per kind (bench/run_permute_bench.py)",
                                 doc=benchmarks_doc.PERMUTE_KINDS_DOC)
    print(table + "\n\n" + detail)


def dnstwist_version(which):
    code = "import importlib.metadata as m\ntry: print(m.version('dnstwist'))\nexcept Exception: print('')"
    out = subprocess.run([DNSTWISTS[which], "-c", code], capture_output=True, text=True).stdout.strip()
    if not out:  # Debian's dnstwist is a module without distribution metadata
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "dnstwist"], capture_output=True,
                             text=True).stdout
    return out or "?"


def twistrs_version():
    lock = open(os.path.join(TWISTRS_DIR, "Cargo.lock")).read()
    m = re.search(r'name = "twistrs"\nversion = "([^"]+)"', lock)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    main()
