"""The documented grpcurl transcripts, run: every `$ grpcurl …` command in a ```console block of the document
(docs/examples.md; it was the README's until the README got short) runs against a real squatstreamd, and what
grpcurl prints (stdout and stderr, as a terminal shows them) must equal the lines under the command in the
document, up to the next `$ ` line or the end of the block.

The server is started with the flags of the document's own `$ …squatstreamd …` line (its addresses replaced by
free loopback ports); `localhost:50051` in each command becomes that server's address.

Masking rules (the only ones), for what differs from run to run by design:
1. When grpcurl prints JSON, both sides are read as JSON and every `latency_micros` field is dropped: a
   lookup's measured latency varies (and grpcurl leaves the field out when it is 0).
2. A streamed reply's messages are merged into one before comparing: their records, ordered by (input,
   domain_ascii), and the last message's progress. Where one batch ends and which record's lookups finish
   first depend on timing; which records come, with which fields and values, and the final counts do not.
3. Fields that hold a time (`created`, `next_scan`, `last_scan`, `time`, `first_seen`, `last_seen`,
   `last_changed`: google.protobuf.Timestamp values of the watch API) are compared by presence.
Everything else must match exactly: every field name and value, the final progress; and output that is not
JSON (list, describe, errors) line by line.
The test also checks that the document covers the calls users make (list, describe of the service and of the
request, a small EnrichDomain stream, the batch call, ClassifyDomain, Health/Check and an INVALID_ARGUMENT),
and that its own comparison notices a changed field name.

usage: readme_transcripts_test.py GRPCURL SQUATSTREAMD [DOCUMENT (default: docs/examples.md)]
Standard library only: runs under any Python 3.9+.
"""
import difflib
import json
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from grpcurl_output import decode_messages  # noqa: E402
from squatstreamd import Server, require_tool  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DOC_ADDRESS = "localhost:50051"

# What the document must show, each as (what, a test on the command, a test on the expected output).
REQUIRED = [
    ("list", lambda c: re.search(r"\blist$", c), None),
    ("describe of the service", lambda c: "describe squatstream.v1.EnrichmentService" in c, None),
    ("describe of the request message", lambda c: "describe squatstream.v1.EnrichDomainRequest" in c, None),
    ("a small EnrichDomain stream", lambda c: "/EnrichDomain" in c and '"max_candidates"' in c,
     lambda out: '"records"' in out),
    ("the batch-of-domains call", lambda c: "/EnrichDomain" in c and '"domains"' in c,
     lambda out: '"records"' in out),
    ("ClassifyDomain", lambda c: "/ClassifyDomain" in c, lambda out: '"is_twist"' in out),
    ("Health/Check", lambda c: "grpc.health.v1.Health/Check" in c, lambda out: '"SERVING"' in out),
    ("an INVALID_ARGUMENT", lambda c: True, lambda out: "Code: InvalidArgument" in out),
    ("CreateWatch", lambda c: "WatchService/CreateWatch" in c, lambda out: '"domain"' in out),
]


def parse(doc_text):
    """Returns (server_args, [(command, expected_lines)]) from the document's console blocks."""
    server_args, transcripts = None, []
    in_block = False
    lines = doc_text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_block = line.strip() == "```console"
            i += 1
            continue
        if not (in_block and line.startswith("$ ")):
            i += 1
            continue
        command = line[2:]
        while command.endswith("\\") and i + 1 < len(lines):  # continuation lines
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ ") and not lines[i].startswith("```"):
            expected.append(lines[i])
            i += 1
        words = shlex.split(command)
        if words and words[0].endswith("squatstreamd"):
            if server_args is not None:
                sys.exit("readme_transcripts_test: the document starts squatstreamd twice in its console blocks")
            server_args = [w for w in words[1:] if w != "&" and not w.startswith(("--grpc_address=",
                                                                                "--metrics_address="))]
        elif words and words[0] == "grpcurl":
            transcripts.append((command, expected))
    return server_args, transcripts


def normalise(lines):
    """The lines to compare: JSON output canonicalised by the masking rules, any other output as it is."""
    try:
        messages = decode_messages("\n".join(lines))
    except ValueError:
        messages = []
    if not messages:  # not JSON: compare the text
        out = [l.rstrip() for l in lines]
        while out and not out[-1]:
            out.pop()
        return out
    messages = [drop_latency(m) for m in messages]
    if any("records" in m for m in messages):
        records = sorted((r for m in messages for r in m.get("records", [])),
                         key=lambda r: (r.get("input", ""), r.get("domain_ascii", "")))
        messages = [{"records": records, "progress": messages[-1].get("progress")}]
    return "\n".join(json.dumps(m, indent=2, ensure_ascii=False) for m in messages).splitlines()


TIME_FIELDS = {"created", "next_scan", "last_scan", "time", "first_seen", "last_seen", "last_changed"}


def drop_latency(value):
    """Rules 1 and 3: latency_micros dropped, a time's value masked (its presence kept)."""
    if isinstance(value, dict):
        return {k: ("<time>" if k in TIME_FIELDS else drop_latency(v)) for k, v in value.items()
                if k != "latency_micros"}
    if isinstance(value, list):
        return [drop_latency(v) for v in value]
    return value


def run(grpcurl, command, address):
    words = shlex.split(command.replace(DOC_ADDRESS, address))
    assert words[0] == "grpcurl"
    r = subprocess.run([grpcurl] + words[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return r.stdout.decode("utf-8", "replace").splitlines()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    grpcurl, squatstreamd = sys.argv[1], sys.argv[2]
    require_tool(grpcurl, "grpcurl")
    doc = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "docs", "examples.md")
    doc_name = os.path.relpath(doc, ROOT) if os.path.abspath(doc).startswith(ROOT + os.sep) else doc
    server_args, transcripts = parse(open(doc, encoding="utf-8").read())
    if server_args is None:
        sys.exit(f"readme_transcripts_test: no `$ …squatstreamd …` line in {doc_name}'s console blocks")
    if not transcripts:
        sys.exit(f"readme_transcripts_test: no `$ grpcurl …` commands in {doc_name}'s console blocks")
    missing = [what for what, on_cmd, on_out in REQUIRED
               if not any(on_cmd(c) and (on_out is None or on_out("\n".join(e))) for c, e in transcripts)]
    if missing:
        sys.exit(f"readme_transcripts_test: {doc_name} shows no grpcurl transcript of: " + "; ".join(missing))

    failures = 0
    with Server(squatstreamd, server_args) as server:
        for command, expected in transcripts:
            want, got = normalise(expected), normalise(run(grpcurl, command, server.address))
            if want == got:
                print(f"ok    $ {command}")
                continue
            failures += 1
            print(f"FAIL  $ {command}")
            sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(want, got, doc_name, "grpcurl",
                                                                       lineterm=""))
        # The comparison notices a changed field name (a document in camelCase, as the README once was, must fail).
        command, expected = next((c, e) for c, e in transcripts if '"domain_ascii"' in "\n".join(e))
        mutated = [l.replace('"domain_ascii"', '"domainAscii"') for l in expected]
        if normalise(mutated) == normalise(run(grpcurl, command, server.address)):
            failures += 1
            print("FAIL  the comparison did not notice domain_ascii written as domainAscii")
    print(f"readme_transcripts_test: {doc_name}: {len(transcripts)} transcripts, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
