"""A hostile authoritative name server on 127.0.0.1 for the end-to-end tests of the bounds on strangers' DNS data
(issue 35): UDP and TCP on one ephemeral port, the wire format written by hand (a compressing encoder such as
dnslib's would undo the bloat). Standard library only: runs under any Python 3.9+.

    with HostileDns() as dns:          # dns.server: "127.0.0.1:PORT", for squatstreamd's --dns_servers
        category(name)                 # what it answers for `name`, as the test predicts it
        records_sent(name, "NS")       # how many records of that type its answer holds
        dns.stats()                    # queries asked, by protocol and type; bytes sent

It answers for every name it is asked, as a squatter answers for its own zones, by a stable hash of the name
(category()):
  BLOAT   NS: a 64 KiB TCP answer of ~4,660 NS records for the name whose rdata are 2-byte compression pointers to
          one 249-byte name (printable); MX and CNAME: ~4,080 and ~4,660 records whose owner *and* rdata are pointers
          to a 249-byte name of binary bytes (c-ares writes the unprintable ones \\DDD: ~600 characters a name); A:
          ~4,080 records whose owner is a pointer to that name — 64 KiB of wire that a naive reader expands to
          megabytes (the NS answer alone: 1.2 MB of names, each copied twice into the record).
  FLOOD   A: ~4,090 addresses (one 64 KiB TCP answer); NS NODATA.
  TXT     TXT: 31 records of 8 strings of 255 bytes each, most of them unprintable (64 KiB; ~5.7 KiB a record once
          \\DDD-escaped); one A.
  PLAIN   one A record (a registered name without surprises).
  NX      NXDOMAIN with the zone's SOA (the most common answer: the scan is mostly normal).
A UDP answer over 512 bytes is replaced by an empty one with TC set (as a real server does), so the resolver asks
again over TCP, where each answer is at most 65,535 bytes (the protocol's bound). Every other type a name is asked
for is NODATA (NOERROR, the SOA in the authority section). Names whose first label starts with "sq-" (the DNS
stage's wildcard probe, workers/dns/dns_enricher.cc) are NX, as are all names under .test. TTLs are 600 s
(answers) and 300 s (negative): the resolver's cache keeps them for the whole test.
"""
import socket
import socketserver
import struct
import threading
import zlib

BLOAT, FLOOD, TXT, PLAIN, NX = "bloat", "flood", "txt", "plain", "nx"
# Out of 16 hash values: a quarter bloat, then floods, TXT, plain names, and NXDOMAIN for 7/16.
_CATEGORIES = [BLOAT] * 4 + [FLOOD] * 2 + [TXT] * 2 + [PLAIN] + [NX] * 7
NX_SUFFIXES = (".test",)  # nothing hostile under .test (RFC 6761): a warm-up stream's names

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_MX, TYPE_TXT, TYPE_AAAA = 1, 2, 5, 6, 15, 16, 28
TYPE_NAMES = {TYPE_A: "A", TYPE_NS: "NS", TYPE_CNAME: "CNAME", TYPE_SOA: "SOA", TYPE_MX: "MX", TYPE_TXT: "TXT",
              TYPE_AAAA: "AAAA"}
MAX_MESSAGE = 65535
TTL, NEGATIVE_TTL = 600, 300


def category(name):
    """What the server answers for `name` (any case, with or without the final dot)."""
    name = name.lower().rstrip(".")
    if name.split(".")[0].startswith("sq-") or name.endswith(NX_SUFFIXES):
        return NX
    return _CATEGORIES[zlib.crc32(name.encode("latin-1")) % len(_CATEGORIES)]


def _wire_name(labels):
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


def _long_name(fill):
    """A 249-byte name on the wire (the bound is 255): three 63-byte labels of `fill`'s bytes, then bloat.test."""
    labels = [bytes(fill(i * 63 + k) for k in range(63)) for i in range(3)] + [b"x" * 44, b"bloat", b"test"]
    wire = _wire_name(labels)
    assert len(wire) == 249, len(wire)
    return wire


