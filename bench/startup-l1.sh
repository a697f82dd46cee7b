#!/bin/sh
# The nested start-up benchmark, inside the L1 guest (QEMU TCG emulating AMD SVM, kvm-amd loaded):
# run by guest/l1-init.sh for l1.bench=RUNS; bench/startup.py --nested builds the L1 and reads
# the lines printed here:
#   L1-bench: NAME FIRST_MS EXIT_MS MAXRSS_KIB STATUS
# The cases take turns, run by run, so a slow stretch of the TCG host hits them all alike.
# Needs /bench/launch (bench/launch.c, static), /bench/guest.elf, /bin/vmon (static),
# /bench/vmon (dynamic, with its libraries in the tree) and qemu-system-x86_64.
runs=${1:-10}
guest=/bench/guest.elf
mem=64M
q="-display none -serial stdio -no-reboot -nodefaults -device isa-debug-exit,iobase=0xf4,iosize=4"
q="$q -accel kvm -cpu host,-arch-capabilities -m $mem -kernel $guest -append hello=world"
case_argv() {
	case "$1" in
	vmon) echo "/bench/vmon run --accel kvm --mem $mem --kernel $guest --cmdline hello=world" ;;
	vmon-static) echo "/bin/vmon run --accel kvm --mem $mem --kernel $guest --cmdline hello=world" ;;
	qemu-pc) echo "qemu-system-x86_64 -M pc $q" ;;
	qemu-microvm) echo "qemu-system-x86_64 -M microvm $q" ;;
	esac
}
cases="vmon vmon-static qemu-pc qemu-microvm"
# One untimed run of each first: it brings the binaries and libraries into the page cache.
for c in $cases; do
	# shellcheck disable=SC2046 # the argument list is split on purpose
	/bench/launch $(case_argv "$c") >/dev/null 2>&1
done
i=0
while [ "$i" -lt "$runs" ]; do
	for c in $cases; do
		# shellcheck disable=SC2046
		echo "L1-bench: $c $(/bench/launch $(case_argv "$c") 2>/dev/null)"
	done
	i=$((i + 1))
done
for c in vmon vmon-static; do
	# shellcheck disable=SC2046
	echo "L1-bench-mem: $c $($(case_argv "$c") -v 2>&1 >/dev/null | grep 'memory: rss' | sed 's/.*memory: //')"
done
