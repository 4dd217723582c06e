#!/usr/bin/env bash
# Installs the Debian 12 packages Ember's build and tests need, only those missing.
# Usage: scripts/deps.sh [build|test|check-build]
#   build: what `make` needs (compiler, jansson); test: everything the tests need;
#   check-build: install nothing, say in one line what `make` lacks (the Makefile runs it).
set -euo pipefail

what=${1:-test}
pkgs=(gcc make libc6-dev libjansson-dev)
if [ "$what" = test ]; then
	# clang + its runtime: libFuzzer targets. qemu/busybox/cpio/xz: the nested test host.
	# acpica-tools: ACPICA's disassembler and interpreter check Ember's ACPI tables.
	pkgs+=(clang libclang-rt-14-dev qemu-system-x86 busybox-static cpio xz-utils gzip
	       procps util-linux python3 iproute2 curl e2fsprogs acpica-tools)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$what" = check-build ]; then
	echo "ember: cannot build: missing Debian package(s) ${missing[*]}; install with: sudo apt-get install -y ${missing[*]} (or run scripts/deps.sh build as root)" >&2
	exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "ember: missing Debian packages: ${missing[*]}" >&2
	echo "ember: install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "ember: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