# A printable one (a-z) and one of binary bytes (1-255 but '.', each shown \DDD by c-ares).
PRINTABLE_NAME = _long_name(lambda i: ord("a") + i % 26)
BINARY_NAME = _long_name(lambda i: 1 + (i * 37) % 255 if (1 + (i * 37) % 255) != ord(".") else 1)
# A TXT character-string of the most bytes it can hold (255), most of them not printable ASCII (each written
# \DDD by the parser: x4), with its length byte.
TXT_STRING = bytes([255]) + bytes((0x80 + i * 7) % 256 for i in range(255))


class _Query:
    def __init__(self, data):
        self.id, self.flags, qdcount = struct.unpack("!HHH", data[:6])
        if qdcount != 1:
            raise ValueError("one question expected")
        labels, i = [], 12
        while data[i] != 0:
            n = data[i]
            if n & 0xC0:
                raise ValueError("compressed question")
            labels.append(data[i + 1:i + 1 + n])
            i += 1 + n
        self.qtype, = struct.unpack("!H", data[i + 1:i + 3])
        self.question = data[12:i + 5]  # echoed as it came (c-ares compares it)
        self.name = b".".join(labels).decode("latin-1").lower()


def _header(q, rcode, an, ns, tc=False):
    flags = 0x8000 | (q.flags & 0x7900) | 0x0400 | (0x0200 if tc else 0) | rcode  # QR, opcode and RD copied, AA
    return struct.pack("!HHHHHH", q.id, flags, 1, an, ns, 0)


def _rr(owner, rtype, rdata, ttl=TTL):
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


