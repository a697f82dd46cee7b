#!/usr/bin/env bash
# Install the Debian packages vmon needs, when missing. Usage: mk/deps.sh build|test|bench|cross
# Runs apt-get as root (or through sudo); without either it only reports what is missing.
# cross: the aarch64 cross compiler, qemu-user and cmocka for arm64 (Debian multiarch; the arm64
# architecture is added to dpkg when it is not there yet), for `make cross-check`.
set -euo pipefail
what=${1:-build}
pkgs=(gcc make binutils libc6-dev)
case "$what" in
build) pkgs+=(libcmocka-dev liburing-dev libslirp-dev cpio lz4 python3-pytest qemu-system-x86 e2fsprogs iputils-ping clang libclang-rt-14-dev) ;;
bench) pkgs+=(libcmocka-dev liburing-dev libslirp-dev cpio lz4 python3-pytest qemu-system-x86 time) ;;
cross) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libcmocka-dev:arm64) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "vmon: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	SUDO=sudo
else
	echo "vmon: cannot install as non-root without sudo; please install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ "$what" = cross ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	echo "vmon: adding the arm64 architecture to dpkg (multiarch, for libcmocka-dev:arm64)"
	$SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
