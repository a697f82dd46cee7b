#!/usr/bin/env bash
# Build and run the emu differential test (x86-64 hosts only).
# Usage: tests/difftest/run.sh BUILD_DIR [difftest args...]   (default: quick mode, 2000 sequences)
set -eu
build=${1:-build}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(uname -m)" != x86_64 ]; then
	echo "difftest: skipped (needs an x86-64 host)"
	exit 0
fi
out="$build/difftest"
mkdir -p "$out"
CC=${CC:-cc}
FLAGS="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -fno-strict-aliasing -I$root/src -I$root/tests/difftest"
srcs="$root/src/accel/emu/*.c $root/src/arch/x86/cpu_state.c $root/src/arch/x86/cpuid.c"
# shellcheck disable=SC2086
$CC $FLAGS -o "$out/difftest" $srcs "$root"/tests/difftest/{difftest,native,gen,gen_alu,gen_ctl,gen_sse,gen_x87,enc,cover}.c -lm -latomic -lpthread
# shellcheck disable=SC2086
$CC $FLAGS -o "$out/emu-bench" $srcs "$root/tests/difftest/bench.c" -lm -latomic -lpthread
exec "$out/difftest" "$@"
