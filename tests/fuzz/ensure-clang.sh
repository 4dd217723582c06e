#!/usr/bin/env bash
# Makes sure clang can build a libFuzzer binary; on Debian, installs clang and the
# compiler-rt libraries (libclang-rt-14-dev on Debian 12) when they are missing.
#
#   tests/fuzz/ensure-clang.sh [CC]
set -u
CC=${1:-clang}

probe() {
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ember-fuzz-probe.XXXXXX") || return 1
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$dir/probe.c"
    "$CC" -fsanitize=fuzzer,address,undefined -o "$dir/probe" "$dir/probe.c" >/dev/null 2>&1
    local rc=$?
    rm -rf "$dir"
    return $rc
}

if command -v "$CC" >/dev/null 2>&1 && probe; then
    exit 0
fi

echo "fuzz: $CC cannot build libFuzzer binaries; installing clang and libFuzzer" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: no apt-get here: install clang with compiler-rt (libFuzzer) by hand" >&2
    exit 1
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "fuzz: not root and no sudo: run 'apt-get install clang libclang-rt-14-dev' as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2 || exit 1
# Debian 12 ships clang 14; its libFuzzer is in libclang-rt-14-dev. Newer releases name
# the package after their clang version, which libclang-rt-dev (the default) pulls in.
if ! $SUDO apt-get install -y -q clang libclang-rt-14-dev >&2; then
    $SUDO apt-get install -y -q clang libclang-rt-dev >&2 || exit 1
fi
if ! probe; then
    echo "fuzz: $CC still cannot link -fsanitize=fuzzer after installing" >&2
    exit 1
fi
