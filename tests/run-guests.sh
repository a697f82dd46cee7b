#!/usr/bin/env bash
# Run the freestanding guest tests listed in tests/guests/manifest on vmon's kvm and emu backends
# and on QEMU TCG (the reference: the same images must pass there).
#
# Usage: tests/run-guests.sh BUILD_DIR
#   BUILD_DIR/vmon     the vmon binary (kvm and emu backends)
#   BUILD_DIR/guests/  the guest images (make guests); logs go to BUILD_DIR/guests/logs/
# Environment:
#   VMON_GUEST_BACKENDS  backends to run, default "kvm emu qemu"
#   VMON_GUEST_CASES     extended regex; run only the cases whose name matches
#   VMON_GUEST_TIMEOUT   seconds per case, default 60
#   QEMU                 QEMU binary, default qemu-system-x86_64
#   VMON_RESULTS         if set, "guests PASSED FAILED" is appended to this file
# Prints "guest: NAME [BACKEND]: PASS|FAIL (detail)" per case, "SKIPPED: BACKEND: reason" once
# for a backend that cannot run, and finally "guests: N passed, N failed, N skipped".
# Exits 1 if any case failed.
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" 2>/dev/null && pwd) || {
	echo "run-guests: no such directory: $1" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
manifest=$here/guests/manifest
guests=$build/guests
vmon=$build/vmon
logs=$guests/logs
timeout_s=${VMON_GUEST_TIMEOUT:-60}
backends=${VMON_GUEST_BACKENDS:-kvm emu qemu}
case_filter=${VMON_GUEST_CASES:-}
qemu=${QEMU:-qemu-system-x86_64}
mkdir -p "$logs" 2>/dev/null
if [ ! -w "$logs" ]; then
	logs=$(mktemp -d "${TMPDIR:-/tmp}/vmon-guest-logs.XXXXXX") || exit 2
fi

pass=0 fail=0 skip=0

trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf '%s' "$s"
}

now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# ---- manifest ------------------------------------------------------------------------------
names=() images=() cpus=() statuses=() markers=() cmdlines=() initrds=() only=() vmonargs=()
disks=() diskchecks=() stdins=()
while IFS= read -r line || [ -n "$line" ]; do
	case $(trim "$line") in '' | '#'*) continue ;; esac
	IFS='|' read -r f_name f_img f_cpus f_status f_marker f_cmd f_opts <<<"$line"
	f_name=$(trim "$f_name")
	if [ -n "$case_filter" ] && ! [[ $f_name =~ $case_filter ]]; then
		continue
	fi
	f_initrd='' f_only='' f_vmon='' f_disk='' f_diskcheck='' f_stdin=''
	for opt in $(trim "${f_opts:-}"); do
		case $opt in
		initrd=*) f_initrd=${opt#initrd=} ;;
		backends=*) f_only=${opt#backends=} ;;
		vmon=*) f_vmon=${opt#vmon=} ;;
		disk=*) f_disk=${opt#disk=} ;;
		disk_check=*) f_diskcheck=${opt#disk_check=} ;;
		stdin=*) f_stdin=${opt#stdin=} ;;
		*) echo "run-guests: $f_name: unknown option '$opt' in $manifest" >&2 ;;
		esac
	done
	names+=("$f_name")
	images+=("$(trim "${f_img:-}")")
	cpus+=("$(trim "${f_cpus:-1}")")
	statuses+=("$(trim "${f_status:-1}")")
	markers+=("$(trim "${f_marker:-}")")
	cmdlines+=("$(trim "${f_cmd:-}")")
	initrds+=("$f_initrd")
	only+=("$f_only")
	vmonargs+=("${f_vmon//,/ }")
	disks+=("$f_disk")
	diskchecks+=("$f_diskcheck")
	stdins+=("$f_stdin")
done <"$manifest"

if [ ${#names[@]} -eq 0 ]; then
	echo "run-guests: no cases selected from $manifest" >&2
fi

# ---- backends ------------------------------------------------------------------------------
# Prints why the backend cannot run at all, or nothing.
backend_unusable() {
	local err
	case $1 in
	kvm)
		if [ ! -x "$vmon" ]; then
			echo "$vmon not built"
		elif [ ! -c /dev/kvm ]; then
			echo "/dev/kvm not available (no such character device)"
		elif ! err=$( { exec 3<>/dev/kvm; } 2>&1); then
			echo "/dev/kvm not available (${err##*: })"
		fi
		;;
	emu)
		[ -x "$vmon" ] || echo "$vmon not built"
		;;
	qemu)
		command -v "$qemu" >/dev/null 2>&1 || echo "$qemu not found"
		;;
	*)
		echo "unknown backend"
		;;
	esac
}

# make_disk FILE SECTORS: a raw disk image of SECTORS 512-byte sectors whose sector 0 holds
# byte i = (7 * i + 1) mod 256 and the rest zeroes (the pattern virtio_blk.c checks).
make_disk() {
	local f=$1 n=$2 s='' o i
	for ((i = 0; i < 512; i++)); do
		printf -v o '\\%03o' $(((7 * i + 1) & 255))
		s+=$o
	done
	# shellcheck disable=SC2059 # the format is the octal escapes built above
	printf "$s" >"$f" && truncate -s $((n * 512)) "$f"
}

