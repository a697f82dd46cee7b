#!/usr/bin/env python3
"""Linux on emu against QEMU TCG, same kernel, initramfs, command line and disk files:
`vmon --accel emu` and `qemu-system-x86_64 -M microvm -accel tcg` (virtio-blk-device on
virtio-mmio, announced through ACPI as vmon does).

boot: the default guest (Debian cloud kernel + busybox initramfs) with vmon.poweroff=1, no disks:
  wall time from exec to the guest's VMON-GUEST-READY marker and to process exit.
blk:  the same guest with two virtio-blk disks reads one (256 MiB, O_DIRECT dd) and writes the
  other (256 MiB, O_DIRECT dd, into a freshly truncated file), then powers off: MiB/s of each,
  timed on the host between marker lines the guest prints.
Medians of VMON_BENCH_LINUX_RUNS runs (default 3), and vmon/QEMU ratios. For vmon also the guest
instructions retired (vmon -v prints them per vCPU) over the wall time of the boot runs: the
emulator's average speed, idle time included.
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
BOOT_MARKS = ["VMON-GUEST-READY"]
BLK_MARKS = ["VMON-GUEST-READY", "BENCH-R0", "BENCH-R1", "BENCH-W1"]


def run_once(argv, timeout, marks):
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
            for m in marks:
                if m not in seen and re.search(rb"^" + m.encode() + rb"\r?$", buf, re.M):
                    seen[m] = now
    rc = p.wait()
    total = time.monotonic() - t0
    if rc != 0 or len(seen) != len(marks):
        tail = buf[-1500:].decode(errors="replace")
        raise RuntimeError(f"{argv[0]}: status {rc}, markers {sorted(seen)}\n{tail}")
    return seen, total, err.decode(errors="replace")


def boot_figures(seen, total):
    return {"boot": seen["VMON-GUEST-READY"], "total": total}


def blk_figures(seen, total):
    return {
        "read": DISK_MIB / (seen["BENCH-R1"] - seen["BENCH-R0"]),
        "write": DISK_MIB / (seen["BENCH-W1"] - seen["BENCH-R1"]),
    }


def vmm_argv(build, kernel, initrd, cmdline, src, dst):
    vmon = [os.path.join(build, "vmon"), "run", "-v", "--accel", "emu", "--mem", "256M",
            "--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline, "--serial", "stdio"]
    qemu = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", "256M",
            "-kernel", kernel, "-initrd", initrd, "-append", cmdline, "-serial", "stdio",
            "-display", "none", "-no-reboot", "-nodefaults"]
    if src:
        vmon += ["--disk", f"path={src},ro,serial=src", "--disk", f"path={dst},serial=dst"]
        qemu += ["-drive", f"if=none,id=d0,file={src},format=raw,readonly=on",
                 "-device", "virtio-blk-device,drive=d0,serial=src",
                 "-drive", f"if=none,id=d1,file={dst},format=raw",
                 "-device", "virtio-blk-device,drive=d1,serial=dst"]
    return {"vmon emu": vmon, "qemu tcg microvm": qemu}


def measure(argvs, runs, marks, fig, before=None):
    """Per VMM: the medians of fig over runs, and vmon's instruction rates."""
    res, ips = {}, []
    for name, argv in argvs.items():
        rows = []
        for _ in range(runs):
            if before:
                before()
            try:
                seen, total, err = run_once(argv, 600, marks)
            except (RuntimeError, OSError) as e:
                print(f"  {name}: FAILED: {e}")
                rows = []
                break
            rows.append(fig(seen, total))
            n = sum(int(x) for x in re.findall(r"retired (\d+) instructions", err))
            if n:
                ips.append(n / total / 1e6)
        if rows:
            res[name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    return res, ips


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    g = os.path.join(build, "guest")
    kernel, initrd = os.path.join(g, "vmlinuz"), os.path.join(g, "initrd.cpio.gz")
    with open(os.path.join(g, "cmdline")) as f:
        base_cmdline = f.read().strip() + " quiet tsc_early_khz=2000000"
    runs = int(os.environ.get("VMON_BENCH_LINUX_RUNS", "3"))
    src = os.path.join(build, "bench", "linux-src.img")
    dst = os.path.join(build, "bench", "linux-dst.img")
    os.makedirs(os.path.dirname(src), exist_ok=True)
    if not os.path.exists(src) or os.path.getsize(src) != DISK_MIB * MIB:
        with open(src, "wb") as f:
            for _ in range(DISK_MIB):
                f.write(os.urandom(MIB))

    def fresh_dst():
        if os.path.exists(dst):
            os.unlink(dst)
        with open(dst, "wb") as f:
            f.truncate(DISK_MIB * MIB)

    ok = True
    print(f"linux-emu boot: default guest, 256M RAM, 1 vCPU, vmon.poweroff=1, median of {runs} runs")
    boot, ips = measure(vmm_argv(build, kernel, initrd, base_cmdline + " vmon.poweroff=1", None, None),
                        runs, BOOT_MARKS, boot_figures)
    print(f"  {'':18} {'to init s':>10} {'to exit s':>10}")
    for name, r in boot.items():
        print(f"  {name:18} {r['boot']:10.2f} {r['total']:10.2f}")
    if len(boot) == 2:
        v, q = boot["vmon emu"], boot["qemu tcg microvm"]
        print(f"  ratio vmon/qemu: {v['boot'] / q['boot']:.2f}x the time to init, "
              f"{v['total'] / q['total']:.2f}x to exit")
    else:
        ok = False
    if ips:
        print(f"  vmon emu: {statistics.median(ips):.0f} million guest instructions per second "
              "of wall time (whole boot, idle included)")

    print(f"linux-emu blk: two {DISK_MIB} MiB virtio-blk disks, O_DIRECT dd bs=1M in the guest, "
          f"median of {runs} runs")
    blk, _ = measure(vmm_argv(build, kernel, initrd, base_cmdline + f' vmon.run="{RUN}"', src, dst),
                     runs, BLK_MARKS, blk_figures, fresh_dst)
    print(f"  {'':18} {'read MiB/s':>11} {'write MiB/s':>12}")
    for name, r in blk.items():
        print(f"  {name:18} {r['read']:11.0f} {r['write']:12.0f}")
    if len(blk) == 2:
        v, q = blk["vmon emu"], blk["qemu tcg microvm"]
        print(f"  ratio vmon/qemu: read {v['read'] / q['read']:.2f}x the throughput, "
              f"write {v['write'] / q['write']:.2f}x")
    else:
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
