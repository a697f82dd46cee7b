#!/usr/bin/env bash
# make bench: benchmarks side by side with QEMU from Debian.
set -u
BUILD=${1:-build}
if [ ! -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "bench: SKIPPED startup: /dev/kvm not available"
else
	/usr/bin/python3 bench/startup.py "$BUILD"
fi
