"""Drive a virtual machine's serial console through a child process's stdin/stdout.

A small stand-in for pexpect built on subprocess + select: start a VMM whose serial console is
its stdio, wait for regular expressions in its output, type lines, and collect its exit status.
Everything the VMM prints (stdout and stderr) is kept in memory and, when a log path is given,
written to that file as it arrives, so a failed test can show what the guest said.
"""

import os
import re
import select
import subprocess
import time


class ConsoleTimeout(AssertionError):
    pass


class ConsoleEOF(AssertionError):
    pass


class Console:
    """A running VMM process with its serial console on stdin/stdout.

    out: the decoded stdout so far ("\\r\\n" folded to "\\n"); pos: the offset up to which
    expect() has consumed it. err: the decoded stderr so far.
    """

    def __init__(self, argv, log_path=None, env=None, send_chunk=16, send_delay=0.02, prompt=None):
        self.argv = list(argv)
        self.prompt = re.compile(prompt) if isinstance(prompt, str) else prompt
        self.out = ""
        self.err = ""
        self.pos = 0
        self.send_chunk = send_chunk
        self.send_delay = send_delay
        self.started = time.monotonic()
        self._log = open(log_path, "w", encoding="utf-8", errors="replace") if log_path else None
        if self._log:
            self._log.write("$ " + " ".join(self.argv) + "\n")
            self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self._fds = {self.proc.stdout.fileno(): "out", self.proc.stderr.fileno(): "err"}
        for fd in self._fds:
            os.set_blocking(fd, False)
        self._pending = {"out": b"", "err": b""}

    # -- reading -----------------------------------------------------------------------------

    def elapsed(self):
        return time.monotonic() - self.started

    def _pump(self, timeout):
        """Read whatever arrives within timeout seconds. Returns False once both pipes hit EOF."""
        if not self._fds:
            if timeout > 0:
                time.sleep(min(timeout, 0.05))
            return False
        ready, _, _ = select.select(list(self._fds), [], [], max(0.0, timeout))
        for fd in ready:
            name = self._fds[fd]
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                del self._fds[fd]
                data = b""
                final = True
            else:
                final = False
            buf = self._pending[name] + data
            # Keep an incomplete UTF-8 sequence or a lone "\r" for the next read.
            keep = 0
            if not final:
                if buf.endswith(b"\r"):
                    keep = 1
                else:
                    for i in range(1, min(4, len(buf)) + 1):
                        c = buf[-i]
                        if c & 0xC0 == 0x80:
                            continue
                        if c >= 0xC0:
                            need = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
                            if need > i:
                                keep = i
                        break
            self._pending[name] = buf[len(buf) - keep:] if keep else b""
            text = buf[: len(buf) - keep].decode("utf-8", errors="replace").replace("\r\n", "\n")
            if name == "out":
                self.out += text
            else:
                self.err += text
            if self._log and text:
                self._log.write(text)
                self._log.flush()
        return bool(self._fds)

    def expect(self, pattern, timeout=60.0):
        """Wait until pattern (a regex string or compiled regex) matches output after pos.

        Output arrives in pieces: end a pattern with \\s or \\n when a partial line could match.
        Returns the match object and moves pos past it. Raises ConsoleTimeout or ConsoleEOF
        (when the process closed its output first) with the tail of the output.
        """
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.out, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConsoleTimeout(
                    f"timed out after {timeout:.0f}s waiting for {rx.pattern!r}\n{self.tail()}"
                )
            if not self._pump(min(left, 0.5)) and not self._fds and self.proc.poll() is not None:
                m = rx.search(self.out, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise ConsoleEOF(
                    f"VMM exited (status {self.proc.returncode}) before {rx.pattern!r}\n{self.tail()}"
                )

    def expect_any(self, patterns, timeout=60.0):
        """Wait for the first of several patterns; returns (index, match)."""
        alt = "|".join(f"(?P<p{i}>{p})" for i, p in enumerate(patterns))
        m = self.expect(alt, timeout)
        for i in range(len(patterns)):
            if m.group(f"p{i}") is not None:
                return i, m
        raise AssertionError("unreachable")

    def tail(self, n=3000):
        s = "--- console (last %d chars) ---\n%s" % (n, self.out[-n:])
        if self.err.strip():
            s += "\n--- stderr (last %d chars) ---\n%s" % (n, self.err[-n:])
        return s

    # -- writing -----------------------------------------------------------------------------

    def send(self, text):
        """Type text, a few bytes at a time: a 16550 without flow control has a 16-byte FIFO."""
        data = text.encode()
        for i in range(0, len(data), self.send_chunk):
            self.proc.stdin.write(data[i : i + self.send_chunk])
            self.proc.stdin.flush()
            if self.send_delay:
                self._pump(self.send_delay)

    def sendline(self, line):
        self.send(line + "\n")

    def run(self, command, timeout=60.0):
        """Run a shell command at the guest's prompt and return its output and exit status.

        Call it with the prompt already consumed. The command is followed by an echo of a marker
        that the typed line itself cannot match (the marker is split by an empty quoted string),
        so the echo of the input is not mistaken for the end of the output. When the console
        has a prompt pattern, the next prompt is consumed too, so that the next command is not
        typed ahead of it.
        """
        tag = "VMON-DONE"
        self.sendline(f'{command}; echo "{tag[:4]}""{tag[4:]}=$?"')
        m = self.expect(re.escape(tag) + r"=(\d+)\n", timeout)
        body = self.out[: m.start()]
        # Output starts after the echoed command line.
        start = body.rfind(f'"{tag[4:]}=$?"')
        body = body[start:] if start >= 0 else body
        body = body.split("\n", 1)[1] if "\n" in body else ""
        if self.prompt:
            self.expect(self.prompt, timeout)
        return body, int(m.group(1))

    # -- ending ------------------------------------------------------------------------------

    def wait(self, timeout=60.0):
        """Wait for the process to exit, draining its output; returns its exit status."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or self._fds:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConsoleTimeout(f"VMM still running after {timeout:.0f}s\n{self.tail()}")
            self._pump(min(left, 0.2))
        return self.proc.returncode

    def close(self):
        """Kill the process (its whole session) if it is still running; close the log."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
