#!/usr/bin/env python3
"""A webhook receiver on 127.0.0.1 for the deliverer's tests (standard library only).

Usage: webhook_receiver.py SECRET LOG_PATH [--fail-first N]

Listens on a free loopback port and prints it on stdout (then flushes). Every POST is checked the way a user
of squatstream's webhooks would check it (docs/WATCH.md): the Squatstream-Signature header's v1 is the hex
HMAC-SHA256 of "<t>.<body>" with SECRET, and the Squatstream-Event-Id header is the body's "id". Each request
is appended to LOG_PATH as one line of tab-separated fields: event id, signature ok (1/0), id matches (1/0),
Content-Type, the status answered, the body (JSON: no tab or newline of its own). Tab-separated rather than
JSON so that the C++ test reads it without a JSON parser. The first N POSTs (--fail-first) are answered 500,
the later ones 204. GET /log answers the log.
"""
import hashlib
import hmac
import http.server
import json
import sys
import threading


def verify(secret: bytes, header: str, body: bytes) -> bool:
    """The verification snippet of docs/WATCH.md."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        return False
    expected = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def main() -> None:
    secret = sys.argv[1].encode()
    log_path = sys.argv[2]
    fail_first = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--fail-first" else 0
    lock = threading.Lock()
    state = {"posts": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            with lock, open(log_path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/tab-separated-values")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            event_id = self.headers.get("Squatstream-Event-Id", "")
            try:
                body_id = str(json.loads(body).get("id", ""))
            except ValueError:
                body_id = None
            with lock:
                state["posts"] += 1
                status = 500 if state["posts"] <= fail_first else 204
                fields = [
                    event_id,
                    "1" if verify(secret, self.headers.get("Squatstream-Signature", ""), body) else "0",
                    "1" if body_id == event_id else "0",
                    self.headers.get("Content-Type", ""),
                    str(status),
                    body.decode("utf-8", "replace"),
                ]
                with open(log_path, "a") as f:
                    f.write("\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    open(log_path, "w").close()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
