"""virtio-vsock with the default Linux guest on --accel emu (one boot per transport: mmio, pci).

vmon runs with --vsock cid=7,uds=PATH; the guest has vsock-tool (guest/vsock-tool.c). Checks:
  - the guest bound vmw_vsock_virtio_transport and reads its CID (7) back;
  - host-initiated: a host client connects to PATH, sends "CONNECT 5000\\n", gets "OK <port>\\n"
    and then its bytes echoed by `vsock-tool echo 5000` in the guest: one line, then 512 KiB of
    data (more than the 256 KiB credit either side grants, so flow control has to work), checked
    byte for byte;
  - a CONNECT to a guest port nobody listens on closes the client without "OK";
  - guest-initiated: `vsock-tool connect 2 6000` in the guest reaches a host listener on PATH_6000,
    the line it sends arrives and the host's reply comes back to the guest's stdout;
  - a guest connect to a host port without a listener fails (RST).
Environment knobs: VMON_TEST_BOOT_TIMEOUT, VMON_TEST_CMD_TIMEOUT (as test_linux_boot.py).
"""

import os
import re
import socket
import threading
import time

import pytest
from vmconsole import Console

BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")
# Each device must work on every transport.
TRANSPORTS = ["mmio", "pci"]


class Worker(threading.Thread):
    """Runs fn() in a thread, keeping its result or exception."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None

    def run(self):
        try:
            self.result = self.fn()
        except Exception as e:  # reported by finish()
            self.error = e

    def finish(self, con, timeout):
        """Keep the console drained while the worker runs; return its result."""
        deadline = time.monotonic() + timeout
        while self.is_alive() and time.monotonic() < deadline:
            con._pump(0.2)
        assert not self.is_alive(), f"host side still running after {timeout}s\n{con.tail()}"
        if self.error:
            raise AssertionError(f"host side failed: {self.error!r}\n{con.tail()}")
        return self.result


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        buf += b
    return buf


def host_connect(path, port, timeout):
    """CONNECT to the guest's port, retrying while the guest's listener is not up yet."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(f"CONNECT {port}\n".encode())
        line = read_line(s)
        if line.startswith(b"OK "):
            return s, line
        s.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no OK from guest port {port} (last answer {line!r})")
        time.sleep(0.5)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_virtio_vsock(vmon_bin, default_guest, log_path, tmp_path, transport):
    uds = tmp_path / "vsock.sock"
    cmdline = default_guest["cmdline"] + " quiet"
    argv = [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(default_guest["kernel"]),
        "--initrd", str(default_guest["initrd"]),
        "--cmdline", cmdline,
        "--mem", "256M", "--serial", "stdio", "--transport", transport,
        "--vsock", f"cid=7,uds={uds}",
    ]  # fmt: skip
    with Console(argv, log_path=log_path, prompt=PROMPT_RX) as con:
        con.expect(r"VMON-GUEST-READY", BOOT_TIMEOUT)
        con.expect(PROMPT_RX, CMD_TIMEOUT)
        assert uds.exists()

        out, rc = con.run(
            "ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep virtio; "
            "cat /sys/bus/virtio/devices/*/device; which vsock-tool",
            CMD_TIMEOUT,
        )
        assert rc == 0, con.tail()
        assert "0x0013" in out, out

        # Host-initiated, to an echo server in the guest.
        con.sendline("vsock-tool echo 5000 &")
        con.expect(r"listening on port 5000", CMD_TIMEOUT)
        payload = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(512 * 1024))

        def echo_client():
            s, ok = host_connect(uds, 5000, CMD_TIMEOUT)
            assert re.fullmatch(rb"OK \d+\n", ok), ok
            s.sendall(b"hello over vsock\n")
            assert read_line(s) == b"hello over vsock\n"
            got = bytearray()
            t0 = time.monotonic()
            sender = threading.Thread(target=s.sendall, args=(payload,), daemon=True)
            sender.start()
            while len(got) < len(payload):
                b = s.recv(65536)
                if not b:
                    break
                got += b
            sender.join(CMD_TIMEOUT)
            secs = time.monotonic() - t0
            s.shutdown(socket.SHUT_WR)
            tail = s.recv(16)  # the guest closes after our shutdown: end of file
            s.close()
            return ok, bytes(got), secs, tail

        w = Worker(echo_client)
        w.start()
        ok, got, secs, tail = w.finish(con, CMD_TIMEOUT * 3)
        assert got == payload, f"echo differs: {len(got)} bytes back of {len(payload)}"
        assert tail == b""
        print(f"vsock echo: {len(payload) >> 10} KiB both ways in {secs * 1000:.0f} ms ({ok!r})")
        out, rc = con.run("wait", CMD_TIMEOUT)  # the echo server ended with the connection
        assert rc == 0, out

        # CONNECT to a port nobody listens on: closed, no OK.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(CMD_TIMEOUT)
        s.connect(str(uds))
        s.sendall(b"CONNECT 5001\n")
        w = Worker(lambda: s.recv(64))
        w.start()
        assert w.finish(con, CMD_TIMEOUT) == b""
        s.close()

        # Guest-initiated, to a host listener on PATH_6000.
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(f"{uds}_6000")
        lsock.listen(1)
        lsock.settimeout(CMD_TIMEOUT)

        def server():
            c, _ = lsock.accept()
            c.settimeout(CMD_TIMEOUT)
            line = read_line(c)
            c.sendall(b"reply-from-host " + line)
            c.close()
            return line

        w = Worker(server)
        w.start()
        out, rc = con.run("echo hi-from-guest | vsock-tool connect 2 6000", CMD_TIMEOUT)
        assert w.finish(con, CMD_TIMEOUT) == b"hi-from-guest\n"
        assert rc == 0, out
        assert "reply-from-host hi-from-guest" in out, out
        lsock.close()

        # No listener on the host: the guest's connect fails.
        out, rc = con.run("vsock-tool connect 2 6001 </dev/null", CMD_TIMEOUT)
        assert rc == 1 and "connect" in out, out

        con.sendline("poweroff")
        con.expect(r"vmon-guest: powering off", CMD_TIMEOUT)
        assert con.wait(CMD_TIMEOUT) == 0, con.tail()
    assert not uds.exists(), "vmon left its socket behind"
