"""virtio-net (--net) with the default Linux guest on --accel emu, through the serial console.

test_net_user (libslirp, one boot): `--net user,hostfwd=tcp::PORT-:8080`; the guest's udhcpc
  (guest/udhcpc.script) gets 10.0.2.15/24 with router 10.0.2.2 and DNS 10.0.2.3 from slirp's
  DHCP server; the interface has vmon's default MAC and negotiated MRG_RXBUF; busybox `nc -l -p
  8080` in the guest and a host socket on 127.0.0.1:PORT exchange a line each way through the
  forward; the gateway answers pings over IPv4 and IPv6 (fec0::2, the guest's address from
  slirp's router advertisements); and the guest connects out to a host listener through the gateway 10.0.2.2 (NAT to the
  host's 127.0.0.1).
test_net_tap (one boot, root only): vmon runs inside a network namespace the test creates, on a
  tap0 made there with `ip tuntap` and given 10.1.0.1/24; the guest sets 10.1.0.2/24 and pings
  10.1.0.1, and the namespace pings 10.1.0.2; then 4 MiB of random data go each way over TCP
  (busybox nc in the guest, Python in the namespace) and arrive with the same md5, with the
  tap's checksum and TSO offloads negotiated. Skipped, with the reason, without root, without
  /dev/net/tun or when namespaces cannot be created.
test_net_bad_options: bad --net values print one line and exit 2 (no boot); a forwarded port
  that is taken is a start-up error (exit 4, one line).
The two boot tests run once per virtio transport (mmio and pci).
Environment knobs: VMON_TEST_BOOT_TIMEOUT, VMON_TEST_CMD_TIMEOUT (as test_linux_boot.py).
"""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from vmconsole import Console