# run_one BACKEND IMG CPUS CMDLINE INITRD LOG [VMON_ARGS [STDIN]]: runs the VM, returns its exit
# status. STDIN, when set, is written to the VMM's standard input (a pipe), else it is /dev/null.
run_one() {
	local backend=$1 img=$2 ncpu=$3 cmd=$4 initrd=$5 log=$6 extra=${7:-} input=${8:-}
	local args
	case $backend in
	kvm | emu)
		args=(run --accel "$backend" --testdev --serial stdio --mem 64M --cpus "$ncpu"
			--kernel "$img")
		[ -n "$initrd" ] && args+=(--initrd "$initrd")
		# shellcheck disable=SC2206 # word splitting of the manifest's vmon= list is intended
		[ -n "$extra" ] && args+=($extra)
		cmd=$(trim "$cmd testdev=1")
		# A paravirtual KVM (no VMX/SVM, e.g. kvm-pvm) runs guest kernel code in KVM's
		# instruction emulator, which cannot execute INT n outside real mode: the exception
		# guest then skips #BP and says so.
		if [ "$backend" = kvm ] && ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
			cmd="$cmd skip_int3=1"
		fi
		args+=(--cmdline "$cmd")
		printf '$ %q' "$vmon" >"$log"
		printf ' %q' "${args[@]}" >>"$log"
		echo >>"$log"
		if [ -n "$input" ]; then
			printf '%s' "$input" | timeout -k 5 "$timeout_s" "$vmon" "${args[@]}" >>"$log" 2>&1
		else
			timeout -k 5 "$timeout_s" "$vmon" "${args[@]}" </dev/null >>"$log" 2>&1
		fi
		;;
	qemu)
		args=(-M pc -accel tcg -m 64 -smp "$ncpu" -display none -serial stdio -no-reboot
			-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$img")
		[ -n "$initrd" ] && args+=(-initrd "$initrd")
		args+=(-append "$cmd")
		printf '$ %q' "$qemu" >"$log"
		printf ' %q' "${args[@]}" >>"$log"
		echo >>"$log"
		timeout -k 5 "$timeout_s" "$qemu" "${args[@]}" </dev/null >>"$log" 2>&1
		;;
	esac
}

for backend in $backends; do
	# A backend that cannot run at all: one SKIPPED line, every case counted as skipped.
	reason=$(backend_unusable "$backend")
	[ -n "$reason" ] && echo "SKIPPED: $backend: $reason"
	for i in "${!names[@]}"; do
		name=${names[$i]}
		if [ -n "${only[$i]}" ] && [[ ",${only[$i]}," != *",$backend,"* ]]; then
			continue
		fi
		if [ -n "$reason" ]; then
			skip=$((skip + 1))
			continue
		fi
		img=$guests/${images[$i]}
		initrd=${initrds[$i]:+$guests/${initrds[$i]}}
		log=$logs/$name.$backend.log
		if [ ! -f "$img" ] || { [ -n "$initrd" ] && [ ! -f "$initrd" ]; }; then
			echo "guest: $name [$backend]: FAIL (missing $img${initrd:+ or $initrd}; run make guests)"
			fail=$((fail + 1))
			continue
		fi
		extra=${vmonargs[$i]} disk=''
		if [ -n "${disks[$i]}" ]; then
			disk=$logs/$name.$backend.img
			sectors=${disks[$i]%%:*} serial=''
			[[ ${disks[$i]} == *:* ]] && serial=${disks[$i]#*:}
			if ! make_disk "$disk" "$sectors"; then
				echo "guest: $name [$backend]: FAIL (cannot create $disk)"
				fail=$((fail + 1))
				continue
			fi
			extra+=" --disk path=$disk${serial:+,serial=$serial}"
		fi
		t0=$(now_ms)
		run_one "$backend" "$img" "${cpus[$i]}" "${cmdlines[$i]}" "$initrd" "$log" "$extra" \
			"${stdins[$i]}"
		rc=$?
		ms=$(($(now_ms) - t0))
		took="$((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"

		# vmon exits with status 2 and says so when the backend is unavailable on this host or
		# build: skip this and the remaining cases of the backend.
		if [ "$backend" != qemu ] && [ $rc -eq 2 ]; then
			why=$(grep -aiE "$backend" "$log" | grep -m1 -aiE \
				'unavailable|not available|not supported|not implemented|not built')
			if [ -n "$why" ]; then
				reason=$(trim "$why")
				echo "SKIPPED: $backend: $reason"
				skip=$((skip + 1))
				continue
			fi
		fi

		detail=()
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			detail+=("timed out after ${timeout_s}s")
		elif [ "$rc" != "${statuses[$i]}" ]; then
			detail+=("exit status $rc, expected ${statuses[$i]}")
		fi
		if [ -n "${markers[$i]}" ] && ! grep -qaF -- "${markers[$i]}" "$log"; then
			detail+=("marker not found: '${markers[$i]}'")
		fi
		if [ -n "$disk" ] && [ -n "${diskchecks[$i]}" ] && ! grep -qaF -- "${diskchecks[$i]}" "$disk"; then
			detail+=("disk image $disk lacks '${diskchecks[$i]}'")
		fi
		failline=$(grep -m1 -aE '^vmon-test: [^ ]+: FAIL' "$log")
		[ -n "$failline" ] && detail+=("${failline#vmon-test: }")
		if [ ${#detail[@]} -eq 0 ]; then
			echo "guest: $name [$backend]: PASS (status $rc, $took)"
			pass=$((pass + 1))
		else
			msg=$(printf '%s; ' "${detail[@]}")
			echo "guest: $name [$backend]: FAIL (${msg%; }; log $log)"
			tail -n 15 "$log" | sed 's/^/    | /'
			fail=$((fail + 1))
		fi
	done
done

echo "guests: $pass passed, $fail failed, $skip skipped"
if [ -n "${VMON_RESULTS:-}" ]; then
	echo "guests $pass $fail" >>"$VMON_RESULTS"
fi
[ $fail -eq 0 ]
