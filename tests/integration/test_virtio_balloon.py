"""virtio-balloon with the default Linux guest on --accel emu (one boot per transport: mmio, pci),
driven through the --control channel.

vmon runs with --mem 256M --balloon stats=1 --control PATH. The guest fills 120 MiB of tmpfs
(/tmp, remounted with room for it) and removes it: its memory is free again, but vmon's guest RAM mapping still holds those
pages (VmRSS of the vmon process). Then:
  - `balloon-stats` answers one line of key=value with the guest's statistics (free_memory, ...);
  - `balloon 160M` -> OK; the guest inflates until its `actual` is 160 MiB (polled through
    balloon-stats), and vmon's RSS drops by at least 100 MiB (the inflated pages are discarded
    with MADV_DONTNEED). Not 200M: this guest's MemTotal is 242 of its 256 MiB and about 30 MiB
    of that stays in use, so its driver stops near 188 MiB for want of free pages;
  - the guest sees it: MemTotal in /proc/meminfo shrinks by about 160 MiB;
  - `balloon 0` -> the guest deflates back to actual 0 and can use that memory again (another
    120 MiB written and removed);
  - malformed and unknown commands get "ERR ...".
Environment knobs: VMON_TEST_BOOT_TIMEOUT, VMON_TEST_CMD_TIMEOUT (as test_linux_boot.py).
"""

import os
import re
import socket
import time

import pytest
from vmconsole import Console

BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")
# Each device must work on every transport.
TRANSPORTS = ["mmio", "pci"]
MIB = 1 << 20


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Control:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(CMD_TIMEOUT)
        self.s.connect(str(path))
        self.buf = b""

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\n")
        while b"\n" not in self.buf:
            b = self.s.recv(4096)
            assert b, "control channel closed"
            self.buf += b
        reply, self.buf = self.buf.split(b"\n", 1)
        return reply.decode()

    def stats(self):
        reply = self.cmd("balloon-stats")
        assert not reply.startswith("ERR"), reply
        return {k: int(v) for k, v in (kv.split("=") for kv in reply.split())}


def meminfo_total_kib(con):
    out, rc = con.run("grep MemTotal /proc/meminfo", CMD_TIMEOUT)
    assert rc == 0, con.tail()
    return int(re.search(r"MemTotal:\s+(\d+) kB", out).group(1))


