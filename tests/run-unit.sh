#!/usr/bin/env bash
# Run each cmocka unit-test binary; print a per-binary summary and a totals file line.
# Usage: tests/run-unit.sh BIN... ; writes "passed failed" to $VMON_RESULTS if set.
set -u
pass=0 fail=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | grep -c '^\[       OK \]')
	f=$(printf '%s\n' "$out" | grep -c '^\[  FAILED  \]')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -ne 0 ]; then
		printf '%s\n' "$out"
		echo "unit: $(basename "$t"): FAILED"
	else
		echo "unit: $(basename "$t"): $p passed"
	fi
done
echo "unit: $pass passed, $fail failed"
[ -n "${VMON_RESULTS:-}" ] && echo "unit $pass $fail" >>"$VMON_RESULTS"
[ $fail -eq 0 ]
