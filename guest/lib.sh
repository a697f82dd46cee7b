# shellcheck shell=bash
# Shared helpers for guest/build.sh and guest/build-l1.sh (sourced, not run).
# Fetch Debian 12's cloud kernel and busybox-static with apt-get download, extract them with
# dpkg-deb, resolve kernel module dependencies without depmod, and write newc cpio archives
# without root. Every function prints "guest: ..." messages on stderr and dies on failure.

guest_die() {
	echo "guest: error: $*" >&2
	exit 1
}

guest_log() {
	echo "guest: $*" >&2
}

guest_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || guest_die "missing tool '$t' (Debian package: $(guest_pkg_of "$t"))"
	done
}

guest_pkg_of() {
	case "$1" in
	cpio) echo cpio ;;
	lz4) echo lz4 ;;
	xz) echo xz-utils ;;
	zstd) echo zstd ;;
	gzip) echo gzip ;;
	dpkg-deb) echo dpkg ;;
	apt-get | apt-cache) echo apt ;;
	objcopy | readelf) echo binutils ;;
	*) echo "?" ;;
	esac
}

# apt_lists_ready: true when apt-cache knows linux-image-cloud-amd64.
guest_apt_ready() {
	apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1
}

guest_apt_update_once() {
	guest_apt_ready && return 0
	if [ "$(id -u)" -eq 0 ]; then
		guest_log "apt lists missing: running apt-get update"
		apt-get update -qq || guest_die "apt-get update failed"
		guest_apt_ready || guest_die "apt-cache still does not know linux-image-cloud-amd64 after apt-get update"
	else
		guest_die "apt package lists are missing (apt-cache does not know linux-image-cloud-amd64); run 'apt-get update' as root once, or run this script as root"
	fi
}

# guest_apt_download CACHE PKG: download PKG's candidate .deb into CACHE unless a .deb of PKG is
# already there. Prints the path of the .deb.
guest_apt_download() {
	local cache=$1 pkg=$2 deb
	deb=$(ls -1 "$cache/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$deb" ]; then
		guest_apt_update_once
		guest_log "downloading $pkg"
		# As root, apt warns that the download is unsandboxed; that is harmless here.
		(cd "$cache" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' >&2) || true
		deb=$(ls -1 "$cache/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
		[ -n "$deb" ] || guest_die "apt-get download $pkg failed"
	fi
	echo "$deb"
}

# guest_fetch CACHE: make sure the kernel and busybox .debs are in CACHE and extracted. Sets
# GUEST_KERNEL_DEB, GUEST_BUSYBOX_DEB, GUEST_KROOT (extracted kernel package), GUEST_BBROOT,
# GUEST_KREL (kernel release, e.g. 6.1.0-56-cloud-amd64), GUEST_KVER (package version).
# The kernel package name resolved from linux-image-cloud-amd64 is remembered in
# CACHE/kernel-package; set VMON_GUEST_REFRESH=1 to resolve it again (after apt-get update).
guest_fetch() {
	local cache=$1 kpkg=
	mkdir -p "$cache"
	guest_need dpkg-deb
	# Trust the remembered name only while its .deb is cached: Debian drops superseded kernel
	# ABIs from the archive, so a name without a .deb is resolved afresh.
	if [ -s "$cache/kernel-package" ] && [ "${VMON_GUEST_REFRESH:-0}" != 1 ]; then
		kpkg=$(cat "$cache/kernel-package")
		ls "$cache/${kpkg}_"*.deb >/dev/null 2>&1 || kpkg=
	fi
	if [ -z "$kpkg" ]; then
		guest_need apt-cache apt-get
		guest_apt_update_once
		kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
		[ -n "$kpkg" ] || guest_die "cannot resolve the kernel package of linux-image-cloud-amd64 (apt-cache depends)"
		echo "$kpkg" >"$cache/kernel-package"
	fi
	GUEST_KERNEL_DEB=$(guest_apt_download "$cache" "$kpkg") || exit 1
	GUEST_BUSYBOX_DEB=$(guest_apt_download "$cache" busybox-static) || exit 1
	GUEST_KROOT=$(guest_extract "$cache" "$GUEST_KERNEL_DEB") || exit 1
	GUEST_BBROOT=$(guest_extract "$cache" "$GUEST_BUSYBOX_DEB") || exit 1
	GUEST_KREL=${kpkg#linux-image-}
	[ -d "$GUEST_KROOT/lib/modules/$GUEST_KREL" ] || guest_die "no lib/modules/$GUEST_KREL in $GUEST_KERNEL_DEB"
	[ -f "$GUEST_KROOT/boot/vmlinuz-$GUEST_KREL" ] || guest_die "no boot/vmlinuz-$GUEST_KREL in $GUEST_KERNEL_DEB"
	[ -x "$GUEST_BBROOT/bin/busybox" ] || guest_die "no bin/busybox in $GUEST_BUSYBOX_DEB"
	# shellcheck disable=SC2034 # used by the callers
	GUEST_KVER=$(dpkg-deb -f "$GUEST_KERNEL_DEB" Version)
}

# guest_extract CACHE DEB: dpkg-deb -x DEB into CACHE/extract/NAME once; prints the directory.
guest_extract() {
	local cache=$1 deb=$2 dir
	dir="$cache/extract/$(basename "$deb" .deb)"
	if [ ! -f "$dir/.extracted" ] || [ "$deb" -nt "$dir/.extracted" ]; then
		guest_log "extracting $(basename "$deb")"
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir" || guest_die "dpkg-deb -x $deb failed"
		touch "$dir/.extracted"
	fi
	echo "$dir"
}

# guest_mod_name FILE: module name as the kernel spells it (foo-bar.ko.xz -> foo_bar).
guest_mod_name() {
	local b
	b=$(basename "$1")
	b=${b%.xz}
	b=${b%.zst}
	b=${b%.gz}
	b=${b%.ko}
	echo "${b//-/_}"
}

# guest_mod_cat FILE: write the uncompressed module to stdout.
guest_mod_cat() {
	case "$1" in
	*.ko) cat "$1" ;;
	*.ko.xz) guest_need xz && xz -dc "$1" ;;
	*.ko.zst) guest_need zstd && zstd -qdc "$1" ;;
	*.ko.gz) gzip -dc "$1" ;;
	*) guest_die "unknown module format: $1" ;;
	esac
}

