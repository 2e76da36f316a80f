#!/usr/bin/python3
"""A DNS relay on loopback that holds every answer a random while: the network delay between a recursive resolver
and the authoritative servers it asks, which these machines' kernels cannot add (no netem). Standard library
only (Debian's /usr/bin/python3), asyncio, UDP and TCP on one port.

    with DelayRelay(nsd.server, delay_ms=(20, 80)) as relay:   # relay.server: "127.0.0.1:PORT", relay.port
        ...                                                    # relay.per_second(): queries forwarded per second

Each query is forwarded at once to the upstream (nsd) from one UDP socket under a fresh message ID (the client's
restored on the way back, so many clients' IDs never collide); the answer is held a delay drawn uniformly from
the range, then sent from the port the query came to. Bounded: at most `max_pending` queries awaiting their
answer (more are dropped, as a full queue would), each forgotten after `upstream_timeout` s; a TCP connection
answers its messages in order, one at a time. Only 127.0.0.0/8 addresses are accepted for either side.

Counting: every forwarded query is counted in a one-second bin (since the relay started); with `--stats FILE` the
bins are written there as JSON {"second": count, ...} every 0.2 s and at exit, which is how a test proves a
ceiling on what reached the resolver's upstream (or, in front of the resolver, what a client sent it).

usage: delay_relay.py --upstream 127.0.0.1:PORT [--listen 127.0.0.1:0] [--delay-ms 20,80] [--stats FILE]
                      [--max-pending 20000] [--seed N]
Prints "listening on ADDRESS:PORT" once both sockets are bound, then serves until SIGTERM/SIGINT.
"""
import argparse
import asyncio
import ctypes
import ipaddress
import json
import os
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time


def loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"delay_relay: {host} is not a loopback address (this relay never leaves loopback)")
    return host


def split_address(text):
    host, _, port = text.rpartition(":")
    return loopback(host), int(port)


class Counter:
    """Queries forwarded, per one-second bin since `start` (monotonic)."""

    def __init__(self):
        self.start = time.monotonic()
        self.bins = {}

    def add(self):
        second = int(time.monotonic() - self.start)
        self.bins[second] = self.bins.get(second, 0) + 1

    def write(self, path):
        if path:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({str(k): v for k, v in sorted(self.bins.items())}, f)
            os.replace(tmp, path)


class UdpRelay(asyncio.DatagramProtocol):
    """The client-facing UDP socket; answers come back through `Upstream`."""

    def __init__(self, relay):
        self.relay = relay
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.relay.forward(data, addr)


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay):
        self.relay = relay

    def datagram_received(self, data, addr):
        self.relay.answered(data)


