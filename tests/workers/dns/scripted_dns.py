#!/usr/bin/python3
"""A scripted DNS server on 127.0.0.1 for the DNS stage's fault tests (Debian's python3-dnslib).

  scripted_dns.py servfail|refused|truncate

Prints its port on the first line of stdout, then answers every query on UDP and TCP of that port:
servfail / refused answer with that rcode; truncate answers UDP with TC set and no records (forcing TCP)
and TCP with an NS and an A record for any name (so a lookup can only succeed over TCP). Runs until killed.
"""
import socket
import struct
import sys
import time

from dnslib import QTYPE, RCODE, RR, A, NS
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


class PipeliningHandler(DNSHandler):
    """dnslib's handler answers one message per TCP connection and drops the rest of what it read; c-ares
    sends its queries to a server over one TCP connection, several at once. This one answers each message of
    the connection in turn, as real servers do (RFC 7766), until the client closes it."""

    def handle(self):
        if self.server.socket_type != socket.SOCK_STREAM:
            return super().handle()
        self.protocol = "tcp"
        buffered = b""
        while True:
            while len(buffered) < 2 or len(buffered) - 2 < struct.unpack("!H", buffered[:2])[0]:
                more = self.request.recv(8192)
                if not more:
                    return
                buffered += more
            length = struct.unpack("!H", buffered[:2])[0]
            message, buffered = buffered[2:2 + length], buffered[2 + length:]
            reply = self.get_reply(message)
            self.request.sendall(struct.pack("!H", len(reply)) + reply)


class Scripted(BaseResolver):
    def __init__(self, mode):
        self.mode = mode

    def resolve(self, request, handler):
        reply = request.reply()
        if self.mode == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
        elif self.mode == "refused":
            reply.header.rcode = RCODE.REFUSED
        elif handler.protocol == "udp":
            reply.header.tc = 1
        else:
            qname = request.q.qname
            if request.q.qtype == QTYPE.NS:
                reply.add_answer(RR(qname, QTYPE.NS, ttl=60, rdata=NS("ns1.trunc.test.")))
            elif request.q.qtype == QTYPE.A:
                reply.add_answer(RR(qname, QTYPE.A, ttl=60, rdata=A("192.0.2.50")))
        return reply


def main():
    mode = sys.argv[1]
    quiet = DNSLogger("-send,-recv,-request,-reply,-truncated,-error,-data")
    # A UDP port picked free may be taken for TCP by a test running beside: try another.
    for attempt in range(20):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            servers = [DNSServer(Scripted(mode), port=port, address="127.0.0.1", tcp=tcp, logger=quiet,
                                 handler=PipeliningHandler) for tcp in (False, True)]
            break
        except OSError:
            if attempt == 19:
                raise
    for s in servers:
        s.start_thread()
    print(port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
