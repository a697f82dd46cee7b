#!/bin/sh
# /init of the L1 guest used by tests/integration/test_nested_kvm.py (busybox ash, PID 1).
# Loads kvm + kvm-amd, checks /dev/kvm, then boots the default guest (L2) with /bin/vmon on
# KVM once per vCPU count and reports each run on the console:
#   L1: kvm dev=yes|no nested=yes|no npt=yes|no
#   L1: run cpus=N status=RC marker=yes|no seconds=S
#   L1: done
# Kernel command-line options: l1.cpus=1,2 (vCPU counts to run), l1.timeout=SECONDS (per run),
# l1.mem=256M (L2 memory), l1.shell=1 (interactive shell at the end instead of powering off),
# l1.transport=pci (the L2 gets a virtio-rng on virtio-pci and, instead of powering off at once,
# reads /dev/hwrng and lists its MSI-X interrupts before it powers off), l1.bench=RUNS (run
# /bench/startup-l1.sh RUNS instead of the L2 Linux boots: the nested start-up benchmark of
# bench/startup.py --nested).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /tmp /run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname vmon-l1

uptime_s() {
	read -r up _ </proc/uptime
	echo "$up"
}
echo "L1: init start uptime=$(uptime_s)"

cpus_list=1,2
timeout_s=600
mem=256M
shell=0
transport=mmio
bench=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	l1.cpus=*) cpus_list=${arg#l1.cpus=} ;;
	l1.timeout=*) timeout_s=${arg#l1.timeout=} ;;
	l1.mem=*) mem=${arg#l1.mem=} ;;
	l1.shell=1) shell=1 ;;
	l1.transport=*) transport=${arg#l1.transport=} ;;
	l1.bench=*) bench=${arg#l1.bench=} ;;
	esac
done

while read -r m; do
	[ -n "$m" ] || continue
	insmod "/lib/modules/$m" || echo "L1: insmod $m failed"
done </lib/modules/load-order

kvm_dev=no
nested=no
npt=no
[ -c /dev/kvm ] && kvm_dev=yes
# kvm_amd's own word: its parameters, and (6.1) "kvm: Nested Virtualization enabled",
# "SVM: kvm: Nested Paging enabled" in dmesg.
case "$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)" in 1 | Y) nested=yes ;; esac
case "$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)" in 1 | Y) npt=yes ;; esac
dmesg | grep -q 'Nested Virtualization enabled' || nested=no
dmesg | grep -q 'Nested Paging enabled' || npt=no
dmesg | grep -E 'kvm|SVM|svm' | sed 's/^/L1-dmesg: /'
echo "L1: kvm dev=$kvm_dev nested=$nested npt=$npt uptime=$(uptime_s)"

finish() {
	echo "L1: done uptime=$(uptime_s)"
	if [ "$shell" = 1 ]; then
		setsid cttyhack sh
	fi
	sync
	poweroff -f
}

if [ -n "$bench" ] && [ "$kvm_dev" = yes ] && [ -x /bench/startup-l1.sh ]; then
	/bench/startup-l1.sh "$bench"
	finish
fi
if [ ! -x /bin/vmon ]; then
	echo "L1: no vmon binary in this initramfs (built without --vmon)"
	finish
fi
if [ "$kvm_dev" != yes ]; then
	echo "L1: /dev/kvm missing: cannot run vmon on KVM"
	finish
fi

# shellcheck disable=SC3040 # busybox ash has pipefail
set -o pipefail
l2_cmdline="$(cat /guest/cmdline) vmon.poweroff=1"
l2_devices=
if [ "$transport" = pci ]; then
	l2_devices=--rng
	l2_cmdline="$(cat /guest/cmdline) vmon.run=\"dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c; grep virtio /proc/interrupts\""
fi
for n in $(echo "$cpus_list" | tr ',' ' '); do
	echo "L1: run cpus=$n start uptime=$(uptime_s)"
	t0=$(uptime_s)
	timeout -s KILL "$timeout_s" /bin/vmon run --accel kvm \
		--kernel /guest/vmlinuz --initrd /guest/initrd.cpio.gz \
		--cmdline "$l2_cmdline" --mem "$mem" --cpus "$n" --serial stdio \
		--transport "$transport" $l2_devices \
		</dev/null 2>&1 | tee "/tmp/l2-cpus$n.log"
	rc=$?
	t1=$(uptime_s)
	marker=no
	grep -q 'VMON-GUEST-READY' "/tmp/l2-cpus$n.log" && marker=yes
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "L1: run cpus=$n status=$rc marker=$marker seconds=$secs"
done
finish
