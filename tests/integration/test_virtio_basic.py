"""virtio-mmio devices with the default Linux guest on --accel emu (one boot, about 20 s).

vmon runs with --rng --console virtio --serial stdio: the kernel log and /init's messages arrive
through the 8250 (ttyS0) on stdout, while /init, finding a virtio console, runs the shell on
/dev/hvc0 (guest/init.sh, vmon.shell), so every command typed reaches the guest through the virtio console's receive queue
and every answer comes back through its transmit queue, on the same stdout. The checks:
  - the guest found both devices through ACPI (LNRO0005) and bound virtio_mmio to them;
  - virtio-rng: /dev/hwrng is the virtio source, 4 x 64 bytes read as 256 bytes, two reads differ;
  - virtio-console: /dev/hvc0 exists, text written to it appears on vmon's stdout, typed input
    reaches the guest (the shell itself), and the 8250 received none of it;
  - both devices' interrupts (GSI 16 and 17, level, IO-APIC) were delivered.
Environment knobs: VMON_TEST_BOOT_TIMEOUT, VMON_TEST_CMD_TIMEOUT (as test_linux_boot.py).
"""

import os
import re

from vmconsole import Console

BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")


def test_virtio_rng_and_console(vmon_bin, default_guest, log_path):
    # quiet: no late kernel messages on ttyS0 in the middle of a command's output.
    cmdline = default_guest["cmdline"] + " quiet"
    argv = [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(default_guest["kernel"]),
        "--initrd", str(default_guest["initrd"]),
        "--cmdline", cmdline,
        "--mem", "256M", "--serial", "stdio",
        "--rng", "--console", "virtio", "--transport", "mmio",
    ]  # fmt: skip
    with Console(argv, log_path=log_path, prompt=PROMPT_RX) as con:
        # Through the 8250: /init's messages on the kernel console.
        con.expect(r"vmon-guest: loaded \d+ modules", BOOT_TIMEOUT)
        con.expect(r"VMON-GUEST-READY", CMD_TIMEOUT)
        con.expect(r"vmon-guest: shell on /dev/hvc0", CMD_TIMEOUT)
        # Through the virtio console from here on.
        con.expect(PROMPT_RX, CMD_TIMEOUT)
        print(f"shell on hvc0 after {con.elapsed():.1f}s")

        out, rc = con.run("tty; cat /proc/cmdline", CMD_TIMEOUT)
        assert rc == 0, con.tail()
        assert out.splitlines()[0] == "/dev/hvc0", out
        assert "virtio_mmio.device=512@0xd0000000:16" in out, out
        assert "virtio_mmio.device=512@0xd0001000:17" in out, out

        # Both devices, found through ACPI, on the virtio bus: console (3) then rng (4).
        out, rc = con.run(
            "ls /sys/bus/virtio/devices; cat /sys/bus/virtio/devices/*/device; "
            "ls /sys/bus/acpi/devices | grep LNRO0005",
            CMD_TIMEOUT,
        )
        assert rc == 0, con.tail()
        assert re.findall(r"\bvirtio\d+\b", out) == ["virtio0", "virtio1"], out
        assert re.findall(r"^0x000(\d)$", out, re.M) == ["3", "4"], out
        assert len(re.findall(r"^LNRO0005:0\d$", out, re.M)) == 2, out

        # virtio-rng behind /dev/hwrng.
        out, rc = con.run(
            "ls -l /dev/hwrng; cat /sys/class/misc/hw_random/rng_current; "
            "dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c",
            CMD_TIMEOUT,
        )
        assert rc == 0, con.tail()
        assert re.search(r"^c.* 10, +183 .*/dev/hwrng$", out, re.M), out
        assert re.search(r"^virtio_rng\.\d+$", out, re.M), out
        assert out.split()[-1] == "256", out
        reads = []
        for _ in range(2):
            out, rc = con.run("dd if=/dev/hwrng bs=64 count=4 2>/dev/null | od -An -tx1", CMD_TIMEOUT)
            assert rc == 0, con.tail()
            data = "".join(out.split())
            assert re.fullmatch(r"[0-9a-f]{512}", data), out
            reads.append(data)
        assert reads[0] != reads[1], "two reads of /dev/hwrng returned the same 256 bytes"
        assert reads[0] != "00" * 256, reads[0]

        # virtio-console output: text written to /dev/hvc0 (not the shell's stdout) appears.
        con.sendline("echo VIRTIO-HVC-\"\"OUT $((6 * 7)) >/dev/hvc0")
        con.expect(r"VIRTIO-HVC-OUT 42\n", CMD_TIMEOUT)
        con.expect(PROMPT_RX, CMD_TIMEOUT)
        # Input: a line read from the console in the guest is the line typed here.
        con.sendline("read -r line; echo \"got:[$line]\"")
        con.sendline("hello from the host 123")
        con.expect(r"got:\[hello from the host 123\]\n", CMD_TIMEOUT)
        con.expect(PROMPT_RX, CMD_TIMEOUT)

        # The 8250 got no input (it all went to the virtio console), and both virtio interrupts
        # (level-triggered IO-APIC pins 16 and 17) were delivered.
        out, rc = con.run("cat /proc/tty/driver/serial; grep virtio /proc/interrupts", CMD_TIMEOUT)
        assert rc == 0, con.tail()
        assert re.search(r"^0: uart:16550A port:000003F8 irq:4 tx:\d+ rx:0\b", out, re.M), out
        irqs = {}
        for m in re.finditer(r"^\s*(\d+):\s+(\d+)\s+IO-APIC\s+(\d+)-fasteoi\s+(virtio\d)$", out, re.M):
            irqs[m.group(4)] = (int(m.group(3)), int(m.group(2)))
        assert irqs.get("virtio0", (0, 0))[0] == 16 and irqs["virtio0"][1] > 0, out
        assert irqs.get("virtio1", (0, 0))[0] == 17 and irqs["virtio1"][1] > 0, out

        con.sendline("poweroff")
        con.expect(r"vmon-guest: powering off", CMD_TIMEOUT)
        status = con.wait(CMD_TIMEOUT)
        assert status == 0, f"VMM exit status {status}\n{con.tail()}"