BOOT_TIMEOUT = float(os.environ.get("VMON_TEST_BOOT_TIMEOUT", "600"))
CMD_TIMEOUT = float(os.environ.get("VMON_TEST_CMD_TIMEOUT", "120"))
PROMPT_RX = re.compile(r"vmon# ")
# Each device must work on every transport (virtio-mmio slots and virtio-pci functions).
TRANSPORTS = ["mmio", "pci"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vmon_argv(vmon_bin, guest, transport, net):
    return [
        str(vmon_bin), "run", "--accel", "emu",
        "--kernel", str(guest["kernel"]),
        "--initrd", str(guest["initrd"]),
        "--cmdline", guest["cmdline"] + " quiet",
        "--mem", "256M", "--serial", "stdio", "--transport", transport,
        "--net", net,
    ]  # fmt: skip


def boot(argv, log_path):
    con = Console(argv, log_path=log_path, prompt=PROMPT_RX)
    con.expect(r"VMON-GUEST-READY", BOOT_TIMEOUT)
    con.expect(PROMPT_RX, CMD_TIMEOUT)
    print(f"shell after {con.elapsed():.1f}s")
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


def exchange(port, deadline):
    """Connect to 127.0.0.1:port until the guest's listener answers; read its line, send ours."""
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.settimeout(20)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    s.sendall(b"from-host-42\n")
                    s.shutdown(socket.SHUT_WR)
                    time.sleep(0.5)
                    return data
        except OSError as e:  # slirp closes the host side when the guest refuses
            last = e
        time.sleep(0.5)
    raise AssertionError(f"no answer through the forward on port {port}: {last}")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_net_user(vmon_bin, default_guest, log_path, transport):
    port = free_port()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(CMD_TIMEOUT)
    out_port = listener.getsockname()[1]
    con = boot(vmon_argv(vmon_bin, default_guest, transport, f"user,hostfwd=tcp::{port}-:8080"),
               log_path)  # fmt: skip
    with con, listener:
        out = run_ok(con, "cat /sys/bus/virtio/devices/virtio0/device /sys/class/net/eth0/address "
                          "/sys/bus/virtio/devices/virtio0/features")  # fmt: skip
        dev, mac, features = out.split()[-3:]
        assert dev == "0x0001", out
        assert mac == "52:54:00:12:34:56", out
        assert features[15] == "1" and features[5] == "1", f"MRG_RXBUF and MAC not negotiated: {out}"

        out = run_ok(con, "udhcpc -i eth0 -n -q -t 5 -T 2")
        assert "lease of 10.0.2.15 obtained" in out, out
        assert "udhcpc: eth0 10.0.2.15/255.255.255.0 router 10.0.2.2 dns 10.0.2.3" in out, out
        out = run_ok(con, "ip -4 addr show eth0; ip route; cat /etc/resolv.conf")
        assert "inet 10.0.2.15/24" in out, out
        assert "default via 10.0.2.2 dev eth0" in out, out
        assert "nameserver 10.0.2.3" in out, out
        # slirp answers pings to the gateway, and its router advertisements give eth0 an address
        # in QEMU's fec0::/64 from the MAC (SLAAC).
        out = run_ok(con, "ping -c 2 -W 5 10.0.2.2 && for i in $(seq 150); do "
                          "ip -6 addr show eth0 | grep 'inet6 fec0' | grep -qv tentative && break; "
                          "sleep 0.2; done; ping6 -c 2 -W 5 fec0::2 && ip -6 addr show eth0")  # fmt: skip
        assert "2 packets received" in out, out
        assert "inet6 fec0::5054:ff:fe12:3456/64" in out, out

        # Host -> guest through the forward: a line each way.
        run_ok(con, "rm -f /tmp/got; (echo from-guest-7; sleep 60) | nc -l -p 8080 >/tmp/got & true")
        got = exchange(port, time.monotonic() + CMD_TIMEOUT)
        assert got == b"from-guest-7\n", got
        out = run_ok(con, "for i in $(seq 100); do [ -s /tmp/got ] && break; sleep 0.1; done; "
                          "cat /tmp/got")  # fmt: skip
        assert "from-host-42" in out, out

        # Guest -> host: the gateway 10.0.2.2 is the host's loopback.
        con.sendline(f"echo from-guest-out | nc 10.0.2.2 {out_port}; echo NC-DONE")
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(CMD_TIMEOUT)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                data += chunk
        assert data == b"from-guest-out\n", data
        con.expect(r"NC-DONE", CMD_TIMEOUT)
        con.expect(PROMPT_RX, CMD_TIMEOUT)

        out = run_ok(con, "cat /sys/class/net/eth0/statistics/rx_packets "
                          "/sys/class/net/eth0/statistics/tx_packets")  # fmt: skip
        rx, tx = (int(x) for x in out.split()[-2:])
        assert rx > 0 and tx > 0, out
        print(f"guest eth0: {rx} packets received, {tx} sent")
        power_off(con)


def netns_or_skip():
    if os.geteuid() != 0:
        pytest.skip("the tap test needs root (it creates a network namespace and a tap)")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing")
    for tool in ("ip", "ping"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (iproute2, iputils-ping)")
    ns = f"vmon-net-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {r.stderr.strip()}")
    return ns


# Host side of the bulk transfer, run in the namespace: receive one connection on 10.1.0.1:5001
# (print its md5 and byte count), then send BLOB to the guest's 10.1.0.2:5002.
NS_PEER = """
import hashlib, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.1.0.1", 5001)); s.listen(1); s.settimeout(120)
c, _ = s.accept(); c.settimeout(120); h = hashlib.md5(); n = 0; t = time.monotonic()
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print("in", h.hexdigest(), n, round(time.monotonic() - t, 2), flush=True)
blob = open(sys.argv[1], "rb").read()
for i in range(100):
    try:
        o = socket.create_connection(("10.1.0.2", 5002), timeout=10); break
    except OSError:
        time.sleep(0.2)
t = time.monotonic(); o.sendall(blob); o.close()
print("out", round(time.monotonic() - t, 2), flush=True)
"""


def bulk_tcp(con, ns, size=4 << 20):
    """A TCP stream each way between the guest and the namespace, checked by md5 (with the tap's
    checksum and segmentation offloads negotiated, this is what exercises them)."""
    import hashlib
    import tempfile

    blob = os.urandom(size)
    with tempfile.NamedTemporaryFile() as f:
        f.write(blob)
        f.flush()
        peer = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", NS_PEER, f.name],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            out = run_ok(con, f"dd if=/dev/urandom of=/tmp/blob bs=64k count={size >> 16} 2>/dev/null; "
                              "md5sum /tmp/blob; rm -f /tmp/in; (nc -l -p 5002 </dev/null >/tmp/in &); "
                              "sleep 1; nc 10.1.0.1 5001 </tmp/blob")  # fmt: skip
            guest_sum = out.split()[0]
            line = peer.stdout.readline().split()
            assert line[:3] == ["in", guest_sum, str(size)], (line, out)
            print(f"guest -> host: {size >> 20} MiB in {line[3]} s")
            line = peer.stdout.readline().split()
            assert line and line[0] == "out", line
            peer.wait(timeout=CMD_TIMEOUT)
            out = run_ok(con, f"while [ $(wc -c </tmp/in) -lt {size} ]; do sleep 0.2; done; md5sum /tmp/in")
            assert out.split()[0] == hashlib.md5(blob).hexdigest(), out
            print(f"host -> guest: {size >> 20} MiB in {line[1]} s (host send time)")
        finally:
            peer.kill()
            peer.wait()
    out = run_ok(con, "cat /sys/bus/virtio/devices/virtio0/features")
    return out.split()[-1]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_net_tap(vmon_bin, default_guest, log_path, transport):
    ns = netns_or_skip()
    try:
        for cmd in (["link", "set", "lo", "up"],
                    ["tuntap", "add", "dev", "tap0", "mode", "tap"],
                    ["addr", "add", "10.1.0.1/24", "dev", "tap0"],
                    ["link", "set", "tap0", "up"]):  # fmt: skip
            subprocess.run(["ip", "-n", ns] + cmd, check=True)
        argv = ["ip", "netns", "exec", ns] + vmon_argv(vmon_bin, default_guest, transport, "tap=tap0")
        con = boot(argv, log_path)
        with con:
            run_ok(con, "ip link set eth0 up && ip addr add 10.1.0.2/24 dev eth0")
            out = run_ok(con, "ping -c 3 -W 5 10.1.0.1")
            assert re.search(r"3 packets transmitted, [123] packets received", out), out
            r = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "3", "-W", "5", "10.1.0.2"],
                               capture_output=True, text=True, timeout=CMD_TIMEOUT)  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
            assert re.search(r"3 packets transmitted, [123] received", r.stdout), r.stdout
            print(r.stdout.strip().splitlines()[-1])
            features = bulk_tcp(con, ns)
            # The tap's offloads were offered and negotiated: CSUM, GUEST_CSUM, GUEST_TSO4,
            # HOST_TSO4 (bits 0, 1, 7, 11).
            assert all(features[b] == "1" for b in (0, 1, 7, 11)), features
            power_off(con)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def test_net_bad_options(vmon_bin, default_guest):
    base = [str(vmon_bin), "run", "--kernel", str(default_guest["kernel"]), "--accel", "emu",
            "--serial", "none"]  # fmt: skip
    for bad in ("bogus", "user,hostfwd=tcp::0-:22", "user,mac=01:00:00:00:00:01", "tap=a/b",
                "user,foo=1"):  # fmt: skip
        r = subprocess.run(base + ["--net", bad], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--net" in lines[0], (bad, r.stderr)
    # A forwarded port that is taken: vmon cannot start (exit 4), one line says why.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run(base + ["--net", f"user,hostfwd=tcp::{port}-:22"], capture_output=True,
                           text=True, timeout=30)  # fmt: skip
    assert r.returncode == 4, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], r.stderr


