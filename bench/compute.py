#!/usr/bin/env python3
"""Guest instructions per second on a compute loop: tests/guests/bench_loop.elf (multiboot, 64-bit,
BENCH_LOOP_INSNS = 16 instructions per iteration: ALU, shifts, a load and a store, a branch) on
`vmon --accel emu` and on `qemu-system-x86_64 -M pc -accel tcg`, same binary. Each VMM runs it
with n = N1 and n = N2 iterations; the difference in instructions over the difference in wall
time cancels start-up and exit. Prints the median of VMON_BENCH_RUNS (default 3) runs and the
ratio."""
import os
import statistics
import subprocess
import sys
import time

INSNS_PER_ITER = 16
N1, N2 = 1_000_000, 41_000_000


def timed(argv):
    t0 = time.monotonic()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 1 or "bench_loop: PASS" not in r.stdout:
        raise RuntimeError(f"{argv[0]}: status {r.returncode}\n{r.stdout[-500:]}{r.stderr[-500:]}")
    return dt


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    guest = os.path.join(build, "guests", "bench_loop.elf")
    runs = int(os.environ.get("VMON_BENCH_RUNS", "3"))
    vmms = {
        "vmon emu": lambda n: [os.path.join(build, "vmon"), "run", "--accel", "emu", "--mem",
                               "64M", "--kernel", guest, "--cmdline", f"n={n}"],
        "qemu tcg": lambda n: ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "64M",
                               "-display", "none", "-serial", "stdio", "-no-reboot",
                               "-nodefaults", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                               "-kernel", guest, "-append", f"n={n}"],
    }
    print(f"compute: {guest}, {INSNS_PER_ITER} instructions x ({N2} - {N1}) iterations, "
          f"median of {runs} runs")
    res = {}
    for name, argv in vmms.items():
        rates = []
        try:
            for _ in range(runs):
                t1, t2 = timed(argv(N1)), timed(argv(N2))
                rates.append((N2 - N1) * INSNS_PER_ITER / max(t2 - t1, 1e-6) / 1e6)
        except (RuntimeError, OSError) as e:
            print(f"  {name}: FAILED: {e}")
            continue
        res[name] = statistics.median(rates)
        print(f"  {name:10} {res[name]:8.0f} million guest instructions per second")
    if len(res) == 2:
        print(f"  ratio vmon/qemu: {res['vmon emu'] / res['qemu tcg']:.2f}x the speed "
              "(QEMU TCG compiles guest code to host code; emu interprets it)")
    return 0 if len(res) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
