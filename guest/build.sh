#!/usr/bin/env bash
# Build vmon's default Linux guest from Debian 12 packages. Usage: guest/build.sh OUT_DIR
# Produces OUT_DIR/{vmlinuz,vmlinux,initrd.cpio.gz,cmdline,info,modules/}; see guest/README.md.
# Downloads go to $VMON_GUEST_CACHE (default OUT_DIR/../cache) and are reused. No root needed
# once apt's package lists exist. Does nothing when the outputs are newer than the inputs
# (VMON_GUEST_FORCE=1 rebuilds).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || guest_die "usage: $0 OUT_DIR"
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=${VMON_GUEST_CACHE:-$(dirname "$out")/cache}

# Virtio drivers that vmon's devices need; their dependencies come along (modules.dep order:
# virtio_ring, virtio, ...; net_failover and failover for virtio_net; vsock and
# vmw_vsock_virtio_transport_common for the vsock transport; rng-core is built in).
MODULES="virtio_ring virtio virtio_mmio virtio_pci virtio_blk virtio_net virtio_console virtio_rng
vmw_vsock_virtio_transport virtio_balloon"
# Serial console (earlyprintk too, for bring-up), reboot through the keyboard controller,
# reboot at once on panic (the VMM sees the exit), fixed kernel placement for reproducible runs,
# and no crypto self-tests at boot (cryptomgr.notests: they check the kernel's own crypto code,
# cost 6-8 s of an emulated boot, and a VMM test learns nothing from them).
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=-1 nokaslr cryptomgr.notests"

outputs=("$out/vmlinuz" "$out/vmlinux" "$out/initrd.cpio.gz" "$out/cmdline" "$out/info")
inputs=("$here/build.sh" "$here/lib.sh" "$here/init.sh" "$here/vsock-tool.c" "$here/udhcpc.script")

# The cache key: what the outputs are built from, by content (timestamps alone miss a change that
# a checkout gives an old mtime, or an output copied in from elsewhere). Written last; a build is
# reused only when it matches.
build_key() {
	{
		cat "${inputs[@]}"
		echo "modules=$MODULES"
		echo "cmdline=$CMDLINE"
		cat "$cache/kernel-package" 2>/dev/null
	} | sha256sum | cut -d' ' -f1
}

up_to_date() {
	local o i
	[ "${VMON_GUEST_FORCE:-0}" = 1 ] && return 1
	[ -s "$cache/kernel-package" ] || return 1
	for o in "${outputs[@]}"; do
		[ -s "$o" ] || return 1
		for i in "${inputs[@]}" "$cache/kernel-package" "$cache"/*.deb; do
			[ "$i" -nt "$o" ] && return 1
		done
	done
	[ "$(cat "$out/cmdline")" = "$CMDLINE" ] || return 1
	[ "$(cat "$out/build-key" 2>/dev/null)" = "$(build_key)" ] || return 1
	return 0
}

if up_to_date; then
	guest_log "default guest in $out is up to date"
	exit 0
fi

start=$(date +%s)
rm -f "$out/build-key" # a build that stops half-way is never taken as up to date
guest_need cpio gzip dpkg-deb od gcc
guest_fetch "$cache"
moddir="$GUEST_KROOT/lib/modules/$GUEST_KREL"

# Kernel: the bzImage as shipped, and the ELF vmlinux inside it (for PVH / ELF loading).
cp "$GUEST_KROOT/boot/vmlinuz-$GUEST_KREL" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
guest_log "extracting vmlinux from the bzImage"
guest_extract_vmlinux "$out/vmlinuz" "$out/vmlinux.tmp"
mv "$out/vmlinux.tmp" "$out/vmlinux"
if pvh=$(guest_has_pvh_note "$out/vmlinux"); then
	guest_log "vmlinux has a PVH entry note (Xen note 18): entry $pvh"
else
	pvh=none
	guest_log "warning: $out/vmlinux has no PVH entry note (Xen ELF note type 18); PVH boot will not work"
fi

# Initramfs: busybox, /init, the virtio modules.
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
mkdir -p "$root"/{dev,proc,sys,tmp,run,root,etc,lib/modules,mnt}
guest_busybox_tree "$root" "$GUEST_BBROOT/bin/busybox"
install -m 755 "$here/init.sh" "$root/init"
# udhcpc's event script (busybox ships none): `udhcpc -i eth0` configures the interface.
install -D -m 755 "$here/udhcpc.script" "$root/etc/udhcpc/default.script"
# vsock-tool: an AF_VSOCK client/server (busybox has none), static with the host's libc.a.
gcc -static -Os -s -o "$root/bin/vsock-tool" "$here/vsock-tool.c"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
echo "export PS1='vmon# '" >"$root/etc/profile"
# shellcheck disable=SC2086
guest_install_modules "$moddir" "$root/lib/modules" $MODULES
echo "$GUEST_KREL" >"$root/etc/kernel-release"

guest_cpio_devnodes "$stage/initrd.cpio"
guest_cpio_tree "$root" "$stage/initrd.cpio"
gzip -9n <"$stage/initrd.cpio" >"$out/initrd.cpio.gz.tmp"
mv "$out/initrd.cpio.gz.tmp" "$out/initrd.cpio.gz"

rm -rf "$out/modules"
mkdir -p "$out/modules"
cp "$root/lib/modules/load-order" "$out/modules/load-order"
echo "$GUEST_KREL" >"$out/modules/kernel-release"

echo "$CMDLINE" >"$out/cmdline"
cat >"$out/info" <<EOF
kernel_package=$(basename "$GUEST_KERNEL_DEB")
kernel_version=$GUEST_KVER
kernel_release=$GUEST_KREL
kernel_compression=$(grep -o '^CONFIG_KERNEL_[A-Z0-9]*=y' "$GUEST_KROOT/boot/config-$GUEST_KREL" | sed 's/CONFIG_KERNEL_//; s/=y//' | tr '[:upper:]' '[:lower:]')
busybox_package=$(basename "$GUEST_BUSYBOX_DEB")
pvh_entry=$pvh
modules=$(sed 's/\.ko$//' "$out/modules/load-order" | tr '\n' ' ' | sed 's/ $//')
EOF
build_key >"$out/build-key"
guest_log "built $out in $(($(date +%s) - start))s: vmlinuz vmlinux initrd.cpio.gz ($(stat -c %s "$out/initrd.cpio.gz") bytes) cmdline"