class Relay:
    def __init__(self, args, loop):
        self.args, self.loop = args, loop
        self.upstream = split_address(args.upstream)
        self.low, self.high = (float(x) / 1000 for x in args.delay_ms.split(","))
        self.rng = random.Random(args.seed)
        self.counter = Counter()
        self.pending = {}  # relay message ID -> (client addr, client ID, when forwarded)
        self.next_id = self.rng.randrange(65536)
        self.client = None  # UdpRelay
        self.up = None  # the upstream transport
        self.dropped = 0

    def delay(self):
        return self.rng.uniform(self.low, self.high)

    def forward(self, data, addr):
        if len(data) < 12:
            return
        if len(self.pending) >= self.args.max_pending:
            self.dropped += 1
            return
        # A free relay ID (the table is bounded well below 65536, so this ends).
        while self.next_id in self.pending:
            self.next_id = (self.next_id + 1) % 65536
        relay_id, self.next_id = self.next_id, (self.next_id + 1) % 65536
        self.pending[relay_id] = (addr, data[:2], time.monotonic())
        self.counter.add()
        self.up.sendto(struct.pack("!H", relay_id) + data[2:], self.upstream)

    def answered(self, data):
        if len(data) < 12:
            return
        entry = self.pending.pop(struct.unpack("!H", data[:2])[0], None)
        if entry is None:
            return  # late (forgotten) or unknown
        addr, client_id, _ = entry
        self.loop.call_later(self.delay(), self.client.transport.sendto, client_id + data[2:], addr)

    async def expire(self):
        while True:
            await asyncio.sleep(0.2)
            cutoff = time.monotonic() - self.args.upstream_timeout
            for key in [k for k, v in self.pending.items() if v[2] < cutoff]:
                del self.pending[key]
            self.counter.write(self.args.stats)

    async def tcp_client(self, reader, writer):
        """One TCP connection: each length-prefixed message forwarded over one upstream connection, its answer
        held and written back, in order."""
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 5)
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                message = await reader.readexactly(size)
                self.counter.add()
                up_writer.write(struct.pack("!H", size) + message)
                await up_writer.drain()
                answer_size = struct.unpack("!H", await asyncio.wait_for(up_reader.readexactly(2), 10))[0]
                answer = await asyncio.wait_for(up_reader.readexactly(answer_size), 10)
                await asyncio.sleep(self.delay())
                writer.write(struct.pack("!H", answer_size) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()


def large_buffers(transport):
    """4 MiB socket buffers where allowed: bursts of queries overflow the kernel's default (as nsd.py says)."""
    sock = transport.get_extra_info("socket")
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
        except OSError:
            pass


async def serve(args):
    loop = asyncio.get_running_loop()
    relay = Relay(args, loop)
    host, port = split_address(args.listen)
    # UDP and TCP on one port: when the port is chosen (0), the UDP one is tried for TCP too, a few times.
    for _ in range(20):
        transport, protocol = await loop.create_datagram_endpoint(lambda: UdpRelay(relay), local_addr=(host, port))
        chosen = transport.get_extra_info("sockname")[1]
        try:
            tcp = await asyncio.start_server(relay.tcp_client, host, chosen, reuse_address=True)
            break
        except OSError:
            transport.close()
            if port:
                raise
    else:
        raise SystemExit("delay_relay: no port free for both UDP and TCP")
    relay.client = protocol
    large_buffers(transport)
    up_transport, _ = await loop.create_datagram_endpoint(lambda: Upstream(relay), local_addr=("127.0.0.1", 0))
    relay.up = up_transport
    large_buffers(up_transport)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    expirer = asyncio.ensure_future(relay.expire())
    print(f"listening on {host}:{chosen}", flush=True)
    await stop.wait()
    expirer.cancel()
    relay.counter.write(args.stats)
    tcp.close()
    transport.close()
    up_transport.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="the DNS server answers come from, 127.x.x.x:PORT")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--delay-ms", default="20,80", help="LOW,HIGH: each answer held uniformly between")
    parser.add_argument("--stats", default="", help="file the per-second counts are written to (JSON)")
    parser.add_argument("--max-pending", type=int, default=20000)
    parser.add_argument("--upstream-timeout", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if not 0 < args.max_pending < 60000:
        parser.error("--max-pending must be in (0, 60000)")
    asyncio.run(serve(args))


def die_with_parent():
    """preexec_fn: the relay gets SIGTERM when the process that started it dies, however it dies. Strictly, when
    the thread that started it ends (PR_SET_PDEATHSIG): start it from a thread that outlives it, as the main thread
    does."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class DelayRelay:
    """The relay as a child process of the caller: `with DelayRelay("127.0.0.1:PORT") as r:` → r.server,
    r.port, r.per_second() (the stats bins, {second: count}). Stopped (SIGTERM) on exit."""

    def __init__(self, upstream, delay_ms=(20, 80), listen="127.0.0.1:0", stats_dir=None, start_timeout=20):
        self.upstream, self.delay_ms, self.listen = upstream, delay_ms, listen
        self.start_timeout = start_timeout
        self.stats = os.path.join(stats_dir, f"relay-{os.getpid()}-{id(self)}.json") if stats_dir else ""
        self.proc, self.server, self.port = None, None, None

    def __enter__(self):
        args = [sys.executable or "/usr/bin/python3", os.path.abspath(__file__), "--upstream", self.upstream,
                "--listen", self.listen, "--delay-ms", f"{self.delay_ms[0]},{self.delay_ms[1]}"]
        if self.stats:
            args += ["--stats", self.stats]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=die_with_parent)
        # The ready line comes once both sockets are bound (a bound socket queues what arrives).
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(self.start_timeout):
                self.__exit__(None, None, None)
                raise SystemExit(f"delay_relay did not start within {self.start_timeout} s")
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.__exit__(None, None, None)
            raise SystemExit(f"delay_relay did not start: {line} {err}")
        self.server = line.split()[-1]
        self.port = int(self.server.rsplit(":", 1)[1])
        return self

    def per_second(self):
        """{second since start: queries forwarded}, as last written (every 0.2 s)."""
        try:
            with open(self.stats) as f:
                return {int(k): v for k, v in json.load(f).items()}
        except (OSError, ValueError):
            return {}

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return False


if __name__ == "__main__":
    main()
