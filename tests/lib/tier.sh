# Helpers the live-VM tiers share (sourced by tests/api/run.sh, tests/api/fc_compat.sh
# and tests/fleet/run.sh): PASS/FAIL lines with counters for the tier's summary, and
# polling with a timeout.
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s; 0 once it succeeds, 1 at timeout.
wait_for() {
    local limit=$(( $1 * 10 )) i=0
    shift
    while [ $i -lt $limit ]; do
        "$@" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
