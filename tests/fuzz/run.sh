#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time each and reports.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
#
# Target T is BUILD_DIR/fuzz_T, started from the seeds in tests/fuzz/corpus/T/ plus what
# earlier runs found (BUILD_DIR/corpus/T/, where new finds go; the committed seeds are
# never written). A run passes when the fuzzer exits 0 after its time and left no crash,
# leak, timeout or OOM artifact (BUILD_DIR/artifacts/T/). Per target: "PASS fuzz_T: ..."
# or "FAIL fuzz_T: ..." with the tail of its log; last line "fuzz: N passed, M failed".
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-jobs=4).
set -u

if [ $# -lt 3 ]; then
    echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
    exit 2
fi
BUILD=$1
SECS=$2
shift 2
SEEDS=tests/fuzz/corpus

passed=0
failed=0
for t in "$@"; do
    bin=$BUILD/fuzz_$t
    work=$BUILD/corpus/$t
    art=$BUILD/artifacts/$t
    log=$BUILD/fuzz_$t.log
    if [ ! -x "$bin" ]; then
        echo "FAIL fuzz_$t: $bin not built (make fuzz-build)"
        failed=$((failed + 1))
        continue
    fi
    mkdir -p "$work" "$art"
    rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*
    dirs=("$work")
    [ -d "$SEEDS/$t" ] && dirs+=("$SEEDS/$t")
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
    ncorpus=$(find "$work" -type f | wc -l)
    found=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | head -n 1)
    if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
        echo "PASS fuzz_$t: ${execs:-?} execs in ${SECS}s (${speed:-?}/s, ${cov:-cov: ?}, corpus $ncorpus)"
        passed=$((passed + 1))
    else
        echo "FAIL fuzz_$t: exit status $rc${found:+, artifact $found} (log $log)"
        grep -E 'ERROR|assertion failed|runtime error|SUMMARY|Test unit written' "$log" \
            | head -n 10 | sed 's/^/    /'
        if [ -n "$found" ]; then
            echo "    reproduce: $bin $found"
        fi
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
