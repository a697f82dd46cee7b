#!/usr/bin/env python3
"""Linux on emu against QEMU TCG: the default guest (Debian cloud kernel + busybox initramfs) boots
with two virtio-blk disks, reads one (256 MiB, O_DIRECT dd) and writes the other (256 MiB,
O_DIRECT dd), then powers off. The same kernel, initramfs, command line and disk files go to
`vmon --accel emu` and to `qemu-system-x86_64 -M microvm -accel tcg` (virtio-blk-device on
virtio-mmio, announced through ACPI as vmon does).

Printed per VMM (median of VMON_BENCH_LINUX_RUNS runs, default 3) and as vmon/QEMU ratios:
  boot     exec to the guest's VMON-GUEST-READY marker (wall time)
  total    exec to process exit
  read     MiB/s of the sequential read, timed on the host between two marker lines
  write    MiB/s of the sequential write, likewise
and for vmon the guest instructions retired (vmon -v prints them per vCPU) over the wall time of
the whole run: the emulator's average speed, idle time included.
QEMU's command line has tsc_early_khz= because its TCG guest sometimes hangs calibrating the TSC
(vmon's CPUID leaf 0x15 gives the frequency, so the option does nothing there)."""
import os
import re
import select
import statistics
import subprocess
import sys
import time

MIB = 1 << 20
DISK_MIB = 256
RUN = ("cd /sys/block; for d in vd*; do read s < $d/serial; ln -s /dev/$d /dev/bench-$s; done; "
       "echo BENCH-R0; dd if=/dev/bench-src of=/dev/null bs=1M iflag=direct; echo BENCH-R1; "
       f"dd if=/dev/zero of=/dev/bench-dst bs=1M count={DISK_MIB} oflag=direct; echo BENCH-W1")
MARKS = ["VMON-GUEST-READY", "BENCH-R0", "BENCH-R1", "BENCH-W1"]


def run_once(argv, timeout):
    """Run argv; return the host time of each marker line, the total time and stderr."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    seen, buf, err = {}, b"", b""
    fds = {p.stdout.fileno(): "out", p.stderr.fileno(): "err"}
    while fds:
        left = t0 + timeout - time.monotonic()
        if left <= 0:
            p.kill()
            raise RuntimeError(f"{argv[0]}: no exit after {timeout}s; markers {sorted(seen)}")
        r, _, _ = select.select(list(fds), [], [], left)
        now = time.monotonic() - t0
        for fd in r:
            chunk = os.read(fd, 65536)
            if not chunk:
                del fds[fd]
                continue
            if fds[fd] == "err":
                err += chunk
                continue
            buf += chunk
            for m in MARKS:
                if m not in seen and re.search(rb"^" + m.encode() + rb"\r?$", buf, re.M):
                    seen[m] = now
    rc = p.wait()
    total = time.monotonic() - t0
    if rc != 0 or len(seen) != len(MARKS):
        tail = buf[-1500:].decode(errors="replace")
        raise RuntimeError(f"{argv[0]}: status {rc}, markers {sorted(seen)}\n{tail}")
    return seen, total, err.decode(errors="replace")


def figures(seen, total):
    return {
        "boot": seen["VMON-GUEST-READY"],
        "total": total,
        "read": DISK_MIB / (seen["BENCH-R1"] - seen["BENCH-R0"]),
        "write": DISK_MIB / (seen["BENCH-W1"] - seen["BENCH-R1"]),
    }


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    g = os.path.join(build, "guest")
    kernel, initrd = os.path.join(g, "vmlinuz"), os.path.join(g, "initrd.cpio.gz")
    with open(os.path.join(g, "cmdline")) as f:
        cmdline = f.read().strip()
    cmdline += f' quiet tsc_early_khz=2000000 vmon.run="{RUN}"'
    runs = int(os.environ.get("VMON_BENCH_LINUX_RUNS", "3"))
    src = os.path.join(build, "bench", "linux-src.img")
    dst = os.path.join(build, "bench", "linux-dst.img")
    os.makedirs(os.path.dirname(src), exist_ok=True)
    if not os.path.exists(src) or os.path.getsize(src) != DISK_MIB * MIB:
        with open(src, "wb") as f:
            for _ in range(DISK_MIB):
                f.write(os.urandom(MIB))
    with open(dst, "wb") as f:
        f.truncate(DISK_MIB * MIB)

    vmon = [os.path.join(build, "vmon"), "run", "-v", "--accel", "emu", "--mem", "256M",
            "--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline, "--serial", "stdio",
            "--disk", f"path={src},ro,serial=src", "--disk", f"path={dst},serial=dst"]
    qemu = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", "256M",
            "-kernel", kernel, "-initrd", initrd, "-append", cmdline, "-serial", "stdio",
            "-display", "none", "-no-reboot", "-nodefaults",
            "-drive", f"if=none,id=d0,file={src},format=raw,readonly=on",
            "-device", "virtio-blk-device,drive=d0,serial=src",
            "-drive", f"if=none,id=d1,file={dst},format=raw",
            "-device", "virtio-blk-device,drive=d1,serial=dst"]
    print(f"linux-emu: default guest, 256M RAM, 1 vCPU, two {DISK_MIB} MiB virtio-blk disks "
          f"(O_DIRECT dd in the guest), median of {runs} runs")
    res, ips = {}, []
    for name, argv in (("vmon emu", vmon), ("qemu tcg microvm", qemu)):
        rows = []
        for _ in range(runs):
            try:
                seen, total, err = run_once(argv, 600)
            except (RuntimeError, OSError) as e:
                print(f"  {name}: FAILED: {e}")
                rows = []
                break
            rows.append(figures(seen, total))
            if name == "vmon emu":
                n = sum(int(x) for x in re.findall(r"retired (\d+) instructions", err))
                ips.append(n / total / 1e6)
        if rows:
            res[name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"  {'':18} {'boot s':>8} {'total s':>8} {'read MiB/s':>11} {'write MiB/s':>12}")
    for name, r in res.items():
        print(f"  {name:18} {r['boot']:8.2f} {r['total']:8.2f} {r['read']:11.0f} {r['write']:12.0f}")
    if len(res) == 2:
        v, q = res["vmon emu"], res["qemu tcg microvm"]
        print(f"  ratio vmon/qemu: boot {v['boot'] / q['boot']:.2f}x the time, total "
              f"{v['total'] / q['total']:.2f}x, read {v['read'] / q['read']:.2f}x the "
              f"throughput, write {v['write'] / q['write']:.2f}x")
    if ips:
        print(f"  vmon emu: {statistics.median(ips):.0f} million guest instructions per second "
              "of wall time (whole run, idle included)")
    return 0 if len(res) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
