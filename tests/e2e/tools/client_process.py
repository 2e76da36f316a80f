"""A client process the e2e tests watch while it runs: stdout and stderr on pipes, each read by a thread, so that a
test can wait for N lines, then act (a signal, a server stopped) and collect the rest. Standard library only."""
import subprocess
import threading

from squatstreamd import wait_for


class Streaming:
    """`argv` started with `env`; `timeout` bounds each wait."""

    def __init__(self, argv, env=None, timeout=60):
        self.timeout = timeout
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env)
        self.lines, self.err = [], b""
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._err.start()

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.append(line.decode("utf-8", "replace"))

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def wait_lines(self, n, timeout=None):
        """Waits until `n` stdout lines came (or the process ended); returns how many came."""
        wait_for(lambda: len(self.lines) >= n or self.proc.poll() is not None, timeout or self.timeout,
                 f"{n} lines read")
        return len(self.lines)

    def finish(self, timeout=None):
        """Waits for the end (killing it past `timeout`): (exit code or None, stdout, stderr)."""
        try:
            code = self.proc.wait(timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self._out.join(10)
        self._err.join(10)
        return code, "".join(self.lines), self.err.decode("utf-8", "replace")
