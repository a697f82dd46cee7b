"""vmon on real KVM, nested: QEMU TCG emulates an AMD CPU with SVM (L1), the L1 Linux loads
kvm-amd, and a static vmon inside it boots the default guest (L2) with --accel kvm.

This host's own /dev/kvm is a paravirtual KVM without VMX/SVM on which stock Linux cannot boot,
so this is how the kvm backend meets a real Linux guest here. The L1 initramfs comes from
guest/build-l1.sh and its /init (guest/l1-init.sh) prints the lines parsed below.

Needs qemu-system-x86_64, the default guest (make default-guest) and build/vmon-static (for the
L2 runs). Environment knobs:
  VMON_TEST_NESTED_TIMEOUT   overall seconds for the L1 boot and both L2 runs (default 1500)
  VMON_TEST_NESTED_RUN_TIMEOUT  seconds for each L2 run inside L1 (default 400)
  VMON_TEST_NESTED_STANDIN=qemu  run QEMU/KVM in L1 instead of vmon (checks this harness itself;
                             see guest/l1-qemu-extra.sh)
"""

import os
import re
import subprocess
import time

import pytest

from vmconsole import Console, ConsoleEOF

L2_CPUS = [1, 2]
L1_MEM = "2048"
L1_CMDLINE = "console=ttyS0 tsc_early_khz=2000000 panic=-1"
TIMEOUT = float(os.environ.get("VMON_TEST_NESTED_TIMEOUT", "1500"))
RUN_TIMEOUT = int(os.environ.get("VMON_TEST_NESTED_RUN_TIMEOUT", "400"))


def build_l1(repo_dir, build_dir, out_name, default_guest, vmon=None, extra=None):
    """Run guest/build-l1.sh; returns the output directory."""
    out = build_dir / out_name
    env = dict(os.environ)
    if extra:
        env["VMON_L1_EXTRA"] = str(extra)
    argv = ["bash", str(repo_dir / "guest/build-l1.sh"), str(out), str(default_guest["dir"])]
    if vmon:
        argv.append(str(vmon))
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"guest/build-l1.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return out


def l1_argv(qemu_bin, l1_dir, extra_cmdline=""):
    return [
        str(qemu_bin), "-accel", "tcg", "-cpu", "max", "-m", L1_MEM, "-smp", "2",
        "-kernel", str(l1_dir / "vmlinuz"), "-initrd", str(l1_dir / "l1.cpio.gz"),
        "-append", f"{L1_CMDLINE} {extra_cmdline}".strip(),
        "-serial", "stdio", "-display", "none", "-no-reboot",
    ]  # fmt: skip


def expect_kvm_line(con, timeout):
    m = con.expect(r"L1: kvm dev=(\w+) nested=(\w+) npt=(\w+)\s", timeout)
    kvm = {"dev": m.group(1), "nested": m.group(2), "npt": m.group(3)}
    assert kvm == {"dev": "yes", "nested": "yes", "npt": "yes"}, (
        f"L1 has no usable nested KVM: {kvm}\n{con.tail()}"
    )
    return kvm


@pytest.fixture(scope="module")
def nested_runs(request, repo_dir, build_dir, qemu_bin, default_guest, tmp_path_factory):
    """Boot L1 once and collect each L2 run's result: {cpus: (status, marker, seconds)}."""
    standin = os.environ.get("VMON_TEST_NESTED_STANDIN", "")
    if standin == "qemu":
        extra = tmp_path_factory.mktemp("l1-qemu-extra") / "root"
        subprocess.run(
            ["bash", str(repo_dir / "guest/l1-qemu-extra.sh"), str(extra)], check=True
        )
        l1 = build_l1(repo_dir, build_dir, "l1-qemu", default_guest, extra=extra)
    elif standin:
        pytest.fail(f"unknown VMON_TEST_NESTED_STANDIN={standin!r} (only 'qemu')")
    else:
        vmon_static = build_dir / "vmon-static"
        if not os.access(vmon_static, os.X_OK):
            pytest.skip(f"{vmon_static} not built (the top-level build links it with -static)")
        l1 = build_l1(repo_dir, build_dir, "l1", default_guest, vmon=vmon_static)

    log_dir = build_dir / "test-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = {"log": ""}
    deadline = time.monotonic() + TIMEOUT
    left = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
    todo = list(L2_CPUS)
    # The L1 is QEMU TCG emulating AMD SVM. Rarely, on slower hosts, it resets itself (QEMU
    # exits with status 0, no panic printed) in the middle of an L2 run. One fresh L1 is booted
    # for the runs left when that happens; a second reset fails the test.
    for attempt in (1, 2):
        cpus = ",".join(str(c) for c in todo)
        argv = l1_argv(qemu_bin, l1, f"l1.cpus={cpus} l1.timeout={RUN_TIMEOUT}")
        log_name = "nested_kvm.log" if attempt == 1 else "nested_kvm-retry.log"
        with Console(argv, log_path=log_dir / log_name) as con:
            try:
                con.expect(r"L1: init start", left())
                l1_boot = con.elapsed()
                expect_kvm_line(con, left())
                print(f"\nL1 reached /init after {l1_boot:.1f}s, "
                      f"kvm-amd ready after {con.elapsed():.1f}s")
                while todo:
                    n = todo[0]
                    m = con.expect(
                        rf"L1: run cpus={n} status=(\d+) marker=(yes|no) seconds=([\d.]+)\s",
                        left(),
                    )
                    results[n] = (int(m.group(1)), m.group(2), float(m.group(3)))
                    todo.pop(0)
                    print(f"L2 cpus={n}: status={m.group(1)} marker={m.group(2)} "
                          f"in {m.group(3)}s")
                con.expect(r"L1: done", left())
            except ConsoleEOF:
                results["log"] += con.out
                if attempt == 2 or "L1: init start" not in con.out \
                        or con.proc.returncode != 0:
                    raise
                print(f"L1 reset itself during the L2 cpus={todo[0]} run "
                      f"(QEMU exit status 0); booting a fresh L1 for cpus={todo}")
                continue
            status = con.wait(min(left(), 120))
            assert status == 0, f"L1 QEMU exit status {status}\n{con.tail()}"
            results["log"] += con.out
            break
    return results


