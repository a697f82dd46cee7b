"""Boot the default Linux guest (make default-guest) with vmon and drive its serial console.

Parameterized over the CPU backend and the number of vCPUs. Environment knobs:
  VMON_TEST_ACCELS        comma-separated backends to try (default: emu,kvm)
  VMON_TEST_BOOT_TIMEOUT  seconds to reach the guest's prompt (default 600)
  VMON_TEST_CMD_TIMEOUT   seconds per shell command (default 120)
  VMON_TEST_VMM_CMD       run another VMM instead of build/vmon, to check this driver itself:
                          "qemu" for a built-in QEMU TCG command line, or a template whose words
                          may hold {kernel} {initrd} {cmdline} {mem} {cpus} {accel}, e.g.
                          'qemu-system-x86_64 -M pc -accel tcg -m {mem} -smp {cpus}
                           -kernel {kernel} -initrd {initrd} -append {cmdline}
                           -serial stdio -display none -no-reboot'
"""

import os
import re
import shlex

import pytest

from vmconsole import Console

ACCELS = [a for a in os.environ.get("VMON_TEST_ACCELS", "emu,kvm").split(",") if a]
CPUS = [1, 2]
MEM_MB = 256
BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")

QEMU_TEMPLATE = (
    "qemu-system-x86_64 -M pc -accel tcg -m {mem} -smp {cpus} -kernel {kernel} "
    "-initrd {initrd} -append {cmdline} -serial stdio -display none -no-reboot"
)

# When a backend cannot run here, vmon exits before the guest starts, either with status 77 or
# with a line such as "vmon: accel emu unavailable: <reason>"; the test is skipped then. Other
# early exits (e.g. an emulator fault on an unknown instruction) are failures.
SKIP_STATUS = 77
UNAVAILABLE_RX = re.compile(
    r"^.*\b(accel\w*|backend|emu|kvm)\b.*\b(unavailable|not available|not compiled in|not built in)\b.*$",
    re.I | re.M,
)


def host_has_hw_virt():
    try:
        with open("/proc/cpuinfo") as f:
            flags = re.search(r"^flags\s*:(.*)$", f.read(), re.M)
    except OSError:
        return False
    return bool(flags) and bool({"vmx", "svm"} & set(flags.group(1).split()))


def vmm_argv(vmon_bin, guest, accel, cpus):
    fields = {
        "kernel": str(guest["kernel"]),
        "initrd": str(guest["initrd"]),
        "cmdline": guest["cmdline"],
        "mem": str(MEM_MB),
        "cpus": str(cpus),
        "accel": accel,
    }
    tmpl = os.environ.get("VMON_TEST_VMM_CMD", "")
    if tmpl:
        if tmpl == "qemu":
            tmpl = QEMU_TEMPLATE
        return [w.format(**fields) for w in shlex.split(tmpl)]
    return [
        str(vmon_bin), "run",
        "--accel", accel,
        "--kernel", fields["kernel"],
        "--initrd", fields["initrd"],
        "--cmdline", fields["cmdline"],
        "--mem", f"{MEM_MB}M",
        "--cpus", str(cpus),
        "--serial", "stdio",
    ]  # fmt: skip


@pytest.fixture
def vmm(request, build_dir):
    """build/vmon, unless VMON_TEST_VMM_CMD names another VMM (then vmon need not be built)."""
    if os.environ.get("VMON_TEST_VMM_CMD"):
        return None
    return request.getfixturevalue("vmon_bin")


@pytest.mark.parametrize("cpus", CPUS, ids=lambda c: f"cpus{c}")
@pytest.mark.parametrize("accel", ACCELS)
def test_linux_boot(vmm, default_guest, accel, cpus, log_path):
    if accel == "kvm" and not os.environ.get("VMON_TEST_VMM_CMD"):
        if not os.path.exists("/dev/kvm"):
            pytest.skip("no /dev/kvm on this host")
        if not host_has_hw_virt():
            pytest.skip(
                "host CPU advertises neither VMX nor SVM (paravirtual KVM such as PVM): "
                "stock Linux cannot boot on it; the nested test (test_nested_kvm.py) covers kvm"
            )

    argv = vmm_argv(vmm, default_guest, accel, cpus)
    with Console(argv, log_path=log_path, prompt=PROMPT_RX) as con:
        try:
            con.expect(r"VMON-GUEST-READY", BOOT_TIMEOUT)
        except AssertionError:
            if con.proc.poll() is not None and "Linux version" not in con.out:
                m = UNAVAILABLE_RX.search(con.err + "\n" + con.out)
                if m or con.proc.returncode == SKIP_STATUS:
                    why = m.group(0).strip() if m else con.err.strip()[-300:]
                    pytest.skip(f"vmon --accel {accel} unavailable: {why}")
            raise
        boot_s = con.elapsed()
        con.expect(PROMPT_RX, CMD_TIMEOUT)
        print(f"accel={accel} cpus={cpus}: prompt after {boot_s:.1f}s")

        out, rc = con.run("uname -a", CMD_TIMEOUT)
        assert rc == 0, con.tail()
        assert re.search(r"^Linux vmon-guest \d+\.\d+\.\d+\S* .*x86_64", out, re.M), out

        out, rc = con.run("cat /proc/cpuinfo", CMD_TIMEOUT)
        assert rc == 0, con.tail()
        procs = re.findall(r"^processor\s*:\s*(\d+)", out, re.M)
        assert len(procs) == cpus, f"expected {cpus} processors in /proc/cpuinfo:\n{out}"
        assert re.search(r"^flags\s*:.*\blm\b", out, re.M), "no long mode flag in cpuinfo"

        out, rc = con.run("nproc", CMD_TIMEOUT)
        assert out.split() == [str(cpus)], out

        out, rc = con.run(
            "i=0; s=0; while [ $i -lt 200 ]; do s=$((s + i * i)); i=$((i + 1)); done; "
            "echo sum=$s; for w in alpha beta gamma; do echo word=$w; done",
            CMD_TIMEOUT,
        )
        assert rc == 0, con.tail()
        assert "sum=2646700" in out, out
        assert re.findall(r"^word=(\w+)", out, re.M) == ["alpha", "beta", "gamma"], out

        out, rc = con.run("false", CMD_TIMEOUT)
        assert rc == 1

        con.sendline("poweroff")
        con.expect(r"reboot: Power down|vmon-guest: powering off", CMD_TIMEOUT)
        status = con.wait(CMD_TIMEOUT)
        assert status == 0, f"VMM exit status {status}\n{con.tail()}"