def test_libslirp_only_with_net_user(vmon_bin, build_dir):
    """libslirp (and the GLib it needs) is opened when a `--net user` device is made, not at
    start-up: a vmon without it maps neither (the dynamic loader's own list, LD_DEBUG=libs),
    and one with it loads both and still runs the guest to its exit."""
    hello = build_dir / "guests" / "hello.elf"
    if not hello.exists():
        pytest.skip(f"{hello} not built (make guests)")
    base = [str(vmon_bin), "run", "--accel", "emu", "--kernel", str(hello)]
    env = dict(os.environ, LD_DEBUG="libs")

    def loaded(extra):
        r = subprocess.run(base + extra, capture_output=True, text=True, timeout=60, env=env)
        libs = set(re.findall(r"file=(\S+?)\s", r.stderr))
        return r.returncode, r.stdout, {os.path.basename(x) for x in libs}

    rc, out, libs = loaded([])
    assert rc == 3 and "hello from a freestanding guest" in out, (rc, out)
    assert "libc.so.6" in libs, libs  # the loader's list is really there
    assert not any(x.startswith(("libslirp", "libglib")) for x in libs), libs
    rc, out, libs = loaded(["--net", "user"])
    assert rc == 3 and "hello from a freestanding guest" in out, (rc, out)
    assert "libslirp.so.0" in libs and "libglib-2.0.so.0" in libs, libs
