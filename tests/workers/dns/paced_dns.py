#!/usr/bin/python3
"""A resolver stand-in on 127.0.0.1 whose behaviour a test changes while it runs, for the adaptive pacing's
tests (Debian's python3-dnslib for the messages).

  paced_dns.py CONTROL_FILE

Prints its UDP port on the first line of stdout. Every query is answered NXDOMAIN, or not, as the first line
of CONTROL_FILE says (read again when the file changes; a missing file is "ok"):
  ok            answer every query
  drop          answer none (a resolver that sheds load silently, as unbound's ip-ratelimit does)
  refuse        answer REFUSED
  servfail      answer SERVFAIL
  limit N       answer at most N queries in each second of the clock, drop the rest (unbound's ip-ratelimit
                counts queries per second the same way)
  delay MS      answer every query MS milliseconds late
Each second's count of queries received and answered goes to CONTROL_FILE.counts as it ends
("SECOND RECEIVED ANSWERED", SECOND the Unix time). One thread, no thread per query: it keeps up with
thousands of queries per second. Runs until killed.
"""
import heapq
import os
import select
import socket
import sys
import time

from dnslib import RCODE, DNSRecord


def read_mode(path):
    try:
        with open(path) as f:
            words = f.readline().split()
    except FileNotFoundError:
        return ("ok", 0.0)
    if not words:
        return ("ok", 0.0)
    return (words[0], float(words[1]) if len(words) > 1 else 0.0)


def main():
    control = sys.argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    print(sock.getsockname()[1], flush=True)

    mode, arg = read_mode(control)
    mtime = None
    checked = 0.0
    second, received, answered = int(time.time()), 0, 0
    held = []  # (due, seq, reply, address): delayed answers
    seq = 0
    counts = open(control + ".counts", "a", buffering=1)
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.2
        readable, _, _ = select.select([sock], [], [], timeout)
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, reply, address = heapq.heappop(held)
            sock.sendto(reply, address)
        if int(time.time()) != second:
            counts.write(f"{second} {received} {answered}\n")
            second, received, answered = int(time.time()), 0, 0
        if now - checked > 0.01:
            checked = now
            try:
                m = os.stat(control).st_mtime_ns
            except FileNotFoundError:
                m = None
            if m != mtime:
                mtime = m
                mode, arg = read_mode(control)
        if not readable:
            continue
        for _ in range(256):
            try:
                data, address = sock.recvfrom(4096)
            except BlockingIOError:
                break
            received += 1
            try:
                request = DNSRecord.parse(data)
            except Exception:  # not DNS: ignored
                continue
            if mode == "drop":
                continue
            if mode == "limit" and answered >= arg:  # this second's answers (the counts above)
                continue
            reply = request.reply()
            reply.header.rcode = {"refuse": RCODE.REFUSED, "servfail": RCODE.SERVFAIL}.get(mode, RCODE.NXDOMAIN)
            answered += 1
            if mode == "delay":
                seq += 1
                heapq.heappush(held, (time.monotonic() + arg / 1000, seq, reply.pack(), address))
            else:
                sock.sendto(reply.pack(), address)


if __name__ == "__main__":
    main()
