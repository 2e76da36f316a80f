#!/usr/bin/env python3
"""A throw-away redis-server for tests and benchmarks (Python ones; C++ tests use tests/peers/redis_server.h).

Starts Debian's redis-server on a free loopback port with no persistence (--save '' --appendonly no, its files in a
temporary folder), waits until it answers PING (bounded, polled: no fixed sleep; another port is tried when the
picked one was taken meanwhile), and prints one line:

    127.0.0.1:PORT

Then it reads commands from stdin, one a line, answering each with one line on stdout:
    kill      SIGKILL (a crash: connections reset)  -> "killed"
    stop      SIGTERM and wait                       -> "stopped"
    start     again, same port, empty               -> "started"   (or "error: ..." when it did not come up)
    address   the line above again
It stops the server and removes the folder when stdin closes (its parent exited) or on SIGTERM/SIGINT.

Options:
    --password-file FILE   require the password on FILE's first line (requirepass; given to redis-server on its
                           stdin as a config line, never on its command line)
Standard library only; any python3 runs it.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bindable(port):
    """Whether a server could listen on 127.0.0.1:port now (SO_REUSEADDR, as redis-server binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ping(port, password):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            request = b""
            if password:
                p = password.encode()
                request += b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(p), p)
            request += b"*1\r\n$4\r\nPING\r\n"
            s.sendall(request)
            data = b""
            deadline = time.monotonic() + 0.5
            while b"PONG" not in data and b"-" not in data and time.monotonic() < deadline:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            return b"+PONG" in data
    except OSError:
        return False


class Server:
    def __init__(self, password):
        self.password = password
        self.root = tempfile.mkdtemp(prefix="squatstream-redis-")
        self.port = None
        self.proc = None

    def start(self, port=None):
        """Starts on `port` (or a free one, trying others when it was taken); returns an error or None."""
        attempts = 20 if port else 5
        error = "redis-server did not start"
        for _ in range(attempts):
            self.port = port or free_port()
            config = "port %d\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir %s\n" % (self.port, self.root)
            if self.password:
                config += "requirepass \"%s\"\n" % self.password.replace("\\", "\\\\").replace('"', '\\"')
            try:
                self.proc = subprocess.Popen(["redis-server", "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
            except FileNotFoundError:
                return "redis-server is not installed (Debian's redis-server; scripts/install-deps.sh)"
            self.proc.stdin.write(config.encode())
            self.proc.stdin.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    error = "redis-server exited at start (port %d taken?)" % self.port
                    break
                if ping(self.port, self.password):
                    return None
                time.sleep(0.01)  # the poll interval, inside the bound
            else:
                error = "redis-server did not answer PING within 10 s"
                self.kill()
            if port:  # the same port again: wait (bounded) until the killed server has let it go
                free_by = time.monotonic() + 5
                while not bindable(self.port) and time.monotonic() < free_by:
                    time.sleep(0.01)  # the poll interval
        return error

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def address(self):
        return "127.0.0.1:%d" % self.port

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--password-file")
    args = parser.parse_args()
    password = ""
    if args.password_file:
        with open(args.password_file) as f:
            password = f.readline().rstrip()
    server = Server(password)

    def on_signal(signum, frame):
        server.cleanup()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        error = server.start()
        if error:
            print("error: " + error, flush=True)
            return 1
        print(server.address(), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "kill":
                server.kill()
                print("killed", flush=True)
            elif command == "stop":
                server.kill(signal.SIGTERM)
                print("stopped", flush=True)
            elif command == "start":
                error = server.start(server.port)
                print("error: " + error if error else "started", flush=True)
            elif command == "address":
                print(server.address(), flush=True)
            elif command:
                print("error: unknown command %r (kill, stop, start, address)" % command, flush=True)
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