# Thousands of A records for the name in the question (owner: a pointer to it), distinct addresses in
# 198.18.0.0/15; an answer takes as many as fit.
_FLOOD = b"".join(_rr(b"\xc0\x0c", TYPE_A, bytes([198, 18, i >> 8, i & 255])) for i in range(MAX_MESSAGE // 16))


def _zone(name):
    labels = name.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else name


def _soa(name):
    zone = _wire_name([label.encode("latin-1") for label in _zone(name).split(".") if label])
    rdata = _wire_name([b"ns", b"hostile", b"test"]) + _wire_name([b"hostmaster", b"hostile", b"test"]) + \
        struct.pack("!IIIII", 1, 3600, 600, 86400, NEGATIVE_TTL)
    return _rr(zone, TYPE_SOA, rdata, NEGATIVE_TTL)


def _fill(q, head_records, repeat, base_len):
    """The first records, then `repeat` (one record's bytes) as many times as the 65,535-byte bound leaves room
    for. Returns (records bytes, count)."""
    room = MAX_MESSAGE - base_len - sum(len(r) for r in head_records)
    n = room // len(repeat)
    return b"".join(head_records) + repeat * n, len(head_records) + n


def answer(data):
    """The response to the query `data` (bytes), over TCP (any size up to 65,535 bytes); None when it is not a
    query to answer."""
    try:
        q = _Query(data)
    except (ValueError, IndexError, struct.error):
        return None
    kind = category(q.name)
    base = 12 + len(q.question)
    qname_ptr = b"\xc0\x0c"
    if kind == NX:
        return _header(q, 3, 0, 1) + q.question + _soa(q.name)
    records, count = b"", 0
    if kind == BLOAT and q.qtype == TYPE_NS:
        # The first NS's rdata is the long name itself; every later one points at it.
        first = _rr(qname_ptr, TYPE_NS, PRINTABLE_NAME)
        target = struct.pack("!H", 0xC000 | (base + len(first) - len(PRINTABLE_NAME)))
        records, count = _fill(q, [first], _rr(qname_ptr, TYPE_NS, target), base)
    elif kind == BLOAT and q.qtype in (TYPE_MX, TYPE_CNAME, TYPE_A):
        # The first record's owner is the long name; every later one's owner (and rdata) points at it.
        pointer = struct.pack("!H", 0xC000 | base)
        rdata = {TYPE_MX: struct.pack("!H", 10) + pointer, TYPE_CNAME: pointer, TYPE_A: bytes([192, 0, 2, 66])}[q.qtype]
        records, count = _fill(q, [_rr(BINARY_NAME, q.qtype, rdata)], _rr(pointer, q.qtype, rdata), base)
    elif kind == FLOOD and q.qtype == TYPE_A:
        count = (MAX_MESSAGE - base) // 16
        records = _FLOOD[:16 * count]
    elif kind == TXT and q.qtype == TYPE_TXT:
        rdata = TXT_STRING * 8
        records, count = _fill(q, [], _rr(qname_ptr, TYPE_TXT, rdata), base)
    elif kind in (PLAIN, TXT) and q.qtype == TYPE_A:
        records, count = _rr(qname_ptr, TYPE_A, bytes([192, 0, 2, 7])), 1
    if count == 0:  # NODATA
        return _header(q, 0, 0, 1) + q.question + _soa(q.name)
    return _header(q, 0, count, 0) + q.question + records


def records_sent(name, type_name):
    """How many records of type `type_name` ("A", "NS", ...) the answer to that question holds (the TCP one: the
    resolver asks again over TCP when the UDP one is truncated)."""
    qtype = {v: k for k, v in TYPE_NAMES.items()}[type_name]
    labels = [label.encode("latin-1") for label in name.rstrip(".").split(".")]
    query = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + _wire_name(labels) + struct.pack("!HH", qtype, 1)
    response = answer(query)
    return struct.unpack("!H", response[6:8])[0] if response[3] & 0x0F == 0 else 0


class _Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.queries = {}  # (protocol, type name) -> count
        self.bytes_sent = 0
        self.largest = 0

    def add(self, protocol, data, sent):
        try:
            qtype = TYPE_NAMES.get(_Query(data).qtype, "other")
        except (ValueError, IndexError, struct.error):
            qtype = "malformed"
        with self.lock:
            self.queries[(protocol, qtype)] = self.queries.get((protocol, qtype), 0) + 1
            self.bytes_sent += sent
            self.largest = max(self.largest, sent)


class _Tcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _udp_answer(data):
    """The UDP response to `data`: the answer if it fits in 512 bytes, else an empty one with TC set."""
    response = answer(data)
    if response is not None and len(response) > 512:
        q = _Query(data)
        response = _header(q, 0, 0, 0, tc=True) + q.question
    return response


class HostileDns:
    """The server, as a context manager: `server` is "127.0.0.1:PORT" once entered."""

    def __init__(self):
        self.server, self.port = None, None
        self._stats = _Stats()
        self._tcp, self._udp, self._threads = None, None, []
        self._stop = threading.Event()

    def __enter__(self):
        stats = self._stats

        class TcpHandler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(30)
                f = self.request.makefile("rb")
                try:
                    while True:  # c-ares sends several queries on one connection
                        head = f.read(2)
                        if len(head) < 2:
                            return
                        data = f.read(struct.unpack("!H", head)[0])
                        response = answer(data)
                        if response is None:
                            return
                        self.request.sendall(struct.pack("!H", len(response)) + response)
                        stats.add("tcp", data, len(response))
                except OSError:
                    return
                finally:
                    f.close()

        # A UDP port picked free may be taken for TCP by a test running beside: try another.
        for attempt in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp = _Tcp(("127.0.0.1", port), TcpHandler)
                break
            except OSError:
                udp.close()
                if attempt == 19:
                    raise
        # One thread answers UDP (each answer is small and quick: a thread per datagram would only add latency),
        # with a receive buffer that holds a burst of the resolver's queries in flight (capped by rmem_max).
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        udp.settimeout(0.1)
        self._udp, self._tcp = udp, tcp
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)]
        for t in self._threads:
            t.start()
        self.port = port
        self.server = f"127.0.0.1:{port}"
        return self

    def _serve_udp(self):
        while not self._stop.is_set():
            try:
                data, peer = self._udp.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            response = _udp_answer(data)
            if response is not None:
                self._udp.sendto(response, peer)
                self._stats.add("udp", data, len(response))

    def __exit__(self, *exc):
        self._stop.set()
        self._tcp.shutdown()
        self._tcp.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._udp.close()
        return False

    def stats(self):
        """{"queries": {(protocol, type): count}, "bytes_sent": n, "largest": the largest answer, in bytes}."""
        with self._stats.lock:
            return {"queries": dict(self._stats.queries), "bytes_sent": self._stats.bytes_sent,
                    "largest": self._stats.largest}


if __name__ == "__main__":
    # A quick look by hand: python3 hostile_dns.py, then dig -p PORT @127.0.0.1 +tcp NS some.name
    import time
    with HostileDns() as dns:
        print(dns.port, flush=True)
        while True:
            time.sleep(3600)
