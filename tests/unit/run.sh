#!/usr/bin/env bash
# Tier 1: run the unit test binaries and add up their results.
#
#   tests/unit/run.sh BUILD_DIR BIN...
#
# Each binary prints "PASS name" / "FAIL name: file:line: detail" per test and a summary
# "<binary>: N passed, M failed". A binary that dies (signal, sanitizer report, exit without
# its summary, or a non-zero exit its summary does not explain) counts as one more failure,
# reported as "CRASH". UNIT_TEST_TIMEOUT (seconds, default 120) bounds each binary; a hang
# is a crash. The last line is exactly "unit: N passed, M failed"; the exit status is 0
# only if nothing failed.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR BIN..." >&2
    exit 2
fi
BUILD_DIR=$1
shift
TIMEOUT=${UNIT_TEST_TIMEOUT:-120}

# Sanitizer builds: fail loudly with stacks, and catch leaks where the host allows it.
case "$BUILD_DIR" in
*asan*)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}
    ;;
esac

passed=0
failed=0
crashed=0

if [ $# -eq 0 ]; then
    echo "CRASH: no unit test binaries given (is tests/unit/test_*.c empty?)"
    echo "unit: 0 passed, 1 failed"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-unit.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

for bin in "$@"; do
    name=$(basename "$bin")
    out=$TMP/$name.out
    if [ ! -x "$bin" ]; then
        echo "CRASH $name: $bin is missing or not executable"
        failed=$((failed + 1))
        crashed=$((crashed + 1))
        continue
    fi
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 5 "$TIMEOUT" "$bin" >"$out"
    else
        "$bin" >"$out"
    fi
    rc=$?
    cat "$out"
    summary=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed\$" "$out" | tail -n 1)
    if [ -z "$summary" ]; then
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            why="timed out after ${TIMEOUT}s"
        elif [ "$rc" -gt 128 ]; then
            why="killed by signal $((rc - 128))"
        else
            why="exited with status $rc without its summary line"
        fi
        # Tests that finished before the crash still count.
        p=$(grep -c '^PASS ' "$out")
        f=$(grep -c '^FAIL ' "$out")
        echo "CRASH $name: $why (after $p passed, $f failed; see the output above)"
        passed=$((passed + p))
        failed=$((failed + f + 1))
        crashed=$((crashed + 1))
        continue
    fi
    p=$(echo "$summary" | sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
    f=$(echo "$summary" | sed -E 's/^.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "CRASH $name: exit status $rc although every test passed (leak or sanitizer report at exit?)"
        failed=$((failed + 1))
        crashed=$((crashed + 1))
    fi
done

if [ "$crashed" -gt 0 ]; then
    echo "!!! $crashed unit test binar$([ "$crashed" -eq 1 ] && echo y || echo ies) CRASHED !!!"
fi
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
