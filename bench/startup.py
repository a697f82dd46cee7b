#!/usr/bin/env python3
"""Startup benchmark: time from exec to the guest's first serial byte and to process exit, and
peak RSS, for vmon and QEMU on the same multiboot test guest. Prints medians and ratios.
--nested runs both inside a QEMU TCG guest that emulates AMD SVM (kvm-amd, real KVM), for hosts
whose own /dev/kvm is missing or paravirtual."""
import os, shutil, statistics, subprocess, sys, time

def run_once(launcher, argv):
    out = subprocess.run([launcher] + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, text=True, check=True).stdout.split()
    first, t_exit, maxrss, status = float(out[0]), float(out[1]), int(out[2]), int(out[3])
    return (first if first >= 0 else None), t_exit, maxrss, status

def summarize(name, samples, expect_status):
    """samples: (first_ms or None, exit_ms, maxrss_kib, status) per run -> medians, or None."""
    firsts, exits, rss = [], [], []
    for first, t_exit, maxrss, rc in samples:
        if rc != expect_status or first is None:
            print(f"  {name}: unexpected status {rc} (expected {expect_status})",
                  file=sys.stderr)
            return None
        firsts.append(first)
        exits.append(t_exit)
        rss.append(maxrss / 1024)
    if not samples:
        print(f"  {name}: no runs", file=sys.stderr)
        return None
    return {"first": statistics.median(firsts), "exit": statistics.median(exits),
            "rss": statistics.median(rss)}

def measure(launcher, name, argv, runs, expect_status):
    return summarize(name, [run_once(launcher, argv) for _ in range(runs)], expect_status)

def print_table(res):
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
    return base

def copy_with_libs(binary, root, dest):
    """Copy a dynamically linked binary to root/dest and its shared libraries to their paths."""
    shutil.copy(binary, os.path.join(root, dest.lstrip("/")))
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        lib = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if not lib.startswith("/") or not os.path.exists(lib):
            continue
        target = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            shutil.copy(os.path.realpath(lib), target)

# The L1 for --nested: the same QEMU TCG + AMD SVM set-up as tests/integration/test_nested_kvm.py.
L1_ARGV = ["-accel", "tcg", "-cpu", "max", "-m", "2048", "-smp", "2", "-serial", "stdio",
           "-display", "none", "-no-reboot"]
L1_CMDLINE = "console=ttyS0 tsc_early_khz=2000000 panic=-1"

def nested(build, launcher, guest, runs):
    """Both VMMs on real KVM: kvm-amd inside a QEMU TCG guest (L1). Every figure is inflated by
    TCG; what carries over is the ratio between VMMs that run side by side in the same L1."""
    extra = os.path.join(build, "bench-l1-extra")
    subprocess.run(["bash", "guest/l1-qemu-extra.sh", "--no-standin", extra], check=True)
    os.makedirs(os.path.join(extra, "bench"), exist_ok=True)
    shutil.copy(launcher, os.path.join(extra, "bench/launch"))
    shutil.copy(guest, os.path.join(extra, "bench/guest.elf"))
    shutil.copy("bench/startup-l1.sh", os.path.join(extra, "bench/startup-l1.sh"))
    copy_with_libs(os.path.join(build, "vmon"), extra, "/bench/vmon")
    l1 = os.path.join(build, "l1-bench")
    env = dict(os.environ, VMON_L1_EXTRA=extra)
    subprocess.run(["bash", "guest/build-l1.sh", l1, os.path.join(build, "guest"),
                    os.path.join(build, "vmon-static")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    argv = ["qemu-system-x86_64"] + L1_ARGV + [
        "-kernel", os.path.join(l1, "vmlinuz"), "-initrd", os.path.join(l1, "l1.cpio.gz"),
        "-append", f"{L1_CMDLINE} l1.bench={runs}"]
    t0 = time.monotonic()
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, text=True, errors="replace",
                         timeout=1800).stdout
    samples, mem = {}, {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 6 and f[0] == "L1-bench:":
            first = float(f[2])
            samples.setdefault(f[1], []).append(
                (first if first >= 0 else None, float(f[3]), int(f[4]), int(f[5])))
        elif line.startswith("L1-bench-mem:") and len(f) > 2:
            mem[f[1]] = " ".join(f[2:])
    if "L1: kvm dev=yes nested=yes npt=yes" not in out or not samples:
        tail = "\n".join(out.splitlines()[-30:])
        print(f"startup --nested: the L1 gave no results:\n{tail}", file=sys.stderr)
        return False
    print(f"startup, nested: {os.path.basename(guest)}, 64M RAM, 1 vCPU, --accel kvm on kvm-amd "
          f"inside QEMU TCG (L1 ran {time.monotonic() - t0:.0f} s), median of {runs} runs")
    names = {"vmon": "vmon", "vmon-static": "vmon-static", "qemu-pc": "qemu -M pc",
             "qemu-microvm": "qemu -M microvm"}
    res = {names[k]: summarize(names[k], samples.get(k, []), 1) for k in names}
    print_table(res)
    for name in ("vmon", "vmon-static"):
        if name in mem:
            print(f"  {name}: {mem[name]}")
    return all(r is not None for r in res.values())

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    build = args[0] if args else "build"
    launcher = os.path.join(build, "bench-launch")
    subprocess.run(["cc", "-O2", "-static", "-o", launcher, "bench/launch.c"], check=True)
    runs = int(os.environ.get("VMON_BENCH_RUNS", "10"))
    guest = os.path.join(build, "guests", os.environ.get("VMON_BENCH_GUEST", "bench_tiny.elf"))
    if "--nested" in sys.argv[1:]:
        sys.exit(0 if nested(build, launcher, guest, runs) else 1)
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
    print_table(res)
    # vmon's own split of resident memory: guest RAM vs the VMM itself.
    for name in ("vmon", "vmon-static"):
        argv = dict(cases)[name] + ["-v"]
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr.splitlines():
            if "memory: rss" in line:
                print(f"  {name}: {line.split('memory: ', 1)[1]}")

if __name__ == "__main__":
    main()