@pytest.mark.parametrize("cpus", L2_CPUS, ids=lambda c: f"cpus{c}")
def test_nested_kvm_boot(nested_runs, cpus):
    status, marker, secs = nested_runs[cpus]
    section = nested_runs["log"].split(f"L1: run cpus={cpus} start", 1)[-1]
    section = section.split(f"L1: run cpus={cpus} status=", 1)[0][-3000:]
    assert marker == "yes", f"L2 (cpus={cpus}) never printed VMON-GUEST-READY:\n{section}"
    assert status == 0, f"vmon exit status {status} for cpus={cpus}:\n{section}"


def test_nested_kvm_virtio_pci(repo_dir, build_dir, qemu_bin, default_guest, log_path):
    """Linux on --accel kvm with a virtio-rng on --transport pci: the guest assigns the BARs,
    reads /dev/hwrng through the queue (its notify an ioeventfd) and gets MSI-X interrupts
    (eventfds bound by MSI irqfd routes)."""
    vmon_static = build_dir / "vmon-static"
    if not os.access(vmon_static, os.X_OK):
        pytest.skip(f"{vmon_static} not built (the top-level build links it with -static)")
    l1 = build_l1(repo_dir, build_dir, "l1", default_guest, vmon=vmon_static)
    argv = l1_argv(qemu_bin, l1, f"l1.cpus=1 l1.timeout={RUN_TIMEOUT} l1.transport=pci")
    with Console(argv, log_path=log_path) as con:
        con.expect(r"L1: init start", TIMEOUT)
        expect_kvm_line(con, TIMEOUT)
        m = con.expect(r"L1: run cpus=1 status=(\d+) marker=(yes|no) seconds=([\d.]+)\s", TIMEOUT)
        con.expect(r"L1: done", 120)
        assert con.wait(120) == 0, con.tail()
        run = con.out.split("L1: run cpus=1 start", 1)[-1]
        print(f"\nL2 on virtio-pci: status={m.group(1)} in {m.group(3)}s")
    assert m.group(1) == "0" and m.group(2) == "yes", run[-3000:]
    assert re.search(r"^256\r?$", run, re.M), run[-3000:]
    assert "VMON-RUN-STATUS=0" in run, run[-3000:]
    vecs = re.findall(r"^\s*\d+:\s+(\d+)\s+PCI-MSI\S*\s+\d+-edge\s+virtio0-input\r?$", run, re.M)
    assert vecs and int(vecs[0]) > 0, run[-3000:]


def test_l1_nested_kvm_available(repo_dir, build_dir, qemu_bin, default_guest, log_path):
    """The L1 alone (no vmon): kvm-amd loads under QEMU TCG and offers nested paging."""
    l1 = build_l1(repo_dir, build_dir, "l1-bare", default_guest)
    with Console(l1_argv(qemu_bin, l1), log_path=log_path) as con:
        con.expect(r"L1: init start", 300)
        boot = con.elapsed()
        expect_kvm_line(con, 120)
        con.expect(r"L1: no vmon binary", 60)
        assert con.wait(120) == 0
        assert re.search(r"Nested Virtualization enabled", con.out)
        print(f"\nL1 (TCG) reached /init after {boot:.1f}s; kvm-amd ready at {con.elapsed():.1f}s")
