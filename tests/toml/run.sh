#!/usr/bin/env bash
# TOML conformance: every toml-test vector that applies to TOML 1.0.0, through toml2json.
#
#   tests/toml/run.sh [TOML2JSON]        (default build/tests/toml/toml2json)
#
# The vectors come from ${TOML_TEST_DIR:-../shared/toml-test} (relative to the repository
# root); its files-toml-1.0.0 names them. valid/X.toml must parse and match valid/X.json
# (compared semantically by toml2json --compare); invalid/X.toml must be rejected with a
# parse error (exit 1; a crash is a failure too). Prints a line per failure, then
# "toml-test valid: A/B, invalid: C/D" and "toml-test: N passed, M failed"; exit status 0
# only if nothing failed. TOML_TEST_TIMEOUT (seconds, default 10) bounds each vector.
set -u

cd "$(dirname "$0")/../.." || exit 2
BIN=${1:-build/tests/toml/toml2json}
DIR=${TOML_TEST_DIR:-../shared/toml-test}
LIST=$DIR/files-toml-1.0.0
TIMEOUT=${TOML_TEST_TIMEOUT:-10}

if [ ! -x "$BIN" ]; then
    echo "FAIL: $BIN is missing (make check-toml builds it)"
    echo "toml-test: 0 passed, 1 failed"
    exit 1
fi
if [ ! -r "$LIST" ]; then
    echo "FAIL: $LIST not found (set TOML_TEST_DIR to the toml-test suite)"
    echo "toml-test: 0 passed, 1 failed"
    exit 1
fi

run() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 2 "$TIMEOUT" "$@"
    else
        "$@"
    fi
}

vpass=0 vtotal=0 ipass=0 itotal=0
while IFS= read -r f || [ -n "$f" ]; do
    case "$f" in
    valid/*.toml)
        vtotal=$((vtotal + 1))
        json=${f%.toml}.json
        out=$(run "$BIN" --compare "$DIR/$json" "$DIR/$f" 2>&1)
        rc=$?
        if [ "$rc" -eq 0 ]; then
            vpass=$((vpass + 1))
        else
            case $rc in
            1) why="rejected" ;;
            3) why="wrong result" ;;
            124|137) why="timed out" ;;
            *) why="exit status $rc" ;;
            esac
            echo "FAIL $f: $why: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
        fi
        ;;
    invalid/*.toml)
        itotal=$((itotal + 1))
        out=$(run "$BIN" "$DIR/$f" 2>&1 >/dev/null)
        rc=$?
        if [ "$rc" -eq 1 ]; then
            ipass=$((ipass + 1))
        elif [ "$rc" -eq 0 ]; then
            echo "FAIL $f: accepted"
        else
            echo "FAIL $f: exit status $rc (crash or timeout): $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"
        fi
        ;;
    esac
done <"$LIST"

passed=$((vpass + ipass))
failed=$((vtotal - vpass + itotal - ipass))
if [ $((vtotal + itotal)) -eq 0 ]; then
    echo "FAIL: $LIST names no vectors"
    failed=1
fi
echo "toml-test valid: $vpass/$vtotal, invalid: $ipass/$itotal"
echo "toml-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
