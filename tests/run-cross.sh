#!/usr/bin/env bash
# Cross layer: the emu core and its unit tests (tests/unit/test_emu_*.c) built for aarch64 with
# Debian's cross compiler (make cross-build) and run under qemu-aarch64 user mode, to prove the
# emulator is portable C. Called by `make cross-check` (which installs the tool chain first with
# mk/deps.sh cross) and by tests/check.sh.
# Usage: tests/run-cross.sh BUILD_DIR
# The binaries run through tests/run-unit.sh (each under $QEMU, killed after 300 s): it prints
# "cross: test_emu_X: N passed (aarch64, ...)" per binary, then "cross: N passed, N failed",
# appends "cross passed failed" to $VMON_RESULTS when set and exits non-zero on any failure. Skips (prints
# "SKIPPED: cross: <reason>", records 0 0, exits 0) only on a host that is not x86-64; on x86-64
# a missing tool chain is a failure.
#
# The binaries are linked dynamically against the multiarch arm64 runtime (libc6:arm64, pulled in
# by libcmocka-dev:arm64) and run without -L: qemu-aarch64 then takes the loader and libc from
# /lib/aarch64-linux-gnu, one consistent glibc. With -L /usr/aarch64-linux-gnu the loader would
# come from the cross package while libc.so.6 would still be found in the multiarch directory, and
# that mix (two glibc builds) hangs in the first pthread_create.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_AARCH64:-qemu-aarch64}

results() {
	[ -n "${VMON_RESULTS:-}" ] && echo "cross $1 $2" >>"$VMON_RESULTS"
	return 0
}

host=$(uname -m)
if [ "$host" != x86_64 ]; then
	echo "SKIPPED: cross: the host is $host, not x86-64 (this layer cross-builds from x86-64 to aarch64)"
	results 0 0
	exit 0
fi

fail_setup() {
	echo "cross: $1"
	echo "cross: 0 passed, 1 failed"
	results 0 1
	exit 1
}
command -v "$CROSS_CC" >/dev/null 2>&1 ||
	fail_setup "$CROSS_CC not found (mk/deps.sh cross installs gcc-aarch64-linux-gnu)"
command -v "$QEMU" >/dev/null 2>&1 || fail_setup "$QEMU not found (mk/deps.sh cross installs qemu-user)"
[ -e /lib/ld-linux-aarch64.so.1 ] ||
	fail_setup "no arm64 runtime in /lib/aarch64-linux-gnu (mk/deps.sh cross installs libcmocka-dev:arm64)"

log=$(mktemp "${TMPDIR:-/tmp}/vmon-cross.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
if ! make --no-print-directory -j"$(nproc)" cross-build BUILD="$BUILD" >"$log" 2>&1; then
	tail -n 30 "$log"
	fail_setup "build failed"
fi

bins=()
for t in "$BUILD"/cross/tests/test_emu_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	case $t in *.d) continue ;; esac
	bins+=("$t")
done
[ ${#bins[@]} -eq 0 ] && fail_setup "no test binaries in $BUILD/cross/tests"
bash tests/run-unit.sh -l cross -w "$QEMU" -t 300 -k 40 -n "aarch64, under $QEMU" "${bins[@]}"