# guest_mod_depends FILE: the module's depends= list from its .modinfo section, space separated.
guest_mod_depends() {
	local tmp
	tmp=$(mktemp)
	guest_mod_cat "$1" >"$tmp" || guest_die "cannot read module $1"
	if command -v objcopy >/dev/null 2>&1 &&
		objcopy -O binary --only-section=.modinfo "$tmp" "$tmp.modinfo" 2>/dev/null; then
		tr '\0' '\n' <"$tmp.modinfo" | sed -n 's/^depends=//p' | tr ',' ' '
	else
		tr '\0' '\n' <"$tmp" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
	fi
	rm -f "$tmp" "$tmp.modinfo"
}

# guest_mod_resolve MODDIR NAME...: print, one per line, the paths (relative to MODDIR) of the
# named modules and everything they depend on, dependencies first. Names missing from MODDIR
# that are built in (modules.builtin) are skipped; other missing names are an error.
guest_mod_resolve() {
	local moddir=$1 f n
	shift
	declare -gA GUEST_MOD_PATH=() GUEST_MOD_STATE=()
	GUEST_MOD_ORDER=()
	while IFS= read -r f; do
		n=$(guest_mod_name "$f")
		GUEST_MOD_PATH[$n]=${f#"$moddir"/}
	done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	for n in "$@"; do
		guest_mod_visit "$moddir" "${n//-/_}"
	done
	printf '%s\n' "${GUEST_MOD_ORDER[@]}"
}

guest_mod_visit() {
	local moddir=$1 n=$2 d
	case "${GUEST_MOD_STATE[$n]:-}" in
	done) return 0 ;;
	busy) guest_die "module dependency cycle at $n" ;;
	esac
	if [ -z "${GUEST_MOD_PATH[$n]:-}" ]; then
		if grep -q "/${n//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null; then
			GUEST_MOD_STATE[$n]="done"
			return 0
		fi
		guest_die "module $n not found under $moddir"
	fi
	GUEST_MOD_STATE[$n]=busy
	for d in $(guest_mod_depends "$moddir/${GUEST_MOD_PATH[$n]}"); do
		guest_mod_visit "$moddir" "$d"
	done
	GUEST_MOD_STATE[$n]="done"
	GUEST_MOD_ORDER+=("${GUEST_MOD_PATH[$n]}")
}

