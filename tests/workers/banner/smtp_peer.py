#!/usr/bin/python3
"""Real SMTP servers (aiosmtpd) on loopback for the banner enricher's tests: run by Debian's python3, which has
python3-aiosmtpd (a pyenv python3 does not). Started by banner_peers.py; runnable alone.

  /usr/bin/python3 smtp_peer.py [--hostname NAME] [--log FILE] ADDRESS PORT accept|refuse [ADDRESS PORT MODE ...]

One aiosmtpd Controller per ADDRESS PORT MODE, each answering as aiosmtpd does (220 greeting "NAME Python SMTP
<version>", its own EHLO capabilities), except RCPT TO:
  accept   250 2.1.5 OK
  refuse   550 5.1.1 <address>: Recipient address rejected: no such user
DATA is refused on both at once, before any 354 (554 5.7.1: these peers take no mail; a probe must never get
that far).

Prints "ready" on stdout once every server listens, then serves until SIGTERM / SIGINT (exit 0). A port that
cannot be bound: a message on stderr and exit 2, at once. NAME (default mx.banner.test) is given so that aiosmtpd
never calls socket.getfqdn() (a reverse lookup that could leave loopback). With --log, each command any server
receives is appended to FILE as one line "ADDRESS:PORT VERB ARG" (flushed at once), so a test can check what a
probe sent (for example that it never sent DATA).
"""
import functools
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

NO_DATA = "554 5.7.1 This test peer takes no mail"
LOG_LOCK = threading.Lock()
LOG_FILE = None


def record(where, verb, arg):
    if LOG_FILE is None:
        return
    with LOG_LOCK:
        LOG_FILE.write("%s %s%s\n" % (where, verb, " " + arg if arg else ""))
        LOG_FILE.flush()


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, unchanged but for a line in the log per command received."""

    def __init__(self, where, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._recorded(where, verb, method)

    @staticmethod
    def _recorded(where, verb, method):
        @functools.wraps(method)  # keeps __smtp_syntax__ & co., which HELP and EHLO read
        async def wrapper(arg):
            record(where, verb, arg)
            if verb == "DATA":  # refused before the 354, so no message is ever read
                return await method.__self__.push(NO_DATA)
            return await method(arg)

        return wrapper


class RecordingController(Controller):
    def factory(self):
        return RecordingSMTP("%s:%d" % (self.hostname, self.port), self.handler, **self.SMTP_kwargs)


class RcptHandler:
    def __init__(self, accept):
        self.accept = accept

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.accept:
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"



def main():
    global LOG_FILE
    args = sys.argv[1:]
    hostname = "mx.banner.test"
    while args and args[0].startswith("--"):
        if args[0] == "--hostname" and len(args) > 1:
            hostname, args = args[1], args[2:]
        elif args[0] == "--log" and len(args) > 1:
            LOG_FILE, args = open(args[1], "a"), args[2:]
        else:
            sys.exit("smtp_peer: unknown option %s" % args[0])
    if not args or len(args) % 3:
        sys.exit(__doc__)
    specs = []
    for i in range(0, len(args), 3):
        address, port, mode = args[i], int(args[i + 1]), args[i + 2]
        if mode not in ("accept", "refuse"):
            sys.exit("smtp_peer: mode must be accept or refuse, not %r" % mode)
        specs.append((address, port, mode))

    # aiosmtpd's Controller reports a failed bind only after its ready timeout: try each one first (with
    # SO_REUSEADDR, as asyncio's create_server sets it) so that a port taken meanwhile fails at once.
    for address, port, _ in specs:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as e:
            print("smtp_peer: cannot bind %s:%d: %s" % (address, port, e), file=sys.stderr, flush=True)
            sys.exit(2)
        finally:
            probe.close()

    controllers = []
    try:
        for address, port, mode in specs:
            c = RecordingController(RcptHandler(mode == "accept"), hostname=address, port=port,
                                    server_hostname=hostname, ready_timeout=10)
            c.start()
            controllers.append(c)
    except Exception as e:  # OSError (bind), TimeoutError
        print("smtp_peer: cannot start: %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        for c in controllers:
            c.stop()
        sys.exit(2)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print("ready", flush=True)
    while not stopped.wait(1.0):
        pass
    for c in controllers:
        c.stop()


if __name__ == "__main__":
    main()
