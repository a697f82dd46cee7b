#!/usr/bin/env bash
# Make a directory tree holding the host's qemu-system-x86_64 with its shared libraries and
# firmware, plus a /bin/vmon stand-in script that maps vmon's `run` options onto QEMU/KVM.
# Usage: guest/l1-qemu-extra.sh [--no-standin] DIR
# Pass DIR to guest/build-l1.sh as VMON_L1_EXTRA=DIR to check the nested-KVM harness (L1 boot,
# /dev/kvm, the L2 run and its markers) independently of vmon:
#   VMON_TEST_NESTED_STANDIN=qemu python3 -m pytest tests/integration/test_nested_kvm.py
# --no-standin leaves /bin/vmon out, for an L1 that holds both VMMs (bench/startup.py --nested).
set -euo pipefail

standin=1
if [ "${1:-}" = --no-standin ]; then
	standin=0
	shift
fi
[ $# -eq 1 ] || {
	echo "usage: $0 [--no-standin] DIR" >&2
	exit 1
}
dir=$1
qemu=$(command -v qemu-system-x86_64) || {
	echo "l1-qemu-extra: qemu-system-x86_64 not installed" >&2
	exit 1
}
rm -rf "$dir"
mkdir -p "$dir/usr/bin" "$dir/usr/share/qemu" "$dir/bin"
cp -L "$qemu" "$dir/usr/bin/qemu-system-x86_64"
ldd "$qemu" | awk '/=>/ { print $3 } /^[[:space:]]*\/.*ld-linux/ { print $1 }' | while read -r lib; do
	[ -n "$lib" ] && [ -e "$lib" ] || continue
	mkdir -p "$dir$(dirname "$lib")"
	cp -L "$lib" "$dir$lib"
done
mkdir -p "$dir/lib64"
cp -L /lib64/ld-linux-x86-64.so.2 "$dir/lib64/"
# -M pc (SeaBIOS) and -M microvm (qboot) firmware, and the option ROMs -kernel loads.
for f in bios-256k.bin bios-microvm.bin linuxboot_dma.bin multiboot_dma.bin pvh.bin kvmvapic.bin; do
	for d in /usr/share/qemu /usr/share/seabios; do
		if [ -e "$d/$f" ]; then
			cp -L "$d/$f" "$dir/usr/share/qemu/"
			break
		fi
	done
done
if [ "$standin" = 0 ]; then
	echo "l1-qemu-extra: $(du -sh "$dir" | cut -f1) in $dir" >&2
	exit 0
fi
cat >"$dir/bin/vmon" <<'EOF'
#!/bin/sh
# Stand-in for vmon in the L1 guest: `vmon run` options mapped onto QEMU with KVM.
k= i= c= m=256M n=1
while [ $# -gt 0 ]; do
	case "$1" in
	run) ;;
	--kernel) k=$2; shift ;;
	--initrd) i=$2; shift ;;
	--cmdline) c=$2; shift ;;
	--mem) m=$2; shift ;;
	--cpus) n=$2; shift ;;
	--accel | --serial) shift ;;
	esac
	shift
done
exec qemu-system-x86_64 -M pc -accel kvm -cpu host -nodefaults -m "$m" -smp "$n" \
	-kernel "$k" ${i:+-initrd "$i"} -append "$c" -serial stdio -display none -no-reboot
EOF
chmod 755 "$dir/bin/vmon"
echo "l1-qemu-extra: $(du -sh "$dir" | cut -f1) in $dir" >&2