# guest_mod_strip_sig FILE: remove the signature appended to a module (struct module_signature,
# whose last 4 bytes are the big-endian signature length, then "~Module signature appended~\n").
# Debian's kernel does not enforce signatures: it loads an unsigned module (tainting itself "E")
# without hashing and RSA-verifying it, which in an emulated boot costs a fifth of the time.
guest_mod_strip_sig() {
	local f=$1 size siglen
	size=$(stat -c %s "$f")
	[ "$size" -gt 40 ] || return 0
	[ "$(tail -c 28 "$f" | head -c 27)" = "~Module signature appended~" ] || return 0
	siglen=$(tail -c 40 "$f" | head -c 12 | od -An -tu1 |
		awk '{ print $9 * 16777216 + $10 * 65536 + $11 * 256 + $12 }')
	[ "$siglen" -gt 0 ] && [ $((size - 40 - siglen)) -gt 0 ] || guest_die "bad module signature: $f"
	truncate -s $((size - 40 - siglen)) "$f"
}

# guest_install_modules MODDIR DESTDIR NAME...: copy the named modules and their dependencies,
# uncompressed (busybox insmod and the kernel's init_module take plain ELF .ko files) and without
# their signatures (guest_mod_strip_sig), flat into DESTDIR, and write DESTDIR/load-order (file
# names, dependencies first).
guest_install_modules() {
	local moddir=$1 dest=$2 rel out
	shift 2
	mkdir -p "$dest"
	: >"$dest/load-order"
	while IFS= read -r rel; do
		[ -n "$rel" ] || continue
		out="$(guest_mod_name "$rel").ko"
		guest_mod_cat "$moddir/$rel" >"$dest/$out" || guest_die "cannot copy module $rel"
		guest_mod_strip_sig "$dest/$out"
		echo "$out" >>"$dest/load-order"
	done < <(guest_mod_resolve "$moddir" "$@")
}

# guest_busybox_tree ROOT BUSYBOX: install busybox into ROOT/bin with one symlink per applet
# (asking the host to run the static binary for its applet list; falls back to installing the
# links at boot when the host cannot run it).
guest_busybox_tree() {
	local root=$1 bb=$2 a
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin"
	cp "$bb" "$root/bin/busybox"
	chmod 755 "$root/bin/busybox"
	if "$bb" --list-full >"$root/.applets" 2>/dev/null; then
		while IFS= read -r a; do
			[ -n "$a" ] && [ "$a" != bin/busybox ] || continue
			[ -e "$root/$a" ] || [ -L "$root/$a" ] || ln -s /bin/busybox "$root/$a"
		done <"$root/.applets"
		ln -sf busybox "$root/bin/sh"
	else
		ln -sf busybox "$root/bin/sh"
		touch "$root/.busybox-install-at-boot"
	fi
	rm -f "$root/.applets"
}

# guest_cpio_devnodes OUT: write a newc cpio archive holding dev/, dev/console (c 5 1) and
# dev/null (c 1 3), owned by root, without needing mknod. The kernel opens /dev/console for
# init before /init runs, so the node must be in the initramfs itself.
guest_cpio_devnodes() {
	local out=$1
	{
		guest_cpio_entry 1 040755 0 0 dev
		guest_cpio_entry 2 020600 5 1 dev/console
		guest_cpio_entry 3 020666 1 3 dev/null
		guest_cpio_entry 0 0 0 0 'TRAILER!!!'
	} >"$out"
}

