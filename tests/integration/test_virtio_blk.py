"""virtio-blk disks (--disk) with the default Linux guest on --accel emu, through the serial console.

test_blk_ext4_restart (two boots of vmon on the same files):
  boot 1: an ext4 image made here with mkfs.ext4 is mounted, a file written, synced, unmounted;
          a write to a read-only disk (ro) fails in the guest and leaves the file unchanged;
          a write to a copy-on-write overlay (base=) succeeds and leaves the base unchanged;
  boot 2: the file reads back (and debugfs on the host sees it too), the overlay still holds the
          written sector, the base still reads through elsewhere.
test_blk_dd_64m: 64 MiB of random data copied by dd inside the guest from one disk to another
  (O_DIRECT, so the guest does not copy through its page cache), compared with the host's
  checksum of the source; the guest's md5sum of the first 8 MiB (buffered reads) matches too.
The guest finds each disk by its serial (/sys/block/vd*/serial), not by its name.
Environment knobs: VMON_TEST_BOOT_TIMEOUT, VMON_TEST_CMD_TIMEOUT (as test_linux_boot.py).
"""

import hashlib
import os
import re
import secrets
import shutil
import subprocess

import pytest

from vmconsole import Console

BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")
# Each device must work on every transport.
TRANSPORTS = ["mmio", "pci"]
# A shell function: the /dev node of the disk whose serial is $1.
DEV_FN = 'dev() { for d in /sys/block/vd*; do [ "$(cat $d/serial)" = "$1" ] && echo /dev/${d##*/}; done; }'


def md5(path, limit=None):
    h = hashlib.md5()
    with open(path, "rb") as f:
        left = limit if limit is not None else 1 << 62
        while left > 0:
            b = f.read(min(left, 1 << 20))
            if not b:
                break
            h.update(b)
            left -= len(b)
    return h.hexdigest()


def random_file(path, size):
    with open(path, "wb") as f:
        f.write(secrets.token_bytes(size))


def boot(vmon_bin, guest, transport, disks, log_path):
    argv = [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(guest["kernel"]),
        "--initrd", str(guest["initrd"]),
        "--cmdline", guest["cmdline"] + " quiet",
        "--mem", "256M", "--serial", "stdio", "--transport", transport,
    ]  # fmt: skip
    for d in disks:
        argv += ["--disk", d]
    con = Console(argv, log_path=log_path, prompt=PROMPT_RX)
    con.expect(r"VMON-GUEST-READY", BOOT_TIMEOUT)
    con.expect(PROMPT_RX, CMD_TIMEOUT)
    out, rc = con.run(DEV_FN + "; ls /sys/block", CMD_TIMEOUT)
    assert rc == 0, con.tail()
    return con


def run_ok(con, cmd):
    out, rc = con.run(cmd, CMD_TIMEOUT)
    assert rc == 0, f"{cmd!r} failed with {rc}:\n{out}\n{con.tail()}"
    return out


def power_off(con):
    con.sendline("poweroff")
    con.expect(r"reboot: Power down|vmon-guest: powering off", CMD_TIMEOUT)
    status = con.wait(CMD_TIMEOUT)
    assert status == 0, f"VMM exit status {status}\n{con.tail()}"


@pytest.fixture
def mkfs():
    path = shutil.which("mkfs.ext4") or "/usr/sbin/mkfs.ext4"
    if not os.path.exists(path):
        pytest.skip("mkfs.ext4 not installed (Debian e2fsprogs; mk/deps.sh installs it)")
    return path


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_blk_ext4_restart(vmon_bin, default_guest, tmp_path, log_path, mkfs, transport):
    data = tmp_path / "data.ext4"
    with open(data, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run([mkfs, "-q", "-F", str(data)], check=True)
    ro = tmp_path / "ro.img"
    random_file(ro, 1 << 20)
    ro_sum = md5(ro)
    base = tmp_path / "base.img"
    random_file(base, 8 << 20)
    base_sum = md5(base)
    overlay = tmp_path / "disk.cow"  # created by vmon on first use
    token = secrets.token_hex(16)
    cow_token = secrets.token_hex(8)
    disks = [
        f"path={data},serial=data",
        f"path={ro},ro,serial=ro",
        f"path={overlay},base={base},serial=cow",
    ]

    con = boot(vmon_bin, default_guest, transport, disks, log_path)
    with con:
        out = run_ok(con, "for d in /sys/block/vd*; do echo ${d##*/} $(cat $d/serial) $(cat $d/ro) $(cat $d/size); done")
        rows = {r.split()[1]: r.split() for r in out.splitlines() if r.startswith("vd")}
        assert set(rows) == {"data", "ro", "cow"}, out
        assert rows["data"][2:] == ["0", str((64 << 20) // 512)], out
        assert rows["ro"][2:] == ["1", str((1 << 20) // 512)], out
        assert rows["cow"][2:] == ["0", str((8 << 20) // 512)], out

        run_ok(con, f"mount -t ext4 $(dev data) /mnt && echo {token} > /mnt/token && sync && umount /mnt")
        out, rc = con.run("dd if=/dev/zero of=$(dev ro) bs=512 count=1 conv=fsync", CMD_TIMEOUT)
        assert rc != 0, f"write to a read-only disk succeeded:\n{out}"
        run_ok(con, f"printf {cow_token} | dd of=$(dev cow) bs=512 seek=3 conv=sync,fsync")
        power_off(con)
    assert md5(ro) == ro_sum, "the read-only image changed"
    assert md5(base) == base_sum, "the overlay's base image changed"
    assert overlay.exists() and overlay.stat().st_size > 8 << 20

    debugfs = shutil.which("debugfs") or "/usr/sbin/debugfs"
    if os.path.exists(debugfs):
        r = subprocess.run([debugfs, "-R", "cat /token", str(data)], capture_output=True, text=True)
        assert r.stdout.strip() == token, r.stdout + r.stderr

    con = boot(vmon_bin, default_guest, transport, disks, log_path)
    with con:
        out = run_ok(con, "mount -t ext4 $(dev data) /mnt && cat /mnt/token && umount /mnt")
        assert token in out, out
        out = run_ok(con, "dd if=$(dev cow) bs=512 skip=3 count=1 2>/dev/null | head -c 16; echo")
        assert cow_token in out, out
        # Sector 4 was never written: it still comes from the base.
        out = run_ok(con, "dd if=$(dev cow) bs=512 skip=4 count=1 2>/dev/null | md5sum")
        with open(base, "rb") as f:
            f.seek(4 * 512)
            want = hashlib.md5(f.read(512)).hexdigest()
        assert want in out, out
        power_off(con)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_blk_dd_64m(vmon_bin, default_guest, tmp_path, log_path, transport):
    src = tmp_path / "src.img"
    dst = tmp_path / "dst.img"
    random_file(src, 64 << 20)
    with open(dst, "wb") as f:
        f.truncate(64 << 20)
    want = md5(src)
    head_sum = md5(src, 8 << 20)

    con = boot(vmon_bin, default_guest, transport,
               [f"path={src},ro,serial=src", f"path={dst},serial=dst"], log_path)  # fmt: skip
    with con:
        out = run_ok(con, "dd if=$(dev src) of=$(dev dst) bs=1M count=64 iflag=direct oflag=direct")
        assert "64+0 records out" in out, out
        run_ok(con, "sync")
        out = run_ok(con, "dd if=$(dev src) bs=1M count=8 2>/dev/null | md5sum")
        assert head_sum in out, out
        power_off(con)
    assert md5(dst) == want, "the guest's copy differs from the source"
