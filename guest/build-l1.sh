#!/usr/bin/env bash
# Build the L1 initramfs for the nested-KVM integration test (tests/integration/test_nested_kvm.py).
# Usage: guest/build-l1.sh OUT_DIR GUEST_DIR [VMON_STATIC]
#   OUT_DIR      gets vmlinuz (the L1 kernel, the same Debian cloud kernel) and l1.cpio.gz
#   GUEST_DIR    the default guest (guest/build.sh output): vmlinuz, initrd.cpio.gz, cmdline
#   VMON_STATIC  a statically linked vmon, installed as /bin/vmon (optional: without it the L1
#                only loads kvm-amd, checks /dev/kvm and powers off)
# The L1's /init is guest/l1-init.sh. VMON_L1_EXTRA=DIR copies DIR's tree over the L1 root (for
# debugging, e.g. another VMM with its libraries). Downloads are shared with guest/build.sh through
# $VMON_GUEST_CACHE (default OUT_DIR/../cache).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

[ $# -ge 2 ] && [ $# -le 3 ] || guest_die "usage: $0 OUT_DIR GUEST_DIR [VMON_STATIC]"
out=$1
guest=$2
vmon=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=${VMON_GUEST_CACHE:-$(dirname "$out")/cache}

for f in vmlinuz initrd.cpio.gz cmdline; do
	[ -s "$guest/$f" ] || guest_die "$guest/$f missing: build the default guest first (make default-guest)"
done
if [ -n "$vmon" ]; then
	[ -x "$vmon" ] || guest_die "$vmon is not an executable"
	if command -v file >/dev/null 2>&1 && ! file -L "$vmon" | grep -q 'statically linked'; then
		guest_log "warning: $vmon does not look statically linked; the L1 initramfs has no libc"
	fi
fi

outputs=("$out/vmlinuz" "$out/l1.cpio.gz")
inputs=("$here/build-l1.sh" "$here/lib.sh" "$here/l1-init.sh" "$guest/vmlinuz" "$guest/initrd.cpio.gz" "$guest/cmdline")
[ -n "$vmon" ] && inputs+=("$vmon")
up_to_date() {
	local o i
	[ "${VMON_GUEST_FORCE:-0}" = 1 ] || [ -n "${VMON_L1_EXTRA:-}" ] && return 1
	[ "$(cat "$out/.vmon-path" 2>/dev/null)" = "${vmon:+$(readlink -f "$vmon")}" ] || return 1
	for o in "${outputs[@]}"; do
		[ -s "$o" ] || return 1
		for i in "${inputs[@]}"; do
			[ "$i" -nt "$o" ] && return 1
		done
	done
	return 0
}
if up_to_date; then
	guest_log "L1 in $out is up to date"
	exit 0
fi

guest_need cpio gzip dpkg-deb
guest_fetch "$cache"
moddir="$GUEST_KROOT/lib/modules/$GUEST_KREL"

stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
mkdir -p "$root"/{dev,proc,sys,tmp,run,root,etc,lib/modules,guest}
guest_busybox_tree "$root" "$GUEST_BBROOT/bin/busybox"
install -m 755 "$here/l1-init.sh" "$root/init"
guest_install_modules "$moddir" "$root/lib/modules" irqbypass kvm kvm_amd
cp "$guest/vmlinuz" "$guest/initrd.cpio.gz" "$guest/cmdline" "$root/guest/"
[ -n "$vmon" ] && install -m 755 "$vmon" "$root/bin/vmon"
# Debugging hook: a directory tree copied over the L1 root (e.g. another VMM and its libraries).
if [ -n "${VMON_L1_EXTRA:-}" ]; then
	cp -a "$VMON_L1_EXTRA/." "$root/"
fi

guest_cpio_devnodes "$stage/l1.cpio"
guest_cpio_tree "$root" "$stage/l1.cpio"
# The payload is mostly already-compressed kernel and initrd: fast gzip is enough.
gzip -1n <"$stage/l1.cpio" >"$out/l1.cpio.gz.tmp"
mv "$out/l1.cpio.gz.tmp" "$out/l1.cpio.gz"
cp "$GUEST_KROOT/boot/vmlinuz-$GUEST_KREL" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "${vmon:+$(readlink -f "$vmon")}" >"$out/.vmon-path"
guest_log "built $out: vmlinuz l1.cpio.gz ($(stat -c %s "$out/l1.cpio.gz") bytes)${vmon:+ with $vmon}"
