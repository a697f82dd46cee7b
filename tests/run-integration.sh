#!/usr/bin/env bash
# Integration tests (pytest): run vmon as a user would. Appends "integration P F" to
# $VMON_RESULTS.
set -u
BUILD=$(cd "${1:-build}" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
xml="$BUILD/pytest.xml"
rm -f "$xml"
VMON_BUILD="$BUILD" "$PYTHON" -m pytest -q -rs -p no:cacheprovider --junitxml="$xml" \
	tests/integration
rc=$?
read -r p f s < <("$PYTHON" - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1, 0); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f, sk)
PY
)
echo "integration: $p passed, $f failed, $s skipped"
[ -n "${VMON_RESULTS:-}" ] && echo "integration $p $f" >>"$VMON_RESULTS"
# pytest exits 5 when it collected nothing; that is not a failure of the suite.
[ $rc -eq 0 ] || [ $rc -eq 5 ]
