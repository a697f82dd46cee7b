#!/usr/bin/env bash
# make bench: benchmarks side by side with QEMU from Debian.
#   startup.py    kvm: exec to first serial byte and to exit, VMM memory (multiboot guest), on
#                 this host's /dev/kvm when it has one, and (--nested) on kvm-amd inside a QEMU
#                 TCG guest, which is real KVM on any host (this host class's own /dev/kvm, when
#                 present, is a paravirtual one)
#   compute.py    emu vs QEMU TCG: guest instructions per second on a compute loop
#   linux_emu.py  emu vs QEMU TCG: Linux boot to init and power-off, virtio-blk dd throughput
#   blk_host      virtio-blk host-side cost per request, no guest (a fake queue)
set -u
BUILD=${1:-build}
rc=0
if [ ! -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "bench: SKIPPED startup: /dev/kvm not available"
else
	/usr/bin/python3 bench/startup.py "$BUILD" || rc=1
fi
/usr/bin/python3 bench/startup.py "$BUILD" --nested || rc=1
/usr/bin/python3 bench/compute.py "$BUILD" || rc=1
/usr/bin/python3 bench/linux_emu.py "$BUILD" || rc=1
"$BUILD/bench/blk_host" -s 1 || rc=1
exit $rc
