"""The serial console as a user sees it: vmon's stdin/stdout wired to the guest's COM1 through
pipes and through a terminal (raw mode, Ctrl-A x, terminal restored), and vmon's exit statuses
and error lines. Runs the freestanding echo/exit guests on --accel kvm."""

import os
import pty
import select
import subprocess
import termios
import time

import pytest


def _kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


needs_kvm = pytest.mark.skipif(not _kvm_usable(), reason="/dev/kvm cannot be opened")


@pytest.fixture(scope="module")
def guests(build_dir):
    g = build_dir / "guests"
    if not (g / "echo.elf").is_file():
        pytest.skip("test guests not built (make guests)")
    return g


def _read_until(fd, marker, timeout=20.0, buf=b""):
    deadline = time.monotonic() + timeout
    while marker not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {marker!r}; got {buf[-500:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF waiting for {marker!r}; got {buf[-500:]!r}")
            buf += chunk
    return buf


@needs_kvm
def test_pipe_echo_large_input(vmon_bin, guests):
    """Input through a pipe reaches the guest in order with nothing lost, even when it is far
    larger than the UART's 16-byte FIFO (back-pressure), and output comes back on stdout."""
    p = subprocess.Popen([str(vmon_bin), "run", "--accel", "kvm", "--mem", "32M", "--kernel",
                          str(guests / "echo.elf")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = _read_until(p.stdout.fileno(), b"vmon-test: echo: ready")
        payload = bytes((i * 7 + 13) % 94 + 33 for i in range(3000))
        p.stdin.write(payload + b"\x04")
        p.stdin.flush()
        out = _read_until(p.stdout.fileno(), b"echo: PASS", timeout=60, buf=out)
        assert p.wait(timeout=10) == 1
    finally:
        p.kill()
    after = out.split(b"vmon-test: echo: ready", 1)[1].lstrip(b"\r\n")
    echoed = after.split(b"vmon-test: echo: received")[0]
    assert echoed == payload
    s = 0
    for c in payload:
        s = (s * 31 + c) & 0xFFFFFFFF
    assert f"received {len(payload)} bytes, checksum {s:08x}".encode() in out


@needs_kvm
def test_tty_raw_mode_ctrl_a_x_and_restore(vmon_bin, guests):
    """On a terminal, vmon switches it to raw mode (the terminal echoes nothing itself; the
    guest's echo is the only copy), Ctrl-A x quits with status 0, Ctrl-A Ctrl-A sends one Ctrl-A,
    and the terminal's settings are restored on exit."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([str(vmon_bin), "run", "--accel", "kvm", "--mem", "32M", "--kernel",
                          str(guests / "echo.elf")],
                         stdin=slave, stdout=slave, stderr=subprocess.PIPE, close_fds=True)
    try:
        out = _read_until(master, b"vmon-test: echo: ready")
        during = termios.tcgetattr(slave)
        assert not during[3] & termios.ECHO, "terminal left in echo mode"
        assert not during[3] & termios.ICANON, "terminal left in canonical mode"
        os.write(master, b"xyz")
        out = _read_until(master, b"xyz", buf=out)
        assert out.count(b"xyz") == 1, "typed text echoed twice: terminal not raw"
        os.write(master, b"\x01\x01")  # Ctrl-A Ctrl-A: one Ctrl-A reaches the guest
        out = _read_until(master, b"xyz\x01", buf=out)
        assert b"\x01\x01" not in out
        os.write(master, b"\x01x")
        assert p.wait(timeout=10) == 0
    finally:
        p.kill()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    assert after == before, "terminal settings not restored"


@needs_kvm
def test_serial_to_file_and_none(vmon_bin, guests, tmp_path):
    log = tmp_path / "serial.log"
    r = subprocess.run([str(vmon_bin), "run", "--accel", "kvm", "--mem", "32M", "--serial",
                        str(log), "--kernel", str(guests / "hello.elf"), "--cmdline",
                        "hello=world"], capture_output=True, timeout=60)
    assert r.returncode == 1
    assert r.stdout == b""
    assert b"vmon-test: hello: PASS" in log.read_bytes()
    r = subprocess.run([str(vmon_bin), "run", "--accel", "kvm", "--mem", "32M", "--serial",
                        "none", "--kernel", str(guests / "exit_debug.elf")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0x55
    assert r.stdout == b""


def test_errors_are_one_clear_line(vmon_bin, guests, tmp_path):
    """Bad input gives a distinct status and one line on stderr, never a crash."""
    cases = [
        (["run", "--kernel", "/nonexistent/kernel"], 2, b"No such file"),
        (["run", "--kernel", str(guests / "hello.elf"), "--cpus", "0"], 2, b"--cpus 0"),
        (["run", "--kernel", str(guests / "hello.elf"), "--mem", "1T"], 2, b"--mem"),
        (["run", "--kernel", str(guests / "hello.elf"), "--frobnicate"], 2, b"unknown option"),
        (["bogus"], 2, b"unknown command"),
        (["run", "--kernel", str(guests / "hello.elf"), "--console", "hvc"], 2, b"--console hvc"),
        (["run", "--kernel", str(guests / "hello.elf"), "--transport", "isa"], 2,
         b"--transport isa: must be mmio or pci"),
    ]
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x7fELF" + b"\xff" * 60)
    if _kvm_usable():
        cases.append((["run", "--accel", "kvm", "--kernel", str(junk)], 4, b"kernel"))
    for args, status, text in cases:
        r = subprocess.run([str(vmon_bin)] + args, capture_output=True, timeout=30)
        assert r.returncode == status, (args, r.returncode, r.stderr)
        lines = r.stderr.decode().strip().splitlines()
        assert len(lines) == 1, (args, lines)
        assert lines[0].startswith("vmon: error: "), lines
        assert text in r.stderr, (args, r.stderr)


def test_version_and_help(vmon_bin):
    r = subprocess.run([str(vmon_bin), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("vmon ")
    r = subprocess.run([str(vmon_bin), "run", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for opt in ("--kernel", "--initrd", "--cmdline", "--mem", "--cpus", "--accel", "--serial",
                "--rng", "--console", "--transport"):
        assert opt in r.stdout
