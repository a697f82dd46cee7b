#!/usr/bin/env bash
# Fuzz layer: build the libFuzzer harnesses (make fuzz) and run each $BUILD/fuzz/fuzz_NAME for
# SECONDS on a scratch copy of its seed corpus fuzz/corpus/NAME (the repository is never written)
# plus the saved reproducers in fuzz/crashes/NAME. Per-harness libFuzzer flags come from
# fuzz/fuzz_NAME.options ("key = value" lines under [libfuzzer]) and fuzz/fuzz_NAME.dict.
# Prints "fuzz: fuzz_NAME: PASS (N execs)" or FAIL with the end of the crash log (the crashing
# input is kept in $BUILD/fuzz/artifacts/), then "fuzz: N passed, N failed".
# Usage: tests/run-fuzz.sh BUILD_DIR [SECONDS]   (SECONDS defaults to $VMON_FUZZ_SECONDS or 10)
# The mutation seed is fixed ($VMON_FUZZ_SEED, default 1) so that make check tests the same inputs
# on every run; to hunt for new bugs, run longer with other seeds (VMON_FUZZ_SEED=N make fuzz-run).
# Appends "fuzz passed failed" to $VMON_RESULTS when set; exits non-zero on any failure. Without
# clang or libFuzzer it prints "SKIPPED: fuzz: <reason>" and exits 0.
set -u
BUILD=${1:-build}
SECS=${2:-${VMON_FUZZ_SECONDS:-10}}
SEED=${VMON_FUZZ_SEED:-1}
CC=${FUZZ_CC:-clang}
cd "$(dirname "$0")/.." || exit 1

skip() {
	echo "SKIPPED: fuzz: $1"
	exit 0
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmon-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT

# Toolchain probe: clang with the libFuzzer runtime and both sanitizers.
command -v "$CC" >/dev/null 2>&1 || skip "$CC not found (needs clang and libclang-rt-dev)"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$scratch/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined -o "$scratch/probe" "$scratch/probe.c" \
	>"$scratch/probe.log" 2>&1; then
	skip "$CC cannot link -fsanitize=fuzzer,address,undefined (libFuzzer runtime missing?): $(head -n 1 "$scratch/probe.log")"
fi

# Symbolized stack traces need llvm-symbolizer; Debian keeps it versioned outside PATH.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null 2>&1; then
	for s in /usr/lib/llvm-*/bin/llvm-symbolizer; do
		[ -x "$s" ] && export ASAN_SYMBOLIZER_PATH=$s
	done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# LeakSanitizer cannot run where ptrace is forbidden (some containers): then do without it.
if "$scratch/probe" -runs=1 2>&1 | grep -q 'LeakSanitizer has encountered a fatal error'; then
	echo "fuzz: LeakSanitizer does not work here; running without leak detection"
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi

results() {
	[ -n "${VMON_RESULTS:-}" ] && echo "fuzz $1 $2" >>"$VMON_RESULTS"
	return 0
}

if ! make --no-print-directory fuzz BUILD="$BUILD" >"$scratch/build.log" 2>&1; then
	tail -n 30 "$scratch/build.log"
	echo "fuzz: build failed"
	echo "fuzz: 0 passed, 1 failed"
	results 0 1
	exit 1
fi

pass=0 fail=0
for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	short=${name#fuzz_}
	work="$scratch/$name"
	mkdir -p "$work/corpus" "$work/artifacts"
	[ -d "fuzz/corpus/$short" ] && cp -R "fuzz/corpus/$short/." "$work/corpus/"
	args=(-seed="$SEED" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$work/artifacts/")
	if [ -f "fuzz/$name.options" ]; then
		while IFS='=' read -r key val; do
			key=$(echo "$key" | tr -d '[:space:]')
			val=$(echo "$val" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
			case $key in '' | '#'* | ';'* | '['*) continue ;; esac
			args+=("-$key=$val")
		done <"fuzz/$name.options"
	fi
	[ -f "fuzz/$name.dict" ] && args+=(-dict="fuzz/$name.dict")
	dirs=("$work/corpus")
	[ -d "fuzz/crashes/$short" ] && dirs+=("fuzz/crashes/$short")

	timeout $((SECS * 3 + 120)) "$bin" "${args[@]}" "${dirs[@]}" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "fuzz: $name: PASS (${execs:-0} execs)"
		continue
	fi
	fail=$((fail + 1))
	[ $rc -eq 124 ] && echo "fuzz: $name: hung (killed after $((SECS * 3 + 120)) s)"
	tail -n 40 "$work/log" | sed 's/^/    /'
	kept=""
	if [ -n "$(ls -A "$work/artifacts")" ]; then
		mkdir -p "$BUILD/fuzz/artifacts/$name"
		cp "$work/artifacts/"* "$BUILD/fuzz/artifacts/$name/"
		kept=", input kept in $BUILD/fuzz/artifacts/$name/"
	fi
	echo "fuzz: $name: FAIL (exit $rc$kept; reproduce with $bin FILE)"
done
echo "fuzz: $pass passed, $fail failed"
results $pass $fail
[ $fail -eq 0 ]