# guest_cpio_entry INO MODE(octal) RDEVMAJOR RDEVMINOR NAME: one newc header + name, no data.
guest_cpio_entry() {
	local ino=$1 mode=$((8#$2)) maj=$3 min=$4 name=$5 namesize pad
	namesize=$((${#name} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$ino" "$mode" 0 0 1 0 0 0 0 "$maj" "$min" "$namesize" 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	[ "$pad" -gt 0 ] && head -c "$pad" /dev/zero
	return 0
}

# guest_cpio_tree ROOT OUT: append a newc cpio of ROOT to OUT, reproducibly: entries sorted,
# owned by 0:0, inodes renumbered, mtimes set to $SOURCE_DATE_EPOCH (default 0).
guest_cpio_tree() {
	local root=$1 out=$2
	guest_need cpio
	find "$root" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --owner=0:0 --renumber-inodes --ignore-devno --quiet) >>"$out" ||
		guest_die "cpio failed for $root"
}

# guest_extract_vmlinux BZIMAGE OUT: decompress the kernel payload of a bzImage into OUT (the
# uncompressed ELF vmlinux). Uses the boot protocol's payload_offset/payload_length (2.08+),
# falling back to scanning for compression magics like Linux's scripts/extract-vmlinux.
guest_extract_vmlinux() {
	local bz=$1 out=$2 setup_sects poff plen start magic
	setup_sects=$(od -An -tu1 -j 0x1f1 -N1 "$bz" | tr -d ' ')
	[ "$setup_sects" = 0 ] && setup_sects=4
	start=$(((setup_sects + 1) * 512))
	poff=$(od -An -tu4 -j 0x248 -N4 "$bz" | tr -d ' ')
	plen=$(od -An -tu4 -j 0x24c -N4 "$bz" | tr -d ' ')
	rm -f "$out"
	if [ "$(dd if="$bz" bs=1 skip=514 count=4 status=none)" != HdrS ]; then
		guest_die "$bz is not a bzImage (no HdrS)"
	fi
	if [ -n "$poff" ] && [ "$plen" -gt 0 ] 2>/dev/null; then
		magic=$(od -An -tx1 -j $((start + poff)) -N 8 "$bz" | tr -d ' \n')
		if guest_try_decompress "$bz" $((start + poff)) "$magic" "$out"; then
			return 0
		fi
	fi
	# Fallback: scan for the magics that scripts/extract-vmlinux knows.
	local m pos
	for m in '1f8b08' 'fd377a585a00' '02214c18' '28b52ffd' '5d000000' '425a68' '894c5a'; do
		while IFS=: read -r pos _; do
			guest_try_decompress "$bz" "$pos" "$m" "$out" && return 0
		done < <(LC_ALL=C grep -abo "$(echo "$m" | sed 's/../\\x&/g' | xargs -0 printf '%b')" "$bz" 2>/dev/null | head -n 5)
	done
	guest_die "could not find or decompress the kernel payload of $bz"
}

# guest_try_decompress FILE OFFSET MAGICHEX OUT: decompress FILE from OFFSET with the tool that
# fits MAGICHEX; succeed when OUT then starts with an ELF header. Decompressors complain about
# the trailing data after the payload (the appended size, the rest of the image), so their exit
# status is not trusted; the ELF check and a size check are.
guest_try_decompress() {
	local f=$1 off=$2 magic=$3 out=$4 tool
	case "$magic" in
	1f8b08*) tool="gzip -dc" ;;
	fd377a585a00*) tool="xz -dc" ;;
	02214c18*) tool="lz4 -dc" ;;
	28b52ffd*) tool="zstd -qdc" ;;
	5d000000*) tool="xz -dc --format=lzma" ;;
	425a68*) tool="bzip2 -dc" ;;
	894c5a*) tool="lzop -dc" ;;
	*) return 1 ;;
	esac
	command -v "${tool%% *}" >/dev/null 2>&1 ||
		guest_die "the kernel payload is ${tool%% *}-compressed but '${tool%% *}' is missing (Debian package: $(guest_pkg_of "${tool%% *}"))"
	tail -c +$((off + 1)) "$f" | $tool >"$out" 2>/dev/null || true
	[ "$(od -An -tx1 -N 4 "$out" | tr -d ' \n')" = 7f454c46 ] || return 1
	# The section header table ends the ELF file: a truncated output would lack it.
	local shoff shnum shentsize size
	shoff=$(od -An -tu8 -j 40 -N8 "$out" | tr -d ' ')
	shentsize=$(od -An -tu2 -j 58 -N2 "$out" | tr -d ' ')
	shnum=$(od -An -tu2 -j 60 -N2 "$out" | tr -d ' ')
	size=$(stat -c %s "$out")
	[ $((shoff + shnum * shentsize)) -le "$size" ] || return 1
	return 0
}

# guest_has_pvh_note ELF: true when ELF carries XEN_ELFNOTE_PHYS32_ENTRY (Xen note type 18),
# the PVH entry point. Prints the 32-bit entry address on stdout.
guest_has_pvh_note() {
	local elf=$1
	command -v readelf >/dev/null 2>&1 || {
		guest_log "warning: readelf missing (binutils); cannot check the PVH note"
		return 1
	}
	readelf -Wn "$elf" 2>/dev/null | awk '
		/Xen/ && (/\(0x00000012\)/ || /PHYS32_ENTRY/) { want = 1 }
		want && /description data:/ {
			sub(/.*description data: */, "")
			split($0, b, " ")
			printf "0x%s%s%s%s\n", b[4], b[3], b[2], b[1]; found = 1; want = 0 }
		END { exit found ? 0 : 1 }'
}
