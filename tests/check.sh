#!/usr/bin/env bash
# make check: every test layer in order; each appends "layer passed failed" to $VMON_RESULTS.
# The last line is the total: "N passed, N failed".
set -u
BUILD=${1:-build}
export VMON_RESULTS="$BUILD/results.txt"
: >"$VMON_RESULTS"
rc=0
echo "== unit tests"
make --no-print-directory -s unit BUILD="$BUILD" || rc=1
echo "== emu differential test (random instruction sequences: host CPU vs emu)"
if out=$(bash tests/difftest/run.sh "$BUILD" --cover 2>&1); then
	echo "$out" | tail -3
	echo "difftest 1 0" >>"$VMON_RESULTS"
else
	echo "$out" | tail -40
	echo "difftest 0 1" >>"$VMON_RESULTS"
	rc=1
fi
echo "== cross: the emu core and its unit tests on aarch64 (cross-built, run under qemu-aarch64)"
make --no-print-directory -s cross-check BUILD="$BUILD" || rc=1
echo "== fuzz: each libFuzzer harness briefly (ASan/UBSan), over its corpus and saved reproducers"
bash tests/run-fuzz.sh "$BUILD" "${VMON_FUZZ_SECONDS:-10}" || rc=1
echo "== guest tests"
bash tests/run-guests.sh "$BUILD" || rc=1
echo "== integration tests"
bash tests/run-integration.sh "$BUILD" || rc=1
pass=0 fail=0
while read -r _ p f; do
	pass=$((pass + p)); fail=$((fail + f))
done <"$VMON_RESULTS"
echo "== summary"
sed 's/^/   /' "$VMON_RESULTS"
[ $fail -ne 0 ] && rc=1
echo "$pass passed, $fail failed"
exit $rc
