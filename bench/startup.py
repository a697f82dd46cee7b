#!/usr/bin/env python3
"""Startup benchmark: time from exec to the guest's first serial byte and to process exit, and
peak RSS, for vmon and QEMU on the same multiboot test guest. Prints medians and ratios."""
import os, statistics, subprocess, sys, time

def run_once(launcher, argv):
    out = subprocess.run([launcher] + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, text=True, check=True).stdout.split()
    first, t_exit, maxrss, status = float(out[0]), float(out[1]), int(out[2]), int(out[3])
    return (first if first >= 0 else None), t_exit, maxrss, status

def measure(launcher, name, argv, runs, expect_status):
    firsts, exits, rss = [], [], []
    for _ in range(runs):
        first, t_exit, maxrss, rc = run_once(launcher, argv)
        if rc != expect_status or first is None:
            print(f"  {name}: unexpected status {rc} (expected {expect_status})",
                  file=sys.stderr)
            return None
        firsts.append(first)
        exits.append(t_exit)
        rss.append(maxrss / 1024)
    return {"first": statistics.median(firsts), "exit": statistics.median(exits),
            "rss": statistics.median(rss)}

def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    launcher = os.path.join(build, "bench-launch")
    subprocess.run(["cc", "-O2", "-static", "-o", launcher, "bench/launch.c"], check=True)
    runs = int(os.environ.get("VMON_BENCH_RUNS", "10"))
    guest = os.path.join(build, "guests", os.environ.get("VMON_BENCH_GUEST", "bench_tiny.elf"))
    mem = "64M"
    common_q = ["-m", mem, "-display", "none", "-serial", "stdio", "-no-reboot", "-nodefaults",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", guest,
                "-append", "hello=world"]
    qcpu = ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    cases = [
        ("vmon", [os.path.join(build, "vmon"), "run", "--accel", "kvm", "--mem", mem,
                  "--kernel", guest, "--cmdline", "hello=world"]),
        ("vmon-static", [os.path.join(build, "vmon-static"), "run", "--accel", "kvm",
                         "--mem", mem, "--kernel", guest, "--cmdline", "hello=world"]),
        ("qemu -M pc", ["qemu-system-x86_64", "-M", "pc"] + qcpu + common_q),
        ("qemu -M microvm", ["qemu-system-x86_64", "-M", "microvm"] + qcpu + common_q),
    ]
    print(f"startup: multiboot guest {guest}, {mem} RAM, 1 vCPU, --accel kvm, "
          f"median of {runs} runs")
    res = {}
    for name, argv in cases:
        res[name] = measure(launcher, name, argv, runs, 1)
    base = res.get("qemu -M microvm") or res.get("qemu -M pc")
    print(f"  {'VMM':<18}{'first byte ms':>14}{'exit ms':>10}{'peak RSS MiB':>14}"
          f"{'first/qemu':>12}{'exit/qemu':>11}{'RSS/qemu':>10}")
    for name, r in res.items():
        if r is None:
            print(f"  {name:<18}{'failed':>14}")
            continue
        ratio = lambda k: f"{r[k] / base[k]:.2f}x" if base else "n/a"
        print(f"  {name:<18}{r['first']:>14.1f}{r['exit']:>10.1f}{r['rss']:>14.1f}"
              f"{ratio('first'):>12}{ratio('exit'):>11}{ratio('rss'):>10}")
    print("  ratios are against qemu -M microvm (-M pc when microvm failed); "
          "lower is better")
    # vmon's own split of resident memory: guest RAM vs the VMM itself.
    for name in ("vmon", "vmon-static"):
        argv = dict(cases)[name] + ["-v"]
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr.splitlines():
            if "memory: rss" in line:
                print(f"  {name}: {line.split('memory: ', 1)[1]}")

if __name__ == "__main__":
    main()
