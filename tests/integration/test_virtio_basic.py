"""virtio devices with the default Linux guest on --accel emu, on each transport (one boot each,
about 20 s).

vmon runs with --rng --console virtio --serial stdio --transport T: the kernel log and /init's
messages arrive through the 8250 (ttyS0) on stdout, while /init, finding a virtio console, runs the
shell on /dev/hvc0 (guest/init.sh, vmon.shell), so every command typed reaches the guest through the
virtio console's receive queue and every answer comes back through its transmit queue, on the same
stdout. The checks:
  - mmio: the guest found both devices through ACPI (LNRO0005) and bound virtio_mmio to them, and
    the command line got virtio_mmio.device=;
  - pci: both devices are PCI functions 00:01.0 and 00:02.0 (1af4:1043, 1af4:1044, revision 1,
    subsystem 1af4:1100) with BAR4 and BAR1 assigned inside PCI0's window, bound to virtio-pci,
    with MSI-X enabled (msi_irqs of mode msix) and no virtio_mmio.device= on the command line;
  - virtio-rng: /dev/hwrng is the virtio source, 4 x 64 bytes read as 256 bytes, two reads differ;
  - virtio-console: /dev/hvc0 exists, text written to it appears on vmon's stdout, typed input
    reaches the guest (the shell itself), and the 8250 received none of it;
  - both devices' interrupts were delivered: mmio GSI 16 and 17 (level, IO-APIC); pci one
    PCI-MSI vector per queue and one for configuration changes, the queue vectors counting.
Environment knobs: VMON_TEST_BOOT_TIMEOUT, VMON_TEST_CMD_TIMEOUT (as test_linux_boot.py).
"""

import os
import re

import pytest

from vmconsole import Console

BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")


TRANSPORTS = ["mmio", "pci"]
PCI_DEVICES = "/sys/bus/pci/devices"


def check_pci(con):
    """Both devices as virtio-pci functions with MSI-X (sysfs, as lspci would show them)."""
    out, rc = con.run(
        f"cd {PCI_DEVICES}; for d in *; do echo $d $(cat $d/vendor $d/device $d/revision "
        "$d/subsystem_vendor $d/subsystem_device $d/class) "
        "$(basename $(readlink $d/driver) 2>/dev/null); done; cd /",
        CMD_TIMEOUT,
    )
    assert rc == 0, con.tail()
    funcs = {m.group(1): m.group(2).split() for m in re.finditer(r"^0000:(\S+) (.*)$", out, re.M)}
    assert funcs.get("00:00.0", [""])[:2] == ["0x8086", "0x29c0"], out
    assert funcs.get("00:01.0") == ["0x1af4", "0x1043", "0x01", "0x1af4", "0x1100", "0x078000",
                                    "virtio-pci"], out
    assert funcs.get("00:02.0") == ["0x1af4", "0x1044", "0x01", "0x1af4", "0x1100", "0x00ff00",
                                    "virtio-pci"], out
    for fn, nvec in (("00:01.0", 3), ("00:02.0", 2)):
        out, rc = con.run(f"head -n 5 {PCI_DEVICES}/0000:{fn}/resource; "
                          f"cat {PCI_DEVICES}/0000:{fn}/msi_irqs/*", CMD_TIMEOUT)
        assert rc == 0, con.tail()
        lines = out.splitlines()
        for bar in (1, 4):
            start, end, _ = (int(x, 16) for x in lines[bar].split())
            assert 0xC0000000 <= start < end < 0xD0000000, (fn, bar, out)
        assert lines[5:] == ["msix"] * nvec, out


def check_interrupts(con, transport):
    out, rc = con.run("cat /proc/tty/driver/serial; grep virtio /proc/interrupts", CMD_TIMEOUT)
    assert rc == 0, con.tail()
    # The 8250 got no input: it all went to the virtio console.
    assert re.search(r"^0: uart:16550A port:000003F8 irq:4 tx:\d+ rx:0\b", out, re.M), out
    if transport == "mmio":
        # Level-triggered IO-APIC pins 16 and 17.
        irqs = {}
        for m in re.finditer(r"^\s*(\d+):\s+(\d+)\s+IO-APIC\s+(\d+)-fasteoi\s+(virtio\d)$",
                             out, re.M):
            irqs[m.group(4)] = (int(m.group(3)), int(m.group(2)))
        assert irqs.get("virtio0", (0, 0))[0] == 16 and irqs["virtio0"][1] > 0, out
        assert irqs.get("virtio1", (0, 0))[0] == 17 and irqs["virtio1"][1] > 0, out
        return
    # MSI-X: a config vector and one per queue (console: input, output; rng: input), edge.
    vecs = {m.group(2): int(m.group(1))
            for m in re.finditer(r"^\s*\d+:\s+(\d+)\s+PCI-MSI(?:X)?\S*\s+\d+-edge\s+(virtio\S+)$",
                                 out, re.M)}
    assert set(vecs) >= {"virtio0-config", "virtio0-input", "virtio0-output",
                         "virtio1-config", "virtio1-input"}, out
    assert vecs["virtio0-input"] > 0 and vecs["virtio1-input"] > 0, out
    assert "IO-APIC" not in out, out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_virtio_rng_and_console(vmon_bin, default_guest, log_path, transport):
    # quiet: no late kernel messages on ttyS0 in the middle of a command's output.
    cmdline = default_guest["cmdline"] + " quiet"
    argv = [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(default_guest["kernel"]),
        "--initrd", str(default_guest["initrd"]),
        "--cmdline", cmdline,
        "--mem", "256M", "--serial", "stdio",
        "--rng", "--console", "virtio", "--transport", transport,
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
        if transport == "mmio":
            assert "virtio_mmio.device=512@0xd0000000:16" in out, out
            assert "virtio_mmio.device=512@0xd0001000:17" in out, out
        else:
            assert "virtio_mmio.device=" not in out, out

        # Both devices on the virtio bus: console (3) then rng (4).
        out, rc = con.run(
            "ls /sys/bus/virtio/devices; cat /sys/bus/virtio/devices/*/device; "
            "ls /sys/bus/acpi/devices | grep -c LNRO0005",
            CMD_TIMEOUT,
        )
        assert re.findall(r"\bvirtio\d+\b", out) == ["virtio0", "virtio1"], out
        assert re.findall(r"^0x000(\d)$", out, re.M) == ["3", "4"], out
        # mmio: found through ACPI; pci: no virtio-mmio devices at all.
        assert out.splitlines()[-1] == ("2" if transport == "mmio" else "0"), out
        if transport == "pci":
            check_pci(con)

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

        check_interrupts(con, transport)

        con.sendline("poweroff")
        con.expect(r"vmon-guest: powering off", CMD_TIMEOUT)
        status = con.wait(CMD_TIMEOUT)
        assert status == 0, f"VMM exit status {status}\n{con.tail()}"
