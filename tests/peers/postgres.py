#!/usr/bin/env python3
"""A throw-away PostgreSQL cluster for tests and benchmarks, from Debian's postgresql package.

Makes a temporary folder, initdb's a cluster there as an unprivileged user (postgres refuses to run as root:
when run as root, the folder is handed to the `postgres` system user, or `nobody`), starts it on a free
loopback port (listen_addresses=127.0.0.1, its socket in the folder, trust authentication), waits until it
accepts connections (pg_ctl -w, then pg_isready: bounded, no fixed sleep), and prints one line:

    postgresql://postgres@127.0.0.1:PORT/postgres

Then it reads commands from stdin, one a line, answering each with one line on stdout:
    stop     pg_ctl stop -m fast          -> "stopped"
    start    the same cluster, same port  -> "started"   (or "error: ..." when it did not come up)
    dsn      the line above again
It stops the cluster and removes the folder when stdin closes (its parent exited) or on SIGTERM/SIGINT.

Options:
    --durable        keep fsync and synchronous_commit on (benchmarks: a commit costs what it costs in
                     production); the default turns them off, for fast tests
    --bin DIR        PostgreSQL's programs (default: /usr/lib/postgresql/<newest>/bin)
Standard library only; any python3 runs it.
"""
import argparse
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def find_bin(explicit):
    if explicit:
        return explicit
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if not dirs:
        sys.exit("postgres.py: no /usr/lib/postgresql/*/bin (Debian's postgresql package is not installed)")
    return dirs[-1]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bindir, durable):
        self.bindir = bindir
        self.durable = durable
        self.root = tempfile.mkdtemp(prefix="squatstream-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "postgres.log")
        self.user = None  # run as ourselves unless we are root
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            if self.user is None:
                sys.exit("postgres.py: running as root and there is no postgres or nobody user to run as")
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.root, 0o700)
        self.port = None
        self.running = False

    def run(self, argv, **kw):
        if self.user is not None:
            argv = ["runuser", "-u", self.user.pw_name, "--"] + argv
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

    def initdb(self):
        r = self.run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C", "--no-sync"], cwd=self.root)
        if r.returncode != 0:
            raise RuntimeError("initdb failed: " + r.stdout)

    def options(self):
        opts = ["-c listen_addresses=127.0.0.1", f"-c port={self.port}", f"-c unix_socket_directories={self.root}",
                "-c max_connections=100", "-c shared_buffers=128MB"]
        if not self.durable:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(opts)

    def start(self, first=False):
        # A free port is only free when we looked: another process may take it before postgres binds. The
        # first start tries a few; a restart keeps its port (clients reconnect to the same DSN).
        attempts = 5 if first else 1
        last = ""
        for _ in range(attempts):
            if first:
                self.port = free_port()
            r = self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", self.options(),
                          "-w", "-t", "30", "start"], cwd=self.root)
            if r.returncode == 0 and self.ready(deadline=time.monotonic() + 30):
                self.running = True
                return
            last = r.stdout + self.tail_log()
            self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop"], cwd=self.root)
        raise RuntimeError("postgres did not start: " + last)

    def ready(self, deadline):
        # pg_ctl -w has waited already; pg_isready confirms the TCP listener answers (bounded).
        while time.monotonic() < deadline:
            r = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                "-U", "postgres", "-t", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if not self.running:
            return
        self.run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop"],
                 cwd=self.root)
        self.running = False

    def tail_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def dsn(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--bin")
    args = parser.parse_args()

    cluster = Cluster(find_bin(args.bin), args.durable)

    def on_signal(signum, frame):
        cluster.cleanup()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        cluster.initdb()
        cluster.start(first=True)
        print(cluster.dsn(), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stop":
                cluster.stop()
                print("stopped", flush=True)
            elif command == "start":
                try:
                    cluster.start()
                    print("started", flush=True)
                except RuntimeError as e:
                    print("error: " + str(e).replace("\n", " "), flush=True)
            elif command == "dsn":
                print(cluster.dsn(), flush=True)
            elif command:
                print(f"error: unknown command {command!r} (stop, start, dsn)", flush=True)
    except RuntimeError as e:
        print("error: " + str(e).replace("\n", " "), flush=True)
        sys.stderr.write(str(e) + "\n")
        cluster.cleanup()
        sys.exit(1)
    cluster.cleanup()


if __name__ == "__main__":
    main()
