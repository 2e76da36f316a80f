"""grpcurl as the end-to-end tests drive it: its output decoded into the messages it printed, and one
EnrichDomain stream's records. Standard library only."""
import json
import subprocess


def decode_messages(text):
    """The JSON messages grpcurl printed one after another (objects, possibly pretty-printed); ValueError
    when the text is not such a sequence."""
    messages, decoder, i = [], json.JSONDecoder(), 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return messages
        message, i = decoder.raw_decode(text, i)
        if not isinstance(message, dict):
            raise ValueError(f"not an object at {i}: {text[i:i + 80]!r}")
        messages.append(message)


def enrich_stream(grpcurl, address, request, max_time=300):
    """One EnrichDomain stream of `request` (a dict) through grpcurl: (records by domain_ascii, the last
    progress, grpcurl's exit code, its stderr, the names streamed more than once). ValueError when grpcurl's
    output is not JSON messages."""
    r = subprocess.run([grpcurl, "-plaintext", "-max-time", str(max_time), "-d", json.dumps(request), address,
                        "squatstream.v1.EnrichmentService/EnrichDomain"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=max_time + 30)
    messages = decode_messages(r.stdout.decode("utf-8", "replace"))
    records, twice = {}, []
    for m in messages:
        for record in m.get("records", []):
            if record["domain_ascii"] in records:
                twice.append(record["domain_ascii"])
            records[record["domain_ascii"]] = record
    progress = messages[-1].get("progress", {}) if messages else {}
    return records, progress, r.returncode, r.stderr.decode("utf-8", "replace"), twice