def wait_actual(con, ctl, mib, timeout):
    deadline = time.monotonic() + timeout
    while True:
        st = ctl.stats()
        if st["actual_mib"] == mib:
            return st
        assert time.monotonic() < deadline, f"actual {st['actual_mib']} MiB, want {mib}: {st}"
        con._pump(0.5)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_virtio_balloon(vmon_bin, default_guest, log_path, tmp_path, transport):
    ctl_path = tmp_path / "control.sock"
    cmdline = default_guest["cmdline"] + " quiet"
    argv = [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(default_guest["kernel"]),
        "--initrd", str(default_guest["initrd"]),
        "--cmdline", cmdline,
        "--mem", "256M", "--serial", "stdio", "--transport", transport,
        "--balloon", "stats=1", "--control", str(ctl_path),
    ]  # fmt: skip
    with Console(argv, log_path=log_path, prompt=PROMPT_RX) as con:
        con.expect(r"VMON-GUEST-READY", BOOT_TIMEOUT)
        con.expect(PROMPT_RX, CMD_TIMEOUT)
        ctl = Control(ctl_path)
        assert ctl.cmd("frobnicate").startswith("ERR"), "unknown command accepted"
        assert ctl.cmd("balloon lots").startswith("ERR")
        assert ctl.cmd("balloon 1T").startswith("ERR")  # more than the guest's RAM

        out, rc = con.run("ls /sys/bus/virtio/drivers/virtio_balloon | grep virtio", CMD_TIMEOUT)
        assert rc == 0, con.tail()
        st = ctl.stats()
        assert st["target_mib"] == 0 and st["actual_mib"] == 0, st
        assert st.get("total_memory", 0) > 200 * MIB, st  # the guest's first statistics
        total_before = meminfo_total_kib(con)

        out, rc = con.run(
            "mount -o remount,size=200M /tmp && dd if=/dev/zero of=/tmp/x bs=1M count=120 2>&1 | tail -1; rm /tmp/x",
            CMD_TIMEOUT * 3,
        )
        assert rc == 0 and "120+0 records out" in out, out
        rss_full = rss_bytes(con.proc.pid)

        t0 = time.monotonic()
        assert ctl.cmd("balloon 160M") == "OK"
        st = wait_actual(con, ctl, 160, CMD_TIMEOUT * 3)
        secs = time.monotonic() - t0
        time.sleep(0.5)
        rss_ballooned = rss_bytes(con.proc.pid)
        drop = rss_full - rss_ballooned
        print(
            f"balloon: RSS {rss_full / MIB:.0f} MiB with 120 MiB touched, "
            f"{rss_ballooned / MIB:.0f} MiB after inflating to 160 MiB in {secs:.1f}s "
            f"(drop {drop / MIB:.0f} MiB); {st}"
        )
        assert st["inflated_pages"] >= 160 * 256, st
        assert drop >= 100 * MIB, f"RSS dropped by only {drop / MIB:.0f} MiB"
        total_ballooned = meminfo_total_kib(con)
        assert 155 * 1024 <= total_before - total_ballooned <= 165 * 1024, (
            total_before,
            total_ballooned,
        )

        # Deflate: the guest gets its memory back and can use it.
        assert ctl.cmd("balloon 0") == "OK"
        st = wait_actual(con, ctl, 0, CMD_TIMEOUT * 3)
        assert st["deflated_pages"] >= 160 * 256, st
        assert abs(meminfo_total_kib(con) - total_before) < 1024
        out, rc = con.run(
            "dd if=/dev/zero of=/tmp/y bs=1M count=120 2>&1 | tail -1; rm /tmp/y",
            CMD_TIMEOUT * 3,
        )
        assert rc == 0 and "120+0 records out" in out, out

        con.sendline("poweroff")
        con.expect(r"vmon-guest: powering off", CMD_TIMEOUT)
        assert con.wait(CMD_TIMEOUT) == 0, con.tail()
    assert not ctl_path.exists(), "vmon left its control socket behind"


def test_free_page_reporting(vmon_bin, default_guest, log_path, tmp_path):
    """--balloon reporting: memory the guest frees goes back to the host by itself (no balloon
    size change): after 120 MiB written and removed, vmon's RSS falls by at least 80 MiB."""
    ctl_path = tmp_path / "control.sock"
    argv = [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(default_guest["kernel"]),
        "--initrd", str(default_guest["initrd"]),
        "--cmdline", default_guest["cmdline"] + " quiet",
        "--mem", "256M", "--serial", "stdio",
        "--balloon", "reporting", "--control", str(ctl_path),
    ]  # fmt: skip
    with Console(argv, log_path=log_path, prompt=PROMPT_RX) as con:
        con.expect(r"VMON-GUEST-READY", BOOT_TIMEOUT)
        con.expect(PROMPT_RX, CMD_TIMEOUT)
        ctl = Control(ctl_path)
        out, rc = con.run(
            "mount -o remount,size=200M /tmp && dd if=/dev/zero of=/tmp/x bs=1M count=120 2>&1 "
            "| tail -1",
            CMD_TIMEOUT * 3,
        )
        assert rc == 0 and "120+0 records out" in out, out
        rss_full = rss_bytes(con.proc.pid)
        out, rc = con.run("rm /tmp/x", CMD_TIMEOUT)
        assert rc == 0, out
        deadline = time.monotonic() + CMD_TIMEOUT
        while True:
            rss = rss_bytes(con.proc.pid)
            st = ctl.stats()
            if rss_full - rss >= 80 * MIB or time.monotonic() > deadline:
                break
            con._pump(0.5)
        print(
            f"free page reporting: RSS {rss_full / MIB:.0f} MiB -> {rss / MIB:.0f} MiB, "
            f"{st['reported_pages'] >> 8} MiB reported"
        )
        assert st["actual_mib"] == 0 and st["reported_pages"] >= 80 * 256, st
        assert rss_full - rss >= 80 * MIB, f"RSS dropped by only {(rss_full - rss) / MIB:.0f} MiB"
        con.sendline("poweroff")
        con.expect(r"vmon-guest: powering off", CMD_TIMEOUT)
        assert con.wait(CMD_TIMEOUT) == 0, con.tail()
