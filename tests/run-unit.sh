#!/usr/bin/env bash
# Run each cmocka unit-test binary; print a per-binary summary and a totals line.
# Usage: tests/run-unit.sh [OPTIONS] BIN...
#   -l LABEL    the layer's name in the output and the results line (default: unit)
#   -w COMMAND  run each binary as COMMAND BIN (e.g. an emulator; word-split)
#   -t SECONDS  kill a binary that runs longer (reported as hung)
#   -n NOTE     shown after each binary's result, e.g. the target: "N passed (NOTE)"
#   -k LINES    on a failure print only the last LINES lines of its output (default: all)
# Prints "LABEL: BIN: N passed" or "LABEL: BIN: FAILED" (with the output) per binary, then
# "LABEL: N passed, N failed"; appends "LABEL passed failed" to $VMON_RESULTS if set; exits
# non-zero on any failure. tests/run-cross.sh runs the aarch64 build through it.
set -u
label=unit wrap='' tmo='' note='' keep=''
while getopts l:w:t:n:k: opt; do
	case $opt in
	l) label=$OPTARG ;;
	w) wrap=$OPTARG ;;
	t) tmo=$OPTARG ;;
	n) note=$OPTARG ;;
	k) keep=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

pass=0 fail=0
for t in "$@"; do
	# shellcheck disable=SC2086 # $wrap is a command line
	out=$(${tmo:+timeout "$tmo"} $wrap "$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | grep -c '^\[       OK \]')
	f=$(printf '%s\n' "$out" | grep -c '^\[  FAILED  \]')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc -ne 0 ]; then
		if [ -n "$keep" ]; then
			printf '%s\n' "$out" | tail -n "$keep"
		else
			printf '%s\n' "$out"
		fi
		[ -n "$tmo" ] && [ $rc -eq 124 ] &&
			echo "$label: $(basename "$t"): hung (killed after $tmo s)"
		echo "$label: $(basename "$t"): FAILED${note:+ ($note)}"
	else
		echo "$label: $(basename "$t"): $p passed${note:+ ($note)}"
	fi
done
echo "$label: $pass passed, $fail failed"
[ -n "${VMON_RESULTS:-}" ] && echo "$label $pass $fail" >>"$VMON_RESULTS"
[ $fail -eq 0 ]
